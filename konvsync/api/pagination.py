"""Reading whole collections: follow ``pageInfo.hasNextPage``/``endCursor``
(never node counts, since a page may hold fewer nodes than asked), 100 per
page, several kinds at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from konvsync import aio
from konvsync.api.client import PortalClient, Response
from konvsync.api.documents import operation_text
from konvsync.errors import RemoteError
from konvsync.kinds.base import Kind

PAGE_SIZE = 100
NODES_PER_SLICE = 20


NodesCallback = Callable[[str, list[dict[str, Any]]], None]
"""Called with each page's nodes while the next page is on its way."""


async def read_all(
    client: PortalClient,
    kind: Kind,
    on_page: Callable[[str, int], None] | None = None,
    on_nodes: NodesCallback | None = None,
) -> list[dict[str, Any]]:
    """Every node of ``kind``'s read query (none when ``on_nodes`` takes them)."""
    operation = kind.operation(kind.read_operation)
    field = operation.selection_set.selections[0]
    name = getattr(field, "name").value  # noqa: B009 - FieldNode
    text = operation_text(kind, kind.read_operation)

    def fetch(after: str | None) -> asyncio.Future[Response]:
        return asyncio.ensure_future(
            client.execute(text, {"first": PAGE_SIZE, "after": after}, label=kind.read_operation)
        )

    nodes: list[dict[str, Any]] = []
    count = 0
    after: str | None = None
    pending = fetch(None)
    try:
        while True:
            connection = (await pending).raise_for_errors(f"reading {kind.name}")[name]
            page = connection["pageInfo"]
            more = page["hasNextPage"]
            if more:
                if not page.get("endCursor") or page["endCursor"] == after:
                    raise RemoteError(
                        f"reading {kind.name}: the API said there is a next page but gave "
                        "no new cursor",
                        "INTERNAL",
                    )
                after = page["endCursor"]
                pending = fetch(after)
                await asyncio.sleep(0)  # let the request go out before the work below
            count += len(connection["nodes"])
            if on_nodes:
                # Handed over page by page, not kept: freed while the next
                # page is on its way instead of all at once at the end; in
                # slices, so that another kind's answer arriving meanwhile is
                # not kept waiting (and with it that kind's next request).
                page_nodes = connection["nodes"]
                for start in range(0, max(len(page_nodes), 1), NODES_PER_SLICE):
                    on_nodes(kind.name, page_nodes[start : start + NODES_PER_SLICE])
                    await asyncio.sleep(0)
            else:
                nodes.extend(connection["nodes"])
            if on_page:
                on_page(kind.name, count)
            if not more:
                return nodes
    finally:
        if not pending.done():
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


async def read_kinds(
    client: PortalClient,
    kinds: Sequence[Kind],
    on_page: Callable[[str, int], None] | None = None,
    on_nodes: NodesCallback | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """``read_all`` for several kinds concurrently, keyed by kind name.

    The kinds start in reverse order: users come last in apply order and are
    by far the longest chain of pages, so their first request goes out (and
    is served) first, and the other kinds' pages queue behind it rather
    than delay it."""
    ordered = list(reversed(kinds))
    results = await aio.gather(*(read_all(client, k, on_page, on_nodes) for k in ordered))
    return {k.name: nodes for k, nodes in zip(ordered, results, strict=True)}
