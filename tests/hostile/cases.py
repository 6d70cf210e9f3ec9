"""The hostile portal's repertoire of reads: named ways a read answer breaks
the API contract (schemas/konvert.graphql), each a
:class:`~tests.hostile.server.Case` (write-side cases: ``write_cases.py``).

Cases depend on konvsync's documents only through operation names (``Viewer``,
``ReadUsers``, ``ReadGroups``, ``ReadAccounts``, ``ReadAccountFields``) and on
the contract's answer shapes: a read answer is
``{"data": {<connection>: {"nodes": [...], "pageInfo": {...}, "totalCount": n}}}``.

To add a read case: write a function that changes a connection in place and
register it with :func:`on_connection` in :data:`READ_CASES` (see the entries).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote_plus

import jwt
from aiohttp import web

from konvsync.sandbox.auth import TokenAuthority
from tests.hostile.server import Call, Case, Json

Connection = dict[str, Any]
ChangeConnection = Callable[[Connection, Call], None]


def connection_of(answer: Json) -> Connection | None:
    """The one top-level field of a read answer (``data.users`` ...), if any."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict) or len(data) != 1:
        return None
    value = next(iter(data.values()))
    return value if isinstance(value, dict) else None


class OnConnection(Case):
    """Change the connection of one read operation's answers, on every page or one."""

    def __init__(
        self, name: str, operation: str, change: ChangeConnection, page: int | None = None
    ) -> None:
        self.name = name
        self.operation = operation
        self.change = change
        self.page = page

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation or (self.page is not None and call.index != self.page):
            return answer
        connection = connection_of(answer)
        if connection is not None:
            self.change(connection, call)
        return answer


class OnAnswer(Case):
    """Replace one operation's whole answer (first page or every page)."""

    def __init__(self, name: str, operation: str, replace: Callable[[Json], Json]) -> None:
        self.name = name
        self.operation = operation
        self.replace = replace

    def answer(self, call: Call, answer: Json) -> Json:
        return self.replace(answer) if call.operation == self.operation else answer


def on_connection(
    operation: str, change: ChangeConnection, page: int | None = None
) -> Callable[[str], Case]:
    return lambda name: OnConnection(name, operation, change, page)


# ----------------------------------------------------------------- node changes


def nodes_of(connection: Connection) -> list[Any]:
    nodes = connection.get("nodes")
    return nodes if isinstance(nodes, list) else []


def _every_node(change: Callable[[dict[str, Any]], None]) -> ChangeConnection:
    def apply(connection: Connection, _call: Call) -> None:
        for node in nodes_of(connection):
            change(node)

    return apply


def _node(position: int, change: Callable[[dict[str, Any]], None]) -> ChangeConnection:
    def apply(connection: Connection, _call: Call) -> None:
        nodes = nodes_of(connection)
        change(nodes[position % len(nodes)])

    return apply


