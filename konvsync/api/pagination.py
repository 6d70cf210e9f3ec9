"""Reading whole collections: follow ``pageInfo.hasNextPage``/``endCursor``
(never node counts, since a page may hold fewer nodes than asked), 100 per
page, several kinds at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from konvsync.api.client import PortalClient, Response
from konvsync.api.operations import read_document
from konvsync.errors import ContractError, ReadChanged
from konvsync.kinds.base import Kind
from konvsync.support import aio
from konvsync.support.redact import printable

if TYPE_CHECKING:
    from konvsync.api.operations import Selection

PAGE_SIZE = 100
READ_ATTEMPTS = 3
"""Reads of a portal that changed while it was read (``ReadChanged``) before
konvsync stops. Teams share one portal, and a plan in a pull request's
pipeline should not fail because someone saved a user while its pages were
read: most such reads are consistent the next time (a 10,000-user read takes
100 pages, two seconds at 20 ms). The check that stops a read costs nothing,
the read made again only its requests; a portal that changes during each of
three reads is said, as before, and nothing is changed or written."""

log = logging.getLogger("konvsync.api")
Read = TypeVar("Read")


NodesCallback = Callable[[str, list[dict[str, Any]]], None]
"""Called with each page's nodes while the next page is on its way."""


EMPTY_PAGES = 1000
"""Pages without nodes allowed in one read before its chain of pages is
taken for endless. A page that holds nodes brings the read closer to
``totalCount``, which it may not pass; an empty one is legal (a page may hold
fewer nodes than asked: a portal that filters rows after paging them answers
many), so only these are counted. 1,000 lets such a portal hide 100,000 rows
at 100 a page, and stops an endless chain after as many requests."""


class ReadCheck:
    """What holds for a whole read of one kind, page by page: every ID once,
    no cursor twice, ``totalCount`` the same on every page and equal to the
    nodes read, and no more than ``EMPTY_PAGES`` pages without nodes."""

    def __init__(self, operation: str, field: str) -> None:
        self.operation = operation
        self.field = field
        self.ids: set[str] = set()
        self.cursors: set[str] = set()
        self.total: int | None = None
        self.pages = 0
        self.empty_pages = 0
        self.count = 0

    def page(self, connection: dict[str, Any]) -> str | None:
        """Check one page; the cursor to read next, or None at the end."""
        self.pages += 1
        total = connection["totalCount"]
        if self.total is None:
            self.total = total
        elif total != self.total:
            self._changed(
                f"{self.field}.totalCount changed from {self.total} to {total} between pages "
                "(or the portal counts wrongly)"
            )
        if len(connection["nodes"]) > PAGE_SIZE:
            self._fail(
                f"{self.field}.nodes holds {len(connection['nodes'])} nodes on page "
                f"{self.pages}, more than the {PAGE_SIZE} asked for"
            )
        for index, node in enumerate(connection["nodes"]):
            node_id = node["id"]
            if node_id in self.ids:
                self._changed(
                    f"{self.field}.nodes[{index}].id {node_id!r} on page {self.pages} "
                    "was read before: an ID appears twice in one read (such as a key renamed "
                    "where pages follow the key, or the portal's pages overlap)"
                )
            self.ids.add(node_id)
        self.count += len(connection["nodes"])
        self.empty_pages += not connection["nodes"]
        if self.count > self.total:
            self._changed(
                f"{self.count} nodes read by page {self.pages}, more than "
                f"{self.field}.totalCount {self.total} (or the portal counts wrongly)"
            )
        info = connection["pageInfo"]
        if not info["hasNextPage"]:
            if self.count != self.total:
                self._changed(
                    f"{self.field}.totalCount is {self.total} but the last page came after "
                    f"{self.count} nodes (or pageInfo.hasNextPage was false too early)"
                )
            return None
        cursor = info["endCursor"]
        if cursor is None:
            self._fail(f"{self.field}.pageInfo.endCursor is null while hasNextPage is true")
        if cursor in self.cursors:
            self._fail(
                f"{self.field}.pageInfo.endCursor {cursor!r} came back a second time "
                f"(page {self.pages}): the pages run in a circle"
            )
        if self.empty_pages >= EMPTY_PAGES:
            self._fail(
                f"{self.empty_pages} pages without nodes ({self.pages} pages, {self.count} of "
                f"{self.field}.totalCount {self.total} nodes) and still hasNextPage: the pages "
                "do not end"
            )
        self.cursors.add(cursor)
        return str(cursor)

    def _fail(self, detail: str) -> NoReturn:
        raise ContractError(self.operation, detail)

    def _changed(self, detail: str) -> NoReturn:
        """A read that another writer explains (it may also be a portal that
        counts or pages wrongly, which every read then shows)."""
        raise ReadChanged(f"{self.operation}: {detail}")


async def read_consistently(read: Callable[[], Awaitable[Read]]) -> Read:
    """``read()``, made again when the portal changed while it was read
    (``ReadChanged``), up to ``READ_ATTEMPTS`` reads in all; each new read is
    said on stderr (a warning). ``read`` starts afresh each time: nothing of
    a read that did not add up is kept."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return await read()
        except ReadChanged as changed:
            if attempt == READ_ATTEMPTS:
                raise ReadChanged(changed.detail, READ_ATTEMPTS) from None
            log.warning(  # the detail holds the portal's text (keys): escaped, as all output
                "the portal changed while it was read (%s); reading it again (%d of %d)",
                printable(changed.detail),
                attempt + 1,
                READ_ATTEMPTS,
            )
    raise AssertionError("unreachable: the last attempt returns or raises")


async def read_all(
    client: PortalClient,
    kind: Kind,
    on_page: Callable[[str, int], None] | None = None,
    on_nodes: NodesCallback | None = None,
    selection: Selection | None = None,
) -> list[dict[str, Any]]:
    """Every node of ``kind``'s read query (none when ``on_nodes`` takes them),
    each answer checked against the contract and the read as a whole by
    ``ReadCheck`` before any of it is used. ``selection``: only those fields
    (``operations.Selection``)."""
    document = read_document(kind, selection)
    name = document.field
    check = ReadCheck(kind.read_operation, name)

    def fetch(after: str | None) -> asyncio.Future[Response]:
        return asyncio.ensure_future(
            client.execute(
                document, {"first": PAGE_SIZE, "after": after}, label=kind.read_operation
            )
        )

    nodes: list[dict[str, Any]] = []
    pending = fetch(None)
    try:
        while True:
            connection = (await pending).raise_for_errors(f"reading {kind.name}")[name]
            after = check.page(connection)
            if after is not None:
                pending = fetch(after)
                await asyncio.sleep(0)  # let the request go out before the work below
            if on_nodes:
                # Handed over page by page, not kept: freed while the next
                # page is on its way instead of all at once at the end.
                on_nodes(kind.name, connection["nodes"])
            else:
                nodes.extend(connection["nodes"])
            if on_page:
                on_page(kind.name, check.count)
            if after is None:
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
