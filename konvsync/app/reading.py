"""Reading the portal for a plan: the kinds a config needs, page by page,
normalized as they arrive, and the portal's name; then the plan
(``plan.planner`` is pure: it never reads)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from konvsync.api.client import PortalClient, Response
from konvsync.api.operations import viewer_document
from konvsync.api.pagination import read_consistently, read_kinds
from konvsync.config.model import DesiredState
from konvsync.kinds import kind
from konvsync.plan.planner import (
    PlanOptions,
    PlanOutcome,
    ProgressCallback,
    kinds_to_read,
    plan_against,
)
from konvsync.plan.remote import RemoteScope, RemoteState, RemoteStateBuilder
from konvsync.plan.scope import remote_scope
from konvsync.plan.targets import parse_targets
from konvsync.support import aio


@dataclass
class RemoteRead:
    """What was read: the kinds, normalized page by page, and the portal's name."""

    builder: RemoteStateBuilder
    portal_name: str

    def state(self, kind_names: list[str]) -> RemoteState:
        state = self.builder.state(kind_names)
        state.portal_name = self.portal_name
        return state


async def read_nodes(
    client: PortalClient,
    kind_names: list[str],
    on_page: ProgressCallback | None = None,
    scope: RemoteScope | None = None,
    viewer: Awaitable[Response] | None = None,
) -> RemoteRead:
    """Read ``kind_names`` whole, page by page: the contract has no filter,
    so a ``scope`` sends the same requests and sets apart, as the pages
    arrive, what is outside it (``plan.scope``). ``viewer``: the portal's
    name query, already sent."""
    builder = RemoteStateBuilder(scope=scope)
    pages: list[tuple[str, list[dict[str, Any]]]] = []

    def add(kind_name: str, nodes: list[dict[str, Any]]) -> None:
        if scope is not None and scope.matches_through_renames:
            pages.append((kind_name, nodes))  # to sort again (below)
        builder.add(kind_name, nodes)

    nodes_task = read_kinds(client, [kind(n) for n in kind_names], on_page, add)
    viewer_task = viewer or viewer_request(client)
    _nodes, answer = await aio.gather(nodes_task, viewer_task)
    settled = scope.settled_by(builder.kinds) if scope is not None else None
    if settled is not None:
        # A rename the portal shows made: the old key names another object
        # now, whose referrers were matched as the renamed one's. The kinds
        # are read concurrently, so that is known only once all are read.
        builder = RemoteStateBuilder(scope=settled)
        for kind_name, nodes in pages:
            builder.add(kind_name, nodes)
    return RemoteRead(builder, answer.raise_for_errors("viewer")["viewer"]["portalName"])


def viewer_request(client: PortalClient) -> Awaitable[Response]:
    return client.execute(viewer_document(), label="Viewer")


async def read_remote(
    client: PortalClient,
    kind_names: list[str],
    on_page: ProgressCallback | None = None,
    scope: RemoteScope | None = None,
    viewer: Awaitable[Response] | None = None,
) -> RemoteState:
    """``kind_names`` read whole, and the portal's name. A read in which an
    object refers to one that the read of its kind did not show
    (``RemoteState.check_references_shown``: the portal changed between the
    reads) or that does not add up (``ReadCheck``) is made again, up to
    ``READ_ATTEMPTS`` reads (``read_consistently``); ``viewer`` serves the
    first read only."""

    async def read() -> RemoteState:
        nonlocal viewer
        sent, viewer = viewer, None  # the name query already sent serves the first read
        state = (await read_nodes(client, kind_names, on_page, scope, sent)).state(kind_names)
        state.check_references_shown(kind_names)
        return state

    return await read_consistently(read)


async def create_plan(
    client: PortalClient,
    desired: DesiredState,
    endpoint_name: str,
    options: PlanOptions,
    on_page: ProgressCallback | None = None,
    viewer: Awaitable[Response] | None = None,
) -> PlanOutcome:
    targets = parse_targets(options.targets)  # a usage error before any read
    names = kinds_to_read(desired)
    remote = await read_remote(client, names, on_page, remote_scope(desired), viewer)
    return plan_against(desired, remote, names, endpoint_name, options, targets)