def _delete(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda node: node.pop(field, None)


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda node: node.__setitem__(field, value)


def _page_info(field: str, value: Any) -> ChangeConnection:
    return lambda connection, _call: connection["pageInfo"].__setitem__(field, value)


def _locations(change: Callable[[list[dict[str, Any]]], None]) -> ChangeConnection:
    return _every_node(lambda account: change(account.get("locations") or []))


def _names_null(locations: list[dict[str, Any]]) -> None:
    for location in locations:
        location["name"] = None


def _on_first_pages(change: ChangeConnection) -> ChangeConnection:
    """``change`` on the first page of every read (a portal that always
    does it: konvsync reads a portal that changed while it was read again)."""

    def apply(connection: Connection, call: Call) -> None:
        if call.variables.get("after") is None:
            change(connection, call)

    return apply


def _same_key_on_later_page(field: str, transform: Callable[[str], str]) -> Callable[[str], Case]:
    """In every read, a node on page 2 carries the ``field`` of a page-1 node
    (a duplicate key or id)."""

    def make(name: str) -> Case:
        seen: list[Any] = []

        def change(connection: Connection, call: Call) -> None:
            nodes = nodes_of(connection)
            if call.variables.get("after") is None:
                seen[:] = [nodes[0][field]]
            elif seen:
                nodes[0][field] = transform(seen.pop())

        return OnConnection(name, "ReadUsers", change)

    return make


def _nodes_as_object(connection: Connection, _call: Call) -> None:
    connection["nodes"] = nodes_of(connection)[0]


def _null_in_nodes(connection: Connection, _call: Call) -> None:
    connection["nodes"][1] = None


def _total_count_off(connection: Connection, _call: Call) -> None:
    if "totalCount" in connection:
        connection["totalCount"] += 5


def _drop_portal_name(answer: Json) -> Json:
    viewer = (answer.get("data") or {}).get("viewer") or {}
    viewer.pop("portalName", None)
    return answer


def _custom_values_as_numbers(account: dict[str, Any]) -> None:
    for field in account.get("customFields") or []:
        field["value"] = 1001


def _duplicate_location_name(connection: Connection, _call: Call) -> None:
    for account in nodes_of(connection):
        locations = account.get("locations") or []
        if len(locations) >= 2:
            locations[1]["name"] = locations[0]["name"]
            return


# ------------------------------------------------------------------- paging


class CursorCycle(Case):
    """Cursors A -> B -> A: the page after B says its end cursor is A again.
    Pages asked for a second time come back empty, so that only the cursors
    (or the count of nodes against ``totalCount``) show the loop, not
    repeated nodes."""

    name = "cursor-cycle"

    def __init__(self, operation: str = "ReadUsers") -> None:
        self.operation = operation
        self.cursors: list[str] = []
        self.asked: set[str | None] = set()

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer)
        if call.operation != self.operation or connection is None:
            return answer
        page = connection["pageInfo"]
        after = call.variables.get("after")
        if after in self.asked:
            connection["nodes"] = []
        self.asked.add(after)
        if len(self.cursors) >= 2 and after == self.cursors[1]:
            page["hasNextPage"] = True
            page["endCursor"] = self.cursors[0]
        elif page.get("endCursor") and page["endCursor"] not in self.cursors:
            self.cursors.append(page["endCursor"])
        return answer


class EndlessCursors(Case):
    """Always another page behind a brand-new cursor; the pages behind the
    made-up cursors repeat the first page's nodes (or are empty)."""

    FAKE = "hostile-cursor-"

    def __init__(self, name: str, empty_pages: bool, operation: str = "ReadUsers") -> None:
        self.name = name
        self.empty_pages = empty_pages
        self.operation = operation
        self.issued = 0

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        after = call.variables.get("after")
        if call.operation == self.operation and str(after).startswith(self.FAKE):
            body = {**body, "variables": {**body.get("variables", {}), "after": None}}
        return body

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer)
        if call.operation != self.operation or connection is None:
            return answer
        if self.empty_pages and call.index > 0:
            connection["nodes"] = []
        self.issued += 1
        connection["pageInfo"] = {"hasNextPage": True, "endCursor": f"{self.FAKE}{self.issued}"}
        return answer


class BusyUntil(Case):
    """The portal is busy for ``seconds`` from the first request of any of
    ``statuses``' operations: until then it answers that operation with its
    HTTP status (429, 503) and ``Retry-After`` as an HTTP-date (RFC 9110
    10.2.3: the second form, besides delta-seconds) naming the instant it
    will answer again; from then on it forwards as usual."""

    name = "busy-until-an-http-date"

    def __init__(self, statuses: dict[str, int], seconds: float) -> None:
        self.statuses = statuses
        self.seconds = seconds
        self.until: float | None = None

    async def before(self, call: Call) -> web.StreamResponse | None:
        status = self.statuses.get(call.operation)
        if status is None:
            return None
        if self.until is None:
            self.until = float(math.ceil(time.time() + self.seconds))
        if time.time() >= self.until:
            return None
        date = formatdate(self.until, usegmt=True)
        return web.Response(status=status, text="busy", headers={"Retry-After": date})


