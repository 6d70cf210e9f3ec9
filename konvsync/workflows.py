"""The use cases behind ``plan``, ``apply`` and ``export``: config -> portal
-> plan -> (confirm) -> apply. The CLI supplies the callbacks that talk to
the user."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from konvsync import aio
from konvsync.api.client import PortalClient
from konvsync.api.connect import PortalTarget
from konvsync.api.options import ConnectionOptions
from konvsync.config.model import DesiredState
from konvsync.errors import UsageError
from konvsync.gcpause import gc_paused
from konvsync.plan.changes import Plan
from konvsync.plan.planner import (
    PlanOptions,
    PlanOutcome,
    ProgressCallback,
)
from konvsync.plan.remote import RemoteState
from konvsync.portal import portal_target
from konvsync.reading import create_plan, read_remote

if TYPE_CHECKING:
    # Imported where used: ``plan`` sends its first request sooner without them.
    from konvsync.apply_model import ApplyOptions, ApplyReport, Progress
    from konvsync.drift.model import DriftReport
    from konvsync.export import ExportResult


INTERRUPT_GRACE_SECONDS = 10.0
"""After Ctrl-C or SIGTERM, how long apply waits for requests in flight."""
InterruptCallback = Callable[[str, float], None]
"""(signal name, seconds apply waits for requests in flight: 0 after a
second signal)"""
ConfigPaths = str | Sequence[str]
"""One config path, or several where later ones override (``config.overlay``)."""


@dataclass
class ApplyResult:
    plan: Plan
    report: ApplyReport | None
    """None when there was nothing to do."""


def export_state(
    connection: ConnectionOptions,
    kind_names: list[str],
    out_dir: str | None,
    on_page: ProgressCallback | None = None,
    force: bool = False,
    target_object: str | None = None,
) -> ExportResult:
    """Read the portal and render it as konvsync YAML; with ``out_dir``,
    write one file per kind (all written to temporary names first, then
    renamed, so a failure leaves no half-written export). A folder holding
    configuration is refused unless ``force`` (see ``export_files``);
    ``target_object`` (KIND/KEY) renders that one object."""
    from konvsync.export import export_object, export_portal, parse_target
    from konvsync.export_files import check_out_dir, keep_policy, leftover_warnings

    if target_object is not None:
        parse_target(target_object)  # a usage error before connecting
    found = check_out_dir(Path(out_dir), force) if out_dir else []
    with portal_target(connection, None) as target:

        async def run() -> ExportResult:
            async with target.client() as client:
                if target_object is not None:
                    return await export_object(client, target_object)
                return await export_portal(client, kind_names, target.endpoint.name, on_page)

        with gc_paused():
            result = aio.run(run())
    if out_dir:
        from konvsync.files import write_files

        result.files = keep_policy(Path(out_dir), result.files)
        result.warnings += leftover_warnings(Path(out_dir), found, list(result.files))
        write_files({Path(out_dir) / name: text for name, text in result.files.items()})
    return result


def plan_config(
    path: ConfigPaths,
    connection: ConnectionOptions,
    options: PlanOptions,
    out_file: str | None = None,
    on_page: ProgressCallback | None = None,
) -> PlanOutcome:
    desired, outcome = _planned(path, connection, options, on_page)
    if out_file:
        from konvsync.plan.planfile import write_planfile

        write_planfile(out_file, outcome, desired.digest, desired.policy, desired.sensitive_env)
    return outcome


def _planned(
    path: ConfigPaths,
    connection: ConnectionOptions,
    options: PlanOptions,
    on_page: ProgressCallback | None,
) -> tuple[DesiredState, PlanOutcome]:
    """Load the config, connect, read what it needs and plan."""
    from konvsync.config.loader import load_config

    desired = load_config(path, allow_external_refs=True)
    with portal_target(connection, desired.endpoint) as target:

        async def run() -> PlanOutcome:
            async with target.client() as client:
                return await _plan(client, target, desired, options, on_page)

        return desired, aio.run(run())


async def _plan(
    client: PortalClient,
    target: PortalTarget,
    desired: DesiredState,
    options: PlanOptions,
    on_page: ProgressCallback | None,
) -> PlanOutcome:
    # The collector paused while the portal is read and normalized: it
    # would rescan the objects built again and again (gcpause: loading
    # tripled without the pause; the frozen state saves 60 ms per later
    # collection in a 10,000-user plan). aio.run boxes the result (120 ms
    # of repr() in asyncio.run's signal restore for 10,000 users).
    with gc_paused():
        return await create_plan(client, desired, target.endpoint.name, options, on_page)


def apply_path(
    path: ConfigPaths,
    connection: ConnectionOptions,
    plan_options: PlanOptions,
    apply_options: ApplyOptions,
    confirm: Callable[[Plan], None],
    on_page: ProgressCallback | None = None,
    progress: Progress | None = None,
    on_interrupt: InterruptCallback | None = None,
) -> ApplyResult:
    """Apply a config (plan, ``confirm`` raises to stop, apply) or a saved
    plan file (re-read what it touches, refuse if stale, apply unasked).
    ``--target`` is refused with a saved plan: it is applied as reviewed."""
    from konvsync.plan.planfile import is_planfile

    if isinstance(path, str) or len(path) == 1:
        single = path if isinstance(path, str) else path[0]
        if is_planfile(single):
            if plan_options.targets:
                raise UsageError(
                    "--target cannot be used with a saved plan: a plan file is applied exactly "
                    "as reviewed. Make a targeted plan instead: konvsync plan PATH --target ... "
                    "--out FILE"
                )
            return _apply_saved(single, connection, apply_options, on_page, progress, on_interrupt)
    elif any(is_planfile(one) for one in path):
        raise UsageError("a saved plan file is applied alone, not with config paths")
    from konvsync.config.loader import load_config

    desired = load_config(path, allow_external_refs=True)
    with portal_target(connection, desired.endpoint) as target:

        async def run() -> ApplyResult:
            async with target.client() as client:
                outcome = await _plan(client, target, desired, plan_options, on_page)
                if not outcome.plan.has_changes:
                    return ApplyResult(outcome.plan, None)
                _ask(confirm, outcome.plan)
                policy = desired.policy
                options = replace(apply_options, send_welcome_email=policy.send_welcome_email)
                report = await _execute(
                    client, outcome.remote, outcome.plan, options, progress, on_interrupt
                )
                return ApplyResult(outcome.plan, report)

        return aio.run(run())


def _ask(confirm: Callable[[Plan], None], plan: Plan) -> None:
    """Ask for confirmation inside the event loop with Ctrl-C raising
    KeyboardInterrupt (the prompt turns it into a refusal). asyncio's own
    SIGINT handler would only cancel the task and leave the prompt waiting
    for a line."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: signals are not ours to set
        confirm(plan)
        return
    try:
        confirm(plan)
    finally:
        signal.signal(signal.SIGINT, previous)


