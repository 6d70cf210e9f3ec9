"""A hostile portal for the tests: an aiohttp server on loopback that forwards
``/oauth/token`` and ``/api`` to a real sandbox and misbehaves as a named
:class:`Case` says (rewritten JSON answers, raw HTML, a hung or huge answer).

It stands where the real portal would stand (a fake at a true boundary); it
never looks at konvsync's code, only at the GraphQL document it is sent: the
operation name and type come from parsing that document with graphql-core
(konvsync sends aliased multi-mutation documents named ``CreateUserBatch``
and so on; read queries are named ``ReadUsers``, ``ReadGroups`` ...).

Every request is recorded as a :class:`Call`, so a test can say how many
mutations reached the portal. Several clients can share one server through a
path prefix (``<url>/a/api``, ``<url>/b/api``: point konvsync's endpoint at
``<url>/a``); :attr:`Call.client` tells them apart.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

Json = Any


@dataclass
class Call:
    """One request to ``/api`` as the portal saw it."""

    client: str
    """The path prefix the request came through ("" without one)."""
    operation: str
    """The operation's name in the document (``""`` when it has none or does not parse)."""
    is_mutation: bool
    fields: int
    """Top-level fields of the operation: the number of aliased mutations in a batch."""
    variables: dict[str, Any]
    index: int
    """How many earlier calls of this operation this client made (0 for the first page)."""
    answered: bool = False
    """Whether the portal (the sandbox behind us) executed it."""
    rewritten: bool = False
    """Whether the case changed the request or the answer (or answered itself)."""
    authorization: str = ""
    """The request's ``Authorization`` header (a case may judge the token as a portal would)."""


class Case:
    """How the hostile portal misbehaves. The default forwards everything
    unchanged; a case overrides one or more of the hooks below. One instance
    per test: a case may keep state between calls (cursors seen, pages)."""

    name = "honest"

    async def before(self, call: Call) -> web.StreamResponse | None:
        """Answer ``call`` without forwarding it (or wait first); None forwards."""
        return None

    async def before_token(self, authorization: str) -> web.StreamResponse | None:
        """Answer a request to ``/oauth/token`` (its ``Authorization`` header
        given) without forwarding it; None forwards."""
        return None

    def token_answer(self, answer: Json) -> Json:
        """The token endpoint's JSON answer (HTTP 200) to send back instead
        of the sandbox's: a case may note the tokens issued."""
        return answer

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        """The request body to forward, e.g. with variables changed."""
        return body

    def answer(self, call: Call, answer: Json) -> Json:
        """The JSON answer to send back instead of the sandbox's."""
        return answer

    def __repr__(self) -> str:
        return self.name


def describe_request(client: str, body: Any, index_of: dict[tuple[str, str], int]) -> Call:
    """A :class:`Call` for a request body (the operation parsed from its document)."""
    query = body.get("query") if isinstance(body, dict) else None
    variables = body.get("variables") if isinstance(body, dict) else None
    operation, is_mutation, fields = "", False, 0
    try:
        document = parse(query) if isinstance(query, str) else None
    except GraphQLError:
        document = None
    wanted = body.get("operationName") if isinstance(body, dict) else None
    for definition in document.definitions if document else ():
        if not isinstance(definition, OperationDefinitionNode):
            continue
        name = definition.name.value if definition.name else ""
        if wanted and name != wanted:
            continue
        operation = name
        is_mutation = definition.operation == OperationType.MUTATION
        fields = len(definition.selection_set.selections)
        break
    key = (client, operation)
    index = index_of.get(key, 0)
    index_of[key] = index + 1
    return Call(client, operation, is_mutation, fields, dict(variables or {}), index)