# --------------------------------------------------------------- raw answers


class RawAnswer(Case):
    """Answer one operation with something that is not the contract's JSON."""

    def __init__(self, name: str, operation: str, reply: Callable[[], web.StreamResponse]) -> None:
        self.name = name
        self.operation = operation
        self.reply = reply

    async def before(self, call: Call) -> web.StreamResponse | None:
        return self.reply() if call.operation == self.operation else None


def html_page() -> web.StreamResponse:
    return web.Response(
        text="<!doctype html><html><body><h1>Sign in</h1></body></html>",
        status=200,
        content_type="text/html",
    )


def json_array() -> web.StreamResponse:
    return web.Response(text="[]", status=200, content_type="application/json")


def nested_too_deep() -> web.StreamResponse:
    """Valid JSON nested deeper than Python's ``json`` reads (the recursion limit)."""
    depth = 100_000
    text = '{"data": {"groups": ' + "[" * depth + "]" * depth + "}}"
    return web.Response(text=text, status=200, content_type="application/json")


class Hang(Case):
    """Never answer one operation (until the server stops)."""

    def __init__(self, name: str, operation: str) -> None:
        self.name = name
        self.operation = operation

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation == self.operation:
            call.rewritten = True
            await asyncio.sleep(600)
        return None


HUGE_MB = 70
"""Above the 64 MB answer cap issue 12 asks for."""


class HugeAnswer(Case):
    """One operation's real answer, padded to ``HUGE_MB`` MB inside a valid JSON
    object and sent chunked (no Content-Length to refuse it by)."""

    def __init__(self, name: str, operation: str) -> None:
        self.name = name
        self.operation = operation

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation:
            return answer
        return web.Response(body=_padded(answer), content_type="application/json")


async def _padded(answer: Json) -> AsyncIterator[bytes]:
    chunk = b"x" * (1024 * 1024)
    yield b'{"extensions":{"padding":"'
    for _ in range(HUGE_MB):
        yield chunk
    yield b'"},"data":' + json.dumps(answer.get("data")).encode() + b"}"


# -------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class ReadCase:
    """A read the portal gets wrong, and what konvsync's one-line error must name."""

    make: Callable[[str], Case]
    operation: str
    fragment: str | None = None
    """Text the error line must contain (any case), besides the operation (None: no fixed word)."""
    contract: bool = True
    """Whether the line is the contract message: ``the portal's answer does not fit
    the API contract: <operation>: ...``. A hung answer is a timeout, and two
    locations with one name are allowed by the contract (konvsync only cannot
    tell them apart): their lines are worded otherwise, and ``fragment`` says
    what they must name."""
    cli_args: tuple[str, ...] = ()
    """Extra global options for konvsync (``--timeout`` for the hung answer)."""