def _apply_saved(
    path: str,
    connection: ConnectionOptions,
    apply_options: ApplyOptions,
    on_page: ProgressCallback | None,
    progress: Progress | None,
    on_interrupt: InterruptCallback | None,
) -> ApplyResult:
    from konvsync.plan.planfile import check_fresh, read_planfile
    from konvsync.plan.renames import renamed_view, renames_in

    saved = read_planfile(path)
    plan = saved.with_sensitive_values()  # before connecting: refused means nothing sent
    options = replace(apply_options, send_welcome_email=saved.send_welcome_email)
    with portal_target(connection, saved.endpoint) as target:

        async def run() -> ApplyResult:
            async with target.client() as client:
                current = await read_remote(client, saved.read_kinds, on_page)
                remote = renamed_view(current, renames_in(saved.plan.changes))
                check_fresh(saved, target.endpoint.name, remote)
                if not plan.has_changes:
                    return ApplyResult(plan, None)
                report = await _execute(client, remote, plan, options, progress, on_interrupt)
                return ApplyResult(plan, report)

        return aio.run(run())


async def _execute(
    client: PortalClient,
    remote: RemoteState,
    plan: Plan,
    options: ApplyOptions,
    progress: Progress | None,
    on_interrupt: InterruptCallback | None = None,
) -> ApplyReport:
    """Run the plan. Ctrl-C or SIGTERM (what CI sends on cancel): no new work
    is sent, requests in flight get ``INTERRUPT_GRACE_SECONDS`` to finish,
    and the report says what was done; a second signal stops waiting at once."""
    from konvsync.apply import PlanExecutor
    from konvsync.apply_model import Interrupted

    stop = Interrupted()
    loop = asyncio.get_running_loop()
    executor = PlanExecutor(client, remote, options, progress, stop)
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

    with _signals_call(loop, interrupted):
        try:
            return await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this coroutine itself was cancelled
            return executor.abandon(plan)


@contextmanager
def _signals_call(
    loop: asyncio.AbstractEventLoop, handler: Callable[[str], None]
) -> Iterator[None]:
    """SIGINT and SIGTERM call ``handler`` (with the signal's name) inside the
    block; the handlers from before are restored after it."""
    installed: list[tuple[signal.Signals, Any]] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler, sig.name)
            installed.append((sig, previous))
    try:
        yield
    finally:
        for sig, previous in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)


def drift_config(
    path: str,
    connection: ConnectionOptions,
    options: PlanOptions,
    include_unmanaged: bool = False,
    write: bool = False,
    on_page: ProgressCallback | None = None,
) -> DriftReport:
    """Plan as ``plan`` does (same reads, same rules), report the differences
    from the portal's side, and with ``write`` accept them into the YAML."""
    from konvsync.drift.detect import drift_report
    from konvsync.plan.planner import parse_targets

    desired, outcome = _planned(path, connection, options, on_page)
    report = drift_report(outcome, desired, parse_targets(options.targets), include_unmanaged)
    if write:
        from konvsync.drift.model import WriteResult
        from konvsync.drift.writeback import accept_drift

        report.written = (
            accept_drift(report, desired, outcome.remote) if report.has_drift else WriteResult()
        )
    return report