@dataclass
class HostileServer:
    """A running hostile portal; see :func:`running_hostile_server`."""

    url: str
    upstream: str
    case: Case
    calls: list[Call] = field(default_factory=list)
    _index: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def endpoint(self, client: str = "") -> str:
        """The base URL to give konvsync's ``--endpoint`` for one client."""
        return f"{self.url}/{client}" if client else self.url

    def record(self, client: str, body: Any) -> Call:
        with self._lock:
            call = describe_request(client, body, self._index)
            self.calls.append(call)
        return call

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    @property
    def mutations(self) -> list[Call]:
        """Mutation requests that reached the hostile portal (forwarded or not)."""
        return [call for call in self.snapshot() if call.is_mutation]

    @property
    def rewritten(self) -> list[Call]:
        """Calls the case changed: a test checks the case did happen."""
        return [call for call in self.snapshot() if call.rewritten]

    def operations(self, client: str | None = None) -> list[str]:
        return [c.operation for c in self.snapshot() if client is None or c.client == client]

    def sent_values(self) -> str:
        """The variables of every mutation, as one JSON text (to search for a key)."""
        return json.dumps([call.variables for call in self.mutations])


PASSED_HEADERS = ("Authorization", "Content-Type", "Accept")


def _create_app(server: HostileServer) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    sessions: list[aiohttp.ClientSession] = []

    def session() -> aiohttp.ClientSession:
        if not sessions:
            sessions.append(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)))
        return sessions[0]

    async def close_session(_app: web.Application) -> None:
        for open_session in sessions:
            await open_session.close()

    app.on_cleanup.append(close_session)

    def headers_of(request: web.Request) -> dict[str, str]:
        return {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}

    async def token(request: web.Request) -> web.StreamResponse:
        early = await server.case.before_token(request.headers.get("Authorization", ""))
        if early is not None:
            return early
        async with session().post(
            f"{server.upstream}/oauth/token", data=await request.read(), headers=headers_of(request)
        ) as upstream:
            text = await upstream.read()
            status = upstream.status
            kept = {k: v for k, v in upstream.headers.items() if k in _KEPT}
        if status == 200:
            text = json.dumps(server.case.token_answer(json.loads(text))).encode()
        return web.Response(body=text, status=status, headers=kept)

    async def api(request: web.Request) -> web.StreamResponse:
        client = request.match_info.get("client", "")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        call = server.record(client, body)
        call.authorization = request.headers.get("Authorization", "")
        early = await server.case.before(call)
        if early is not None:
            call.rewritten = True
            return early
        if isinstance(body, dict):
            forwarded = server.case.request(call, json.loads(raw))
            call.rewritten = forwarded != body
            body = forwarded
        async with session().post(
            f"{server.upstream}/api", json=body, headers=headers_of(request)
        ) as upstream:
            text = await upstream.read()
            status = upstream.status
            content_type = upstream.headers.get("Content-Type", "application/json")
            kept = {k: v for k, v in upstream.headers.items() if k in _KEPT}
        call.answered = True
        if status != 200 or "json" not in content_type:
            return web.Response(body=text, status=status, headers=kept)
        answer = server.case.answer(call, json.loads(text))
        if isinstance(answer, web.StreamResponse):
            call.rewritten = True
            return answer
        call.rewritten = call.rewritten or answer != json.loads(text)
        kept["Content-Type"] = content_type
        return web.Response(text=json.dumps(answer), status=status, headers=kept)

    for prefix in ("", "/{client}"):
        app.router.add_post(f"{prefix}/oauth/token", token)
        app.router.add_post(f"{prefix}/api", api)
    return app


_KEPT = ("Content-Type", "Retry-After", "WWW-Authenticate", "Cache-Control", "Pragma")


async def _cancel_the_rest() -> None:
    """End handlers still waiting (a hung answer) so the loop closes quietly."""
    current = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not current]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


@contextmanager
def running_hostile_server(upstream: str, case: Case) -> Iterator[HostileServer]:
    """Serve a hostile portal in front of ``upstream`` (a sandbox's base URL)
    on a free loopback port, in a thread with its own event loop."""
    server = HostileServer(url="", upstream=upstream, case=case)
    app = _create_app(server)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        holder["port"] = sockets[0].getsockname()[1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # handed to the test thread below
            holder["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(_cancel_the_rest())
        loop.close()

    thread = threading.Thread(target=serve, name="hostile-portal", daemon=True)
    thread.start()
    started.wait()
    if "error" in holder:
        raise holder["error"]
    server.url = f"http://127.0.0.1:{holder['port']}"
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