READ_CASES: dict[str, ReadCase] = {
    # --- the cases issue 12 lists
    "repeated-id-under-another-key": ReadCase(
        _same_key_on_later_page("id", lambda value: value), "ReadUsers"
    ),
    "location-name-null": ReadCase(
        on_connection("ReadAccounts", _locations(_names_null)), "ReadAccounts", "name"
    ),
    "accounts-without-locations": ReadCase(
        on_connection("ReadAccounts", _every_node(_delete("locations"))),
        "ReadAccounts",
        "locations",
    ),
    "permissions-as-string": ReadCase(
        on_connection("ReadGroups", _every_node(_set("permissions", "MANAGE_DAMS"))),
        "ReadGroups",
        "permissions",
    ),
    "user-missing-firstName": ReadCase(
        on_connection("ReadUsers", _node(7, _delete("firstName")), page=1), "ReadUsers", "firstName"
    ),
    "group-missing-externalId": ReadCase(
        on_connection("ReadGroups", _node(1, _delete("externalId"))), "ReadGroups", "externalId"
    ),
    "hasNextPage-false-too-early": ReadCase(
        on_connection("ReadUsers", _on_first_pages(_page_info("hasNextPage", False))),
        "ReadUsers",
        "totalCount",
    ),
    "cursor-cycle": ReadCase(lambda _name: CursorCycle(), "ReadUsers", "cursor"),
    "endless-cursors-repeating-nodes": ReadCase(
        lambda name: EndlessCursors(name, empty_pages=False), "ReadUsers"
    ),
    "endless-cursors-empty-pages": ReadCase(
        lambda name: EndlessCursors(name, empty_pages=True), "ReadUsers"
    ),
    "null-in-nodes": ReadCase(on_connection("ReadUsers", _null_in_nodes), "ReadUsers", "nodes"),
    "nodes-as-object": ReadCase(
        on_connection("ReadGroups", _nodes_as_object), "ReadGroups", "nodes"
    ),
    # --- more of our own
    "wrong-enum-value": ReadCase(
        on_connection("ReadGroups", _node(0, _set("permissions", ["NOT_A_PERMISSION"]))),
        "ReadGroups",
        "permissions",
    ),
    "id-as-number": ReadCase(
        on_connection("ReadUsers", _node(3, _set("id", 17)), page=0), "ReadUsers", "id"
    ),
    "pageInfo-missing": ReadCase(
        on_connection("ReadUsers", lambda c, _call: c.pop("pageInfo"), page=0),
        "ReadUsers",
        "pageInfo",
    ),
    "html-with-200": ReadCase(lambda name: RawAnswer(name, "ReadGroups", html_page), "ReadGroups"),
    "json-array-answer": ReadCase(
        lambda name: RawAnswer(name, "ReadAccountFields", json_array), "ReadAccountFields"
    ),
    "json-nested-too-deep": ReadCase(
        lambda name: RawAnswer(name, "ReadGroups", nested_too_deep), "ReadGroups", "nested"
    ),
    "totalCount-missing": ReadCase(
        on_connection("ReadUsers", lambda c, _call: c.pop("totalCount", None)),
        "ReadUsers",
        "totalCount",
    ),
    "totalCount-wrong": ReadCase(
        on_connection("ReadUsers", _total_count_off), "ReadUsers", "totalCount"
    ),
    "one-email-on-two-pages": ReadCase(
        _same_key_on_later_page("email", lambda value: value), "ReadUsers"
    ),
    "one-email-on-two-pages-other-case": ReadCase(
        _same_key_on_later_page("email", str.upper), "ReadUsers"
    ),
    "two-locations-one-name": ReadCase(
        on_connection("ReadAccounts", _duplicate_location_name),
        "ReadAccounts",
        "two locations named 'HQ'",
        contract=False,
    ),
    "hasNextPage-null": ReadCase(
        on_connection("ReadUsers", _page_info("hasNextPage", None), page=0),
        "ReadUsers",
        "hasNextPage",
    ),
    "next-page-without-cursor": ReadCase(
        on_connection("ReadUsers", _page_info("endCursor", None), page=0), "ReadUsers"
    ),
    "data-null": ReadCase(
        lambda name: OnAnswer(name, "ReadGroups", lambda _a: {"data": None}), "ReadGroups"
    ),
    "connection-null": ReadCase(
        lambda name: OnAnswer(name, "ReadUsers", lambda _a: {"data": {"users": None}}),
        "ReadUsers",
        "users",
    ),
    "null-in-user-groups": ReadCase(
        on_connection("ReadUsers", _node(2, _set("groups", [None])), page=0), "ReadUsers", "groups"
    ),
    "account-field-type-not-in-enum": ReadCase(
        on_connection("ReadAccountFields", _node(0, _set("type", "SPREADSHEET"))),
        "ReadAccountFields",
        "type",
    ),
    "account-field-missing-key": ReadCase(
        on_connection("ReadAccountFields", _node(1, _delete("key"))), "ReadAccountFields", "key"
    ),
    "viewer-without-portalName": ReadCase(
        lambda name: OnAnswer(name, "Viewer", _drop_portal_name), "Viewer", "portalName"
    ),
    "custom-field-value-a-number": ReadCase(
        on_connection("ReadAccounts", _node(2, _custom_values_as_numbers)), "ReadAccounts", "value"
    ),
    "answer-over-size-cap": ReadCase(
        lambda name: HugeAnswer(name, "ReadGroups"),
        "ReadGroups",
        "size",
    ),
    "answer-never-comes": ReadCase(
        lambda name: Hang(name, "ReadUsers"),
        "ReadUsers",
        "ReadUsers",
        contract=False,
        cli_args=("--timeout", "1.5", "--max-retries", "0"),
    ),
}


