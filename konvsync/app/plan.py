"""The ``plan`` use case: load the config, connect, read what it needs and
plan; with ``--out``, save the plan. ``apply`` and ``drift`` plan the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

from konvsync.api.client import PortalClient, Response
from konvsync.api.connect import PortalTarget
from konvsync.api.options import ConnectionOptions
from konvsync.app.portal import early_target, portal_target
from konvsync.app.reading import create_plan, viewer_request
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
    config = LoadingConfig(path, connection, on_loaded)
    with config.target() as target:

        async def run() -> tuple[DesiredState, PlanOutcome]:
            async with target.client() as client:
                desired, viewer = await config.take(client)
                return desired, await plan_with(client, target, desired, options, on_page, viewer)

        return aio.run(run())


class LoadingConfig:
    """The config of a command that plans: loaded first (``on_loaded`` is
    called before the endpoint is resolved), or, when the options alone say
    where to connect (``early_target``), loaded while the token request and
    the viewer query go out (``load_while_connecting``)."""

    def __init__(
        self, path: ConfigPaths, connection: ConnectionOptions, on_loaded: LoadedCallback | None
    ) -> None:
        self.path, self.connection, self.on_loaded = path, connection, on_loaded
        self.early = early_target(connection)
        self.loaded: DesiredState | None = None
        if self.early is None:
            self.loaded = load_config(path, allow_external_refs=True)
            if on_loaded is not None:
                on_loaded(self.loaded.files)

    def target(self) -> AbstractContextManager[PortalTarget]:
        """Where to connect: the options' portal, or the loaded config's."""
        if self.early is not None:
            return nullcontext(self.early)
        return portal_target(self.connection, self.loaded.endpoint if self.loaded else None)

    async def take(self, client: PortalClient) -> tuple[DesiredState, Awaitable[Response] | None]:
        """The config and, when it loads now, the viewer's answer to await.
        Taken once: this keeps no reference to it (apply frees it before
        the run)."""
        if self.loaded is None:
            return await load_while_connecting(client, self.path, self.on_loaded)
        desired, self.loaded = self.loaded, None
        return desired, None


async def load_while_connecting(
    client: PortalClient, path: ConfigPaths, on_loaded: LoadedCallback | None = None
) -> tuple[DesiredState, Awaitable[Response]]:
    """The config, loaded in a worker thread while the token request and
    the viewer query (which every plan sends) go out; the viewer's answer
    is awaited by the reads. A config problem still wins: the query is
    cancelled and the problem raised. (10,000 users at 20 ms: the first
    request leaves after 0.28 s of CPU, once konvsync is imported, instead
    of after the config's 0.3 s of loading; see benchmarks/sync_bench.py.)"""
    viewer = asyncio.ensure_future(viewer_request(client))
    try:
        desired = await asyncio.to_thread(load_config, path, allow_external_refs=True)
    except BaseException:
        viewer.cancel()
        await asyncio.gather(viewer, return_exceptions=True)
        raise
    if on_loaded is not None:
        on_loaded(desired.files)
    return desired, viewer


async def plan_with(
    client: PortalClient,
    target: PortalTarget,
    desired: DesiredState,
    options: PlanOptions,
    on_page: ProgressCallback | None,
    viewer: Awaitable[Response] | None = None,
) -> PlanOutcome:
    # The collector paused while the portal is read and normalized: it
    # would rescan the objects built again and again (gcpause: loading
    # tripled without the pause; the frozen state saves 60 ms per later
    # collection in a 10,000-user plan). aio.run boxes the result (120 ms
    # of repr() in asyncio.run's signal restore for 10,000 users).
    with gc_paused():
        return await create_plan(client, desired, target.endpoint.name, options, on_page, viewer)
