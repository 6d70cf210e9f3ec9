"""The ``plan`` use case: load the config, connect, read what it needs and
plan; with ``--out``, save the plan. ``apply`` and ``drift`` plan the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from konvsync.api.client import PortalClient
from konvsync.api.connect import PortalTarget
from konvsync.api.options import ConnectionOptions
from konvsync.app.portal import portal_target
from konvsync.app.reading import create_plan
from konvsync.config.loader import load_config
from konvsync.config.model import DesiredState
from konvsync.plan.planfile import write_planfile
from konvsync.plan.planner import PlanOptions, PlanOutcome, ProgressCallback
from konvsync.support import aio
from konvsync.support.gcpause import gc_paused

ConfigPaths = str | Sequence[str]
"""One config path, or several where later ones override (``config.overlay``)."""
LoadedCallback = Callable[[list[str]], None]
"""Called with the files a config was read from, once it is loaded."""


def plan_config(
    path: ConfigPaths,
    connection: ConnectionOptions,
    options: PlanOptions,
    out_file: str | None = None,
    on_page: ProgressCallback | None = None,
    on_loaded: LoadedCallback | None = None,
) -> PlanOutcome:
    desired, outcome = planned(path, connection, options, on_page, on_loaded)
    if out_file:
        write_planfile(out_file, outcome, desired.digest, desired.policy, desired.sensitive_env)
    return outcome


def planned(
    path: ConfigPaths,
    connection: ConnectionOptions,
    options: PlanOptions,
    on_page: ProgressCallback | None,
    on_loaded: LoadedCallback | None = None,
) -> tuple[DesiredState, PlanOutcome]:
    """Load the config, connect, read what it needs and plan."""
    desired = load_config(path, allow_external_refs=True)
    if on_loaded is not None:
        on_loaded(desired.files)
    with portal_target(connection, desired.endpoint) as target:

        async def run() -> PlanOutcome:
            async with target.client() as client:
                return await plan_with(client, target, desired, options, on_page)

        return desired, aio.run(run())


async def plan_with(
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