class ClockBehind(Case):
    """A portal whose clock is ``seconds`` behind konvsync's and that checks
    a client-signed JWT's ``iat`` as PyJWT and ruby-jwt do by default, with
    no leeway: a token issued "in the future" by its clock is refused (401,
    UNAUTHENTICATED). Everything else is forwarded to the sandbox, which
    checks the signature and the rest."""

    name = "portal-clock-behind"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.refused = 0

    async def before(self, call: Call) -> web.StreamResponse | None:
        token = call.authorization.removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        if claims["iat"] > time.time() - self.seconds:
            self.refused += 1
            error = {"message": "The token is not yet valid (iat)"}
            error["extensions"] = {"code": "UNAUTHENTICATED"}
            return web.json_response({"errors": [error]}, status=401)
        return None


class TokenEndpointBusy(Case):
    """The token endpoint answers its first ``times`` requests with
    ``status`` (429 or 503 with ``Retry-After: 1``, or 502: a gateway), then
    as usual; ``/api`` is honest."""

    def __init__(self, status: int, times: int, retry_after: str = "1") -> None:
        self.name = f"token-endpoint-{status}"
        self.status = status
        self.times = times
        self.retry_after = retry_after
        self.refused = 0

    async def before_token(self, authorization: str) -> web.StreamResponse | None:
        if self.refused >= self.times:
            return None
        self.refused += 1
        headers = {"Retry-After": self.retry_after} if self.status in (429, 503) else {}
        return web.Response(status=self.status, text="busy", headers=headers)


class RateLimitedAnswer(Case):
    """The first request of ``operation`` is answered HTTP 200 with errors
    coded RATE_LIMITED, as servers that report their rate limit in the
    answer do; then as usual. ``per_alias``: a null and an error of its own
    for each alias of a mutation batch (none ran); ``data_null``: ``data``
    null and one error without a path (GraphQL's answer when execution
    stopped before a field gave data); else a request error without
    ``data`` (nothing ran, GraphQL-over-HTTP)."""

    def __init__(
        self, operation: str, per_alias: bool = False, data_null: bool = False, below: bool = False
    ) -> None:
        self.name = f"rate-limited-answer-{operation}"
        self.operation = operation
        self.per_alias = per_alias
        self.data_null = data_null
        self.below = below
        """With ``per_alias``: each alias also has an error below it (at
        ``[alias, "id"]``), which says it ran."""
        self.done = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation or self.done:
            return None
        self.done = True
        error = {"message": "rate limited", "extensions": {"code": "RATE_LIMITED"}}
        if self.data_null:
            return web.json_response({"data": None, "errors": [error]})
        if not self.per_alias:
            return web.json_response({"errors": [error]})
        aliases = [f"m{index}" for index in range(call.fields)]
        errors = [{**error, "path": [alias]} for alias in aliases]
        if self.below:
            errors += [{"message": "id failed", "path": [alias, "id"]} for alias in aliases]
        return web.json_response({"data": dict.fromkeys(aliases), "errors": errors})


