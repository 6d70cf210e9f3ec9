"""The sandbox HTTP server: ``POST /oauth/token`` and ``POST /api`` of the
Konvert contract, with fault injection; plus the in-process runner used by
``endpoint: sandbox`` and the tests."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from graphql import GraphQLSchema

from konvsync.sandbox.auth import OAuthError, TokenAuthority, Unauthenticated
from konvsync.sandbox.faults import Faults, FaultSettings
from konvsync.sandbox.graphql_api import (
    DocumentCache,
    RequestContext,
    build_sandbox_schema,
    run_graphql,
)
from konvsync.sandbox.readings import Reader, Readings
from konvsync.sandbox.store import Store

log = logging.getLogger("konvsync.sandbox")

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_API_SECRET = "sandbox-secret-not-for-production"
"""At least 32 bytes, as RFC 7518 §3.2 asks of an HS256 key."""
DEFAULT_PORTAL_NAME = "Konvsync Sandbox"
MAX_BODY = 10 * 1024 * 1024
GRAPHQL_RESPONSE = "application/graphql-response+json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SandboxSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    db: str = ".konvsync/sandbox.db"
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    portal_name: str = DEFAULT_PORTAL_NAME
    token_ttl: int = 21600
    read_only: bool = False
    """Mutations answer FORBIDDEN, as for a read-only service connection."""
    sdl: str | None = None
    """Serve this schema instead of schemas/konvert.graphql (tests of doctor)."""
    introspection: bool = True
    """False: introspection queries are refused, as some production servers do."""
    faults: FaultSettings = field(default_factory=FaultSettings)
    readings: Readings = field(default_factory=Readings)
    """How it answers where the contract leaves a server a choice (tests)."""


@dataclass
class SandboxState:
    settings: SandboxSettings
    store: Store
    schema: GraphQLSchema
    documents: DocumentCache
    authority: TokenAuthority
    faults: Faults
    requests: Counter[str] = field(default_factory=Counter)


STATE: web.AppKey[SandboxState] = web.AppKey("state", SandboxState)


_ENCODE_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
"""Compact JSON (answers are data, not documents for people), one encoder for all."""


def _json(
    payload: Any,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(
        text=_ENCODE_JSON(payload),
        status=status,
        headers=headers,
        content_type=content_type,
        charset="utf-8",
    )


def _graphql_error(
    message: str, code: str, status: int, headers: dict[str, str] | None = None
) -> web.Response:
    return _json(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers=headers
    )


@web.middleware
async def _log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %s %.1fms", request.method, request.path, status, ms)


@web.middleware
async def _inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    state.requests[request.path] += 1
    settings = state.faults.settings
    if settings.latency_ms:
        await asyncio.sleep(settings.latency_ms / 1000)
    if request.path == "/api":
        wait = state.faults.retry_after()
        if wait is not None:
            state.requests["429"] += 1
            return _graphql_error(
                "rate limit exceeded", "RATE_LIMITED", 429, {"Retry-After": str(wait)}
            )
        if state.faults.should_fail():
            state.requests["503"] += 1
            return web.Response(status=503, text="service unavailable (injected fault)")
    return await handler(request)


async def _token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.read()
    try:
        answer = state.authority.issue(
            request.headers.get("Authorization"), request.headers.get("Content-Type", ""), body
        )
    except OAuthError as exc:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="konvert"'
        return _json(
            {"error": exc.error, "error_description": exc.description}, exc.status, headers=headers
        )
    return _json(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _wants_graphql_response(request: web.Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("Accept", "")


async def _api(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        state.authority.check_bearer(request.headers.get("Authorization"))
    except Unauthenticated as exc:
        return _graphql_error(
            str(exc), "UNAUTHENTICATED", 401, {"WWW-Authenticate": 'Bearer realm="konvert"'}
        )
    media = request.content_type
    if media != "application/json":
        return _graphql_error("Content-Type must be application/json", "BAD_USER_INPUT", 415)
    charset = request.charset
    if charset and charset.lower() not in ("utf-8", "utf8"):
        return _graphql_error("only UTF-8 request bodies are accepted", "BAD_USER_INPUT", 415)
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return _graphql_error("request body is not valid JSON", "BAD_USER_INPUT", 400)
    problem = _check_params(body)
    if problem:
        return _graphql_error(problem, "BAD_USER_INPUT", 400)
    context = RequestContext(
        state.store,
        state.settings.api_key,
        state.settings.portal_name,
        state.faults.settings.page_cap,
        {},
        state.settings.read_only,
        ignore_fields=state.faults.settings.ignore_fields,
    )
    outcome = run_graphql(
        state.documents, context, body["query"], body.get("variables"), body.get("operationName")
    )
    if outcome.is_mutation and not outcome.request_error and state.faults.should_drop():
        state.requests["dropped"] += 1
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499, text="dropped")
    payload = outcome.result.formatted
    if outcome.request_error:
        payload = {"errors": payload["errors"]}  # the document never executed: no data entry
    if _wants_graphql_response(request):
        status = 400 if outcome.request_error else 200
        return _json(payload, status, content_type=GRAPHQL_RESPONSE)
    return _json(payload)


def _check_params(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("query"), str):
        return "query must be a string"
    if body.get("variables") is not None and not isinstance(body["variables"], dict):
        return "variables must be an object"
    if body.get("operationName") is not None and not isinstance(body["operationName"], str):
        return "operationName must be a string"
    if body.get("extensions") is not None and not isinstance(body["extensions"], dict):
        return "extensions must be an object"
    return None


async def _stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json(
        {
            "requests": dict(state.requests),
            "tokens_issued": state.authority.tokens_issued,
            "welcome_emails": len(state.store.welcome_emails()),
        }
    )


async def _revoke(request: web.Request) -> web.Response:
    request.app[STATE].authority.revoke_all()
    return _json({"revoked": True})


async def _method_not_allowed(request: web.Request) -> web.Response:
    return _graphql_error("use POST", "BAD_USER_INPUT", 405, {"Allow": "POST"})


def create_app(settings: SandboxSettings, store: Store | None = None) -> web.Application:
    """The aiohttp application; ``store`` defaults to ``settings.db``."""
    app = web.Application(middlewares=[_log_requests, _inject_faults], client_max_size=MAX_BODY)
    if store is None:
        store = Store(settings.db)
    reader = Reader(settings.readings)
    store.reader = reader
    schema = build_sandbox_schema(settings.sdl, store.tables, reader)
    app[STATE] = SandboxState(
        settings=settings,
        store=store,
        schema=schema,
        documents=DocumentCache(schema, introspection=settings.introspection),
        authority=TokenAuthority(settings.api_key, settings.api_secret, settings.token_ttl),
        faults=Faults(settings.faults),
    )
    app.router.add_post("/oauth/token", _token)
    app.router.add_post("/api", _api)
    app.router.add_get("/api", _method_not_allowed)
    app.router.add_get("/_sandbox/stats", _stats)
    app.router.add_post("/_sandbox/revoke-tokens", _revoke)
    return app


def bound_port(site: web.TCPSite, requested: int) -> int:
    """The port a site listens on (the OS picks one for port 0)."""
    server = site._server
    sockets = getattr(server, "sockets", None)
    if not sockets:
        return requested
    return int(sockets[0].getsockname()[1])


@dataclass
class RunningSandbox:
    """A sandbox serving in a background thread."""

    url: str
    settings: SandboxSettings
    app: web.Application

    @property
    def store(self) -> Store:
        return self.app[STATE].store

    @property
    def state(self) -> SandboxState:
        return self.app[STATE]


@contextmanager
def running_sandbox(
    settings: SandboxSettings, store: Store | None = None
) -> Iterator[RunningSandbox]:
    """Serve the sandbox on ``settings.host`` and a free port (``port=0``) or
    the given one, in a thread with its own event loop; stop cleanly on exit."""
    app = create_app(settings, store)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    holder: dict[str, Any] = {}

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        holder["port"] = bound_port(site, settings.port)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:
            holder["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="konvsync-sandbox", daemon=True)
    thread.start()
    started.wait()
    if "error" in holder:
        raise holder["error"]
    try:
        yield RunningSandbox(f"http://{settings.host}:{holder['port']}", settings, app)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        app[STATE].store.close()
