"""The ``apply`` use case: a config (plan, confirm, apply) or a saved plan
file (re-read what it touches, refuse if stale, apply unasked). The CLI
supplies the callbacks that talk to the user."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from konvsync.api.client import PortalClient
from konvsync.api.endpoints import resolve_endpoint
from konvsync.api.options import ConnectionOptions
from konvsync.app.plan import ConfigPaths, LoadedCallback, LoadingConfig, plan_with
from konvsync.app.portal import portal_target
from konvsync.app.reading import read_remote
from konvsync.app.signals import prompt_signals, signals_call
from konvsync.apply.executor import PlanExecutor
from konvsync.apply.model import ApplyOptions, ApplyReport, Interrupted, Progress
from konvsync.errors import ApplyCancelled, UsageError
from konvsync.plan.changes import Plan
from konvsync.plan.planfile import (
    SavedPlan,
    as_shown,
    check_endpoint,
    check_fresh,
    is_planfile,
    read_planfile,
)
from konvsync.plan.planner import PlanOptions, ProgressCallback
from konvsync.plan.remote import RemoteState
from konvsync.plan.renames import renamed_view, renames_in
from konvsync.plan.scope import plan_scope
from konvsync.support import aio
from konvsync.support.gcpause import gc_paused

INTERRUPT_GRACE_SECONDS = 10.0
"""After Ctrl-C or SIGTERM, how long apply waits for requests in flight."""
InterruptCallback = Callable[[str, float], None]
"""(signal name, seconds apply waits for requests in flight: 0 after a
second signal)"""
ReportCallback = Callable[[Plan, ApplyReport, bool], None]
"""(the plan, the report so far, whether it must be written now): called
right before each step's changes are sent (True) and as answers arrive
(False), so that a record written as the apply goes never claims less than
was done."""


@dataclass
class ApplyResult:
    plan: Plan
    report: ApplyReport | None
    """None when there was nothing to do."""
    saved: bool = False
    """A saved plan file was applied: applied in part, the file is stale."""


def apply_path(
    path: ConfigPaths,
    connection: ConnectionOptions,
    plan_options: PlanOptions,
    apply_options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    on_page: ProgressCallback | None = None,
    progress: Progress | None = None,
    on_interrupt: InterruptCallback | None = None,
    on_loaded: LoadedCallback | None = None,
    on_report: ReportCallback | None = None,
    on_saved: Callable[[Plan], None] | None = None,
) -> ApplyResult:
    """Apply a config (plan, ``confirm`` raises to stop, apply) or a saved
    plan file (re-read what it touches, refuse if stale, apply unasked).
    ``confirm`` returns whether it asked someone: the portal is then read
    again, and the plan refused as stale if it moved while they read it.
    ``--target`` and the ``--allow-...`` rails are refused with a saved
    plan: it is applied as reviewed, its rails checked when it was made.
    ``on_saved``: given a saved plan as soon as it is read (what a report of
    an error before it runs counts)."""
    if isinstance(path, str) or len(path) == 1:
        single = path if isinstance(path, str) else path[0]
        if is_planfile(single):
            if plan_options.targets:
                raise UsageError(
                    "--target cannot be used with a saved plan: a plan file is applied exactly "
                    "as reviewed. Make a targeted plan instead: konvsync plan PATH --target ... "
                    "--out FILE"
                )
            allowed = _rails_allowed(plan_options)
            if allowed:
                raise UsageError(
                    f"{allowed} cannot be used with a saved plan: its rails were checked when "
                    f"it was made (a refused plan is not saved). Give it to plan: konvsync "
                    f"plan PATH {allowed} --out FILE"
                )
            return _apply_saved(
                single,
                connection,
                apply_options,
                on_page,
                progress,
                on_interrupt,
                on_report,
                on_saved,
            )
    elif any(is_planfile(one) for one in path):
        raise UsageError("a saved plan file is applied alone, not with config paths")
    config = LoadingConfig(path, connection, on_loaded)
    reading_again = False
    with config.target() as target:

        async def run() -> ApplyResult:
            nonlocal reading_again
            async with target.client() as client:
                desired, viewer = await config.take(client)
                outcome = await plan_with(client, target, desired, plan_options, on_page, viewer)
                policy = desired.policy
                # The plan holds what it needs of the config; its YAML tree
                # goes before the run (100,000 users: about 100 MB of the peak).
                del desired
                if not outcome.plan.has_changes:
                    return ApplyResult(outcome.plan, None)
                with prompt_signals():
                    asked = confirm(outcome.plan)
                if asked:
                    # A person takes seconds to minutes to answer, and in a
                    # shared portal another team may meanwhile put its user
                    # in an account the plan deletes (apply's checks before
                    # each step look at the objects the step changes, not at
                    # what refers to them): refused as a saved plan would be.
                    reading_again = True
                    shown = as_shown(outcome, target.endpoint.name)
                    await _fresh_remote(client, shown, target.endpoint.name, on_page, _AFTER_PROMPT)
                    reading_again = False
                options = replace(apply_options, send_welcome_email=policy.send_welcome_email)
                report = await _execute(
                    client, outcome.remote, outcome.plan, options, progress, on_interrupt, on_report
                )
                return ApplyResult(outcome.plan, report)

        try:
            return aio.run(run())
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM after 'yes', before anything is sent: said
            # as the prompt says it, not as a bare interruption.
            if not reading_again:
                raise
            raise ApplyCancelled(
                "Apply cancelled while the portal was read again after the prompt; "
                "nothing was changed."
            ) from None


_AFTER_PROMPT = "nothing was changed; run apply again"


async def _fresh_remote(
    client: PortalClient,
    saved: SavedPlan,
    endpoint: str,
    on_page: ProgressCallback | None,
    again: str = "run plan again",
) -> RemoteState:
    """The portal read again for ``saved`` (within the scope it was made
    for: what moved outside it is another configuration's, not a reason to
    refuse), as its renames see it; refused (``SavedPlanStale``, exit 3)
    when it moved away from the plan (``check_fresh``; ``again``: what the
    message tells to do)."""
    current = await read_remote(client, saved.read_kinds, on_page, plan_scope(saved.plan))
    remote = renamed_view(current, renames_in(saved.plan.changes))
    check_fresh(saved, endpoint, remote, again)
    return remote


def _rails_allowed(options: PlanOptions) -> str | None:
    """The first ``--allow-...`` option given (they act when a plan is made)."""
    given = {
        "--allow-mass-delete": options.allow_mass_delete,
        "--allow-mass-update": options.allow_mass_update,
        "--allow-welcome-emails": bool(options.allow_welcome_emails),
    }
    return next((name for name, on in given.items() if on), None)


def _apply_saved(
    path: str,
    connection: ConnectionOptions,
    apply_options: ApplyOptions,
    on_page: ProgressCallback | None,
    progress: Progress | None,
    on_interrupt: InterruptCallback | None,
    on_report: ReportCallback | None,
    on_saved: Callable[[Plan], None] | None,
) -> ApplyResult:
    saved = read_planfile(path)
    if on_saved is not None:
        on_saved(saved.plan)
    plan = saved.with_sensitive_values()  # before connecting: refused means nothing sent
    options = replace(apply_options, send_welcome_email=saved.send_welcome_email)
    # Before connecting: another endpoint may be down, or ``sandbox`` (a local file made).
    check_endpoint(
        saved, resolve_endpoint(connection.endpoint, saved.endpoint, connection.insecure_http).name
    )
    with portal_target(connection, saved.endpoint) as target:

        async def run() -> ApplyResult:
            async with target.client() as client:
                remote = await _fresh_remote(client, saved, target.endpoint.name, on_page)
                if not plan.has_changes:
                    return ApplyResult(plan, None)
                report = await _execute(
                    client, remote, plan, options, progress, on_interrupt, on_report
                )
                return ApplyResult(plan, report, saved=True)

        return aio.run(run())


async def _execute(
    client: PortalClient,
    remote: RemoteState,
    plan: Plan,
    options: ApplyOptions,
    progress: Progress | None,
    on_interrupt: InterruptCallback | None = None,
    on_report: ReportCallback | None = None,
) -> ApplyReport:
    """Run the plan. Ctrl-C or SIGTERM (what CI sends on cancel): no new work
    is sent, requests in flight get ``INTERRUPT_GRACE_SECONDS`` to finish,
    and the report says what was done; a second signal stops waiting at once."""
    stop = Interrupted()
    loop = asyncio.get_running_loop()
    checkpoint = partial(on_report, plan) if on_report is not None else None
    executor = PlanExecutor(client, remote, options, progress, stop, checkpoint)
    task = asyncio.ensure_future(executor.execute(plan))

    def interrupted(name: str) -> None:
        if stop.is_set:
            task.cancel()
            if on_interrupt is not None:
                on_interrupt(name, 0.0)
            return
        stop.set()
        loop.call_later(INTERRUPT_GRACE_SECONDS, task.cancel)
        if on_interrupt is not None:
            on_interrupt(name, INTERRUPT_GRACE_SECONDS)

    with signals_call(loop, interrupted), gc_paused():
        try:
            return await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this coroutine itself was cancelled
            return executor.abandon(plan)