class TermedAt(Case):
    """Sends SIGTERM to konvsync (a CI runner's cancel) when the first call
    ``arrives`` picks comes in (set ``pid`` once konvsync is started), and
    answers it: through ``strict`` (a legal portal's own judgement of the
    call) when given, else as the sandbox does."""

    name = "termed"

    def __init__(self, arrives: Callable[[Call], bool], strict: Case | None = None) -> None:
        self.arrives = arrives
        self.strict = strict
        self.pid: int | None = None

    async def before(self, call: Call) -> web.StreamResponse | None:
        if self.pid is not None and self.arrives(call):
            os.kill(self.pid, signal.SIGTERM)
            self.pid = None
        return None if self.strict is None else await self.strict.before(call)


def operation_starts(prefix: str, without: str = "\0") -> Callable[[Call], bool]:
    """Whether a call's operation starts with ``prefix`` (and does not hold
    ``without``: ``UpdateAccount`` but not ``UpdateAccountField``)."""
    return lambda call: call.operation.startswith(prefix) and without not in call.operation


class OneTokenAtATime(Case):
    """A portal whose first OAuth token stops working (sooner than its
    ``expires_in`` said) as the first ``operation`` call comes in, and that
    honours only the token it issued last (issuing one revokes the ones
    before, as RFC 6749 lets a server do). Each mutation is held ``hold``
    seconds before it is judged, so that several are in flight at once; a
    refused one is answered ``step`` seconds after the one before it, with
    HTTP 401 and ``WWW-Authenticate: Bearer error="invalid_token"``
    (``in_answer``: HTTP 200 and an UNAUTHENTICATED error, no ``data``)."""

    def __init__(
        self, operation: str, in_answer: bool = False, hold: float = 0.25, step: float = 0.1
    ) -> None:
        self.name = f"one-token-at-a-time-{'200' if in_answer else '401'}"
        self.operation = operation
        self.in_answer = in_answer
        self.hold = hold
        self.step = step
        self.issued: list[str] = []
        self.first_expired = False
        self.refused = 0

    def token_answer(self, answer: Json) -> Json:
        self.issued.append(answer["access_token"])
        return answer

    async def before(self, call: Call) -> web.StreamResponse | None:
        token = call.authorization.removeprefix("Bearer ")
        if call.operation.startswith(self.operation):
            self.first_expired = True
        if call.is_mutation:
            await asyncio.sleep(self.hold)
        if token == self.issued[-1] and not (self.first_expired and token == self.issued[0]):
            return None
        self.refused += 1
        await asyncio.sleep(self.step * self.refused)
        error = {"message": "invalid token", "extensions": {"code": "UNAUTHENTICATED"}}
        if self.in_answer:
            return web.json_response({"data": None, "errors": [error]})
        header = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return web.json_response({"errors": [error]}, status=401, headers=header)


class TokenAnswer(Case):
    """The token endpoint's answer (the sandbox's token) with ``fields``
    set, or left out where the value is None; ``/api`` is honest."""

    def __init__(self, fields: dict[str, object]) -> None:
        self.name = f"token-answer-{fields}"
        self.fields = fields
        self.answered = 0

    def token_answer(self, answer: Json) -> Json:
        self.answered += 1
        changed = {**answer, **self.fields}
        return {name: value for name, value in changed.items() if value is not None}


class RefusesEveryToken(Case):
    """``/api`` refuses every token with words that echo it: 401 with
    ``WWW-Authenticate: Bearer error="invalid_token"`` and those words as
    its ``error_description``, with (``body``) or without them as a GraphQL
    error (UNAUTHENTICATED) too; or (``status`` 200) only that error."""

    def __init__(
        self, body: bool, status: int = 401, echo: Callable[[str], str] = lambda token: token
    ) -> None:
        self.name = f"refuses-every-token-{status}-{'graphql' if body else 'header'}"
        self.body = body
        self.status = status
        self.echo = echo
        """How the words spell the token (as it is, or encoded)."""
        self.tokens: set[str] = set()
        self.echoed: set[str] = set()

    async def before(self, call: Call) -> web.StreamResponse | None:
        token = call.authorization.removeprefix("Bearer ")
        self.tokens.add(token)
        self.echoed.add(self.echo(token))
        said = f"token {self.echo(token)} is revoked"
        header = f'Bearer realm="konvert", error="invalid_token", error_description="{said}"'
        headers = {"WWW-Authenticate": header} if self.status == 401 else {}
        if not self.body:
            return web.Response(status=self.status, text="Unauthorized", headers=headers)
        error = {"message": said, "extensions": {"code": "UNAUTHENTICATED"}}
        return web.json_response({"errors": [error]}, status=self.status, headers=headers)


class BasicNotDecoded(Case):
    """A token endpoint that reads the Basic header's key and secret as they
    are, without undoing the form-URL-encoding RFC 6749 §2.3.1 asks for (as
    many servers do, reading RFC 7617 alone); it gets its tokens from the
    sandbox's ``authority`` (which decodes them). Every header it was sent
    is in ``tried``."""

    name = "basic-not-decoded"

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority
        self.tried: list[str] = []

    async def before_token(self, authorization: str) -> web.StreamResponse | None:
        self.tried.append(authorization)
        pair = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        key, _, secret = pair.partition(":")
        if (key, secret) != (self.authority.api_key, self.authority.api_secret):
            error = {"error": "invalid_client"}
            return web.json_response(error, status=401, headers={"WWW-Authenticate": "Basic"})
        encoded = f"{quote_plus(key)}:{quote_plus(secret)}".encode()
        header = "Basic " + base64.b64encode(encoded).decode()
        form = b"grant_type=client_credentials"
        issued = self.authority.issue(header, "application/x-www-form-urlencoded", form)
        return web.json_response(issued)


class ClientRevokedAt(Case):
    """The service connection is revoked when the first ``operation`` call
    comes in: from then on ``/api`` answers 401 (``invalid_token``) and the
    token endpoint answers 400 with the RFC 6749 §5.2 ``error`` given (401
    for ``invalid_client``). ``asked`` counts the token requests."""

    def __init__(self, operation: str, error: str) -> None:
        self.name = f"client-revoked-{error}"
        self.operation = operation
        self.error = error
        self.revoked = False
        self.asked = 0

    async def before_token(self, authorization: str) -> web.StreamResponse | None:
        self.asked += 1
        if not self.revoked:
            return None
        status = 401 if self.error == "invalid_client" else 400
        return web.json_response({"error": self.error}, status=status)

    async def before(self, call: Call) -> web.StreamResponse | None:
        self.revoked = self.revoked or call.operation.startswith(self.operation)
        if not self.revoked:
            return None
        error = {"message": "revoked", "extensions": {"code": "UNAUTHENTICATED"}}
        header = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return web.json_response({"errors": [error]}, status=401, headers=header)


class RenewalUnanswered(Case):
    """The first token stops working when the first ``operation`` call comes
    in (401, ``invalid_token``), and the request for its renewal gets no
    answer for ``hang`` seconds (then the sandbox's); later ones are
    answered at once. ``asked`` counts the token requests."""

    def __init__(self, operation: str, hang: float) -> None:
        self.name = "renewal-unanswered"
        self.operation = operation
        self.hang = hang
        self.first: str | None = None
        self.expired = False
        self.asked = 0

    async def before_token(self, authorization: str) -> web.StreamResponse | None:
        self.asked += 1
        if self.asked == 2:
            await asyncio.sleep(self.hang)
        return None

    async def before(self, call: Call) -> web.StreamResponse | None:
        token = call.authorization.removeprefix("Bearer ")
        self.first = self.first or token
        self.expired = self.expired or call.operation.startswith(self.operation)
        if not (self.expired and token == self.first):
            return None
        error = {"message": "expired", "extensions": {"code": "UNAUTHENTICATED"}}
        header = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return web.json_response({"errors": [error]}, status=401, headers=header)
