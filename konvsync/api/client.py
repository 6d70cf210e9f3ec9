"""The portal client: an aiohttp session with Bearer auth, bounded
retries and the safe/ambiguous distinction every caller relies on.

- 429 waits ``Retry-After`` (capped; delta-seconds or an HTTP-date), and so
  does a 503 that sends one (the token endpoint's too: ``TokenEndpointBusy``
  is retried like the API's answer, and an answer coded ``RATE_LIMITED``
  that ran nothing or is a read); 503 (the server did nothing), connect
  failures (nothing was sent) and, for idempotent requests, 502/504, timeouts
  and dropped connections retry with exponential backoff and full jitter, at
  most ``max_retries`` times.
- A request marked ``retry_safe=False`` (creates) is never resent after it
  may have reached the server (502, 504, a timeout, a dropped connection,
  and any other 5xx but 503): ``AmbiguousRequestError`` goes to the caller,
  which reads the object back first.
- A 401 gets one new token and one more try: the portal refused the request
  before executing it. An answer with an ``UNAUTHENTICATED`` error gets a new
  token too, but only a query is sent again whole: a mutation document's
  answer goes to its caller (``batching``), which sends again only the
  mutations that the answer shows were not executed. Requests refused with
  one token share one new token; refused again, the error gives the
  portal's reason.

``classify`` says what a failure calls for (retry, ambiguous, fail); a
plain loop in ``execute`` runs the tries, their waits and the limits
(``tenacity`` ran them until its machinery, set up for every request, was
measured at 0.5 % of a cold apply's instructions).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from konvsync.api.answers import Misfit, check_data, describe, format_path
from konvsync.api.auth import CHECK_THE_ENDPOINT, TokenEndpointBusy, TokenSource
from konvsync.api.endpoints import Endpoint
from konvsync.api.operations import Document
from konvsync.api.proxies import ProxyRoute, proxy_route
from konvsync.api.retries import (
    GATEWAY_FAILURES,
    HttpStatus,
    NotSent,
    ProxyRefused,
    Retry,
    classify,
    describe_failure,
    reason_of,
    retry_after,
)
from konvsync.api.tls import tls_context
from konvsync.api.wire_json import decoded, encoded
from konvsync.errors import (
    AmbiguousRequestError,
    AuthError,
    ContractError,
    RemoteError,
    TransportError,
)
from konvsync.support.redact import printable, redact, redact_echo, scrub
from konvsync.support.text import LONE_SURROGATE

log = logging.getLogger("konvsync.api")
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
"""What an error's ``extensions.code`` may be shown as (``BAD_USER_INPUT``,
``validation-failed``)."""


@dataclass(frozen=True)
class ClientSettings:
    timeout: float = 30.0
    max_retries: int = 5
    retry_after_cap: float = 60.0
    backoff_base: float = 0.25
    backoff_cap: float = 15.0
    max_answer_bytes: int = 64 * 1024 * 1024
    """Answers larger than this are refused, not buffered."""
    deadline: float = 300.0
    """One request, its retries and waits included, gives up after this long."""


@dataclass
class Response:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    executed: bool = True
    """Whether the answer holds ``data`` (null or not): one without is a
    request error, and nothing was executed (GraphQL-over-HTTP)."""

    def raise_for_errors(self, what: str) -> dict[str, Any]:
        """The data, or a ``RemoteError`` naming the first error."""
        if self.errors:
            error = self.errors[0]
            raise RemoteError(f"{what}: {error_message(error)}", error_code(error))
        if self.data is None:
            raise RemoteError(f"{what}: the API returned no data", "INTERNAL")
        return self.data

    def found(self, what: str) -> dict[str, Any]:
        """The data of a look-up (``user(id:, email:)``, aliased), or a
        ``RemoteError`` as ``raise_for_errors``: a field answered null with
        a ``NOT_FOUND`` error of its own (its path the field alone) is an
        object the portal does not have, as a null without an error is."""
        data = self.data
        if not isinstance(data, dict):
            return self.raise_for_errors(what)
        errors = [error for error in self.errors if not _absent(error, data)]
        return Response(data, errors, self.executed).raise_for_errors(what)


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class _AnswerTooLarge(Exception):
    pass


@dataclass(frozen=True)
class _RawAnswer:
    status: int
    content_type: str
    body: bytes


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    max_bytes: int,
    proxy: str | None,
) -> _RawAnswer:
    """POST ``payload`` as is: konvsync's documents are its own validated
    ``.graphql`` text, so they are not parsed and printed again per request
    (which cost more CPU than the rest of an apply). Raises with the status
    and Retry-After of the response that failed; reads the body up to a
    size cap. Through ``proxy`` when there is one: a 407, or a tunnel the
    proxy will not open, is ``ProxyRefused`` (nothing reached the portal);
    a tunnel it cannot open (5xx to CONNECT) is ``NotSent``; a certificate
    not accepted is aiohttp's error as it is."""
    try:
        body_sent = encoded(payload)
        headers = {**headers, "Content-Type": "application/json"}
        async with session.post(url, data=body_sent, headers=headers, proxy=proxy) as response:
            if response.status == 407:
                raise ProxyRefused(407)
            if response.status == 401:
                raise HttpStatus(401, None, await _refusal(response))
            if response.status == 429 or response.status >= 500:
                said = await _refusal(response)  # a GraphQL error's message, if it sent one
                raise HttpStatus(response.status, response.headers.get("Retry-After"), said)
            if (response.content_length or 0) > max_bytes:
                raise _AnswerTooLarge()
            body = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > max_bytes:
                    raise _AnswerTooLarge()
            return _RawAnswer(response.status, response.content_type, bytes(body))
    except aiohttp.ClientHttpProxyError as exc:
        if exc.status >= 500:
            raise NotSent(describe_failure(exc, proxy)) from exc
        raise ProxyRefused(exc.status) from exc
    except aiohttp.ClientConnectorCertificateError:
        raise  # refused again on every try: not retried (retries.classify)
    except aiohttp.ClientConnectorError as exc:
        raise NotSent(describe_failure(exc, proxy)) from exc


class PortalClient:
    """One connection pool to one portal (an aiohttp session, TLS verified
    against the machine's authorities: ``tls.tls_context``); use as
    ``async with``. Requests go through ``proxy`` (default: the
    environment's proxy for the API's URL)."""

    def __init__(
        self,
        endpoint: Endpoint,
        tokens: TokenSource,
        settings: ClientSettings | None = None,
        proxy: ProxyRoute | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.tokens = tokens
        self.settings = settings or ClientSettings()
        self.proxy = proxy if proxy is not None else proxy_route(endpoint.api_url)
        self.stats = ClientStats()
        self._session: aiohttp.ClientSession | None = None
        self._rng = random.Random()

    async def __aenter__(self) -> PortalClient:
        context = tls_context(
            self.endpoint.api_url, self.endpoint.token_url, self.proxy.proxy or ""
        )
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            connector=aiohttp.TCPConnector(limit=32, ssl=True if context is None else context),
        )
        log.info("requests to %s go %s", self.endpoint.api_url, self.proxy.describe())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()  # waits until its connections are closed
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    async def execute(
        self,
        document: Document | str,
        variables: dict[str, Any] | None = None,
        *,
        retry_safe: bool = True,
        label: str = "request",
        verify: bool = True,
    ) -> Response:
        """Send one document. The answer's envelope is always checked; with
        ``verify``, a query's data is checked against the contract and the
        document (mutation documents are checked alias by alias by their
        caller, since each alias succeeds or fails on its own). A plain text
        (the introspection query) has no model to check its data with: it is
        sent only with ``verify=False``, its caller checking what it uses."""
        if verify and not isinstance(document, Document):
            raise TypeError("a query's text has no model to check its answer: pass its Document")
        text = document.text if isinstance(document, Document) else document
        payload: dict[str, Any] = {"query": text}
        if variables is not None:
            payload["variables"] = variables
        if log.isEnabledFor(logging.DEBUG):
            # Masked before it is cut: a secret cut in two would pass the formatter.
            log.debug("%s request: %s", label, redact(json.dumps(payload))[:20000])
        renewed = [False]
        first_sent = time.monotonic()
        number = 1
        while True:
            try:
                return await self._try(
                    payload, document, label, retry_safe, verify, renewed, number
                )
            except Retry as failure:
                elapsed = time.monotonic() - first_sent
                if number > self.settings.max_retries:
                    failure.gave_up = f"{self.settings.max_retries} retries"
                elif elapsed + failure.delay > self.settings.deadline:
                    failure.gave_up = f"{elapsed:.0f} s of tries"
                if failure.gave_up is not None:
                    raise self._gave_up(failure, label) from None
                self.stats.retries += 1
                log.info("retrying %s in %.2fs (%s)", label, failure.delay, failure.reason)
                await asyncio.sleep(failure.delay)
                number += 1

    def _gave_up(self, failure: Retry, label: str) -> TransportError:
        # Requests in flight at once are refused together and wait alike:
        # over a low rate, fewer at once is what gets them through.
        hint = (
            "; the portal limits its request rate: let each request retry more "
            "(--max-retries), or send fewer at once (apply's --parallelism)"
            if failure.rate_limited
            else ""
        )
        return TransportError(
            f"{label}: gave up after {failure.gave_up} ({failure.reason}) at "
            f"{failure.url or self.endpoint.api_url}{self.proxy.via}{hint}"
        )

    async def _try(
        self,
        payload: dict[str, Any],
        document: Document | str,
        label: str,
        retry_safe: bool,
        verify: bool,
        renewed: list[bool],
        number: int,
    ) -> Response:
        """One try (a renewed token's second request included); a failure
        worth retrying is raised as ``Retry`` with its wait."""
        while True:
            try:
                token = await self.tokens.token(self.session)
            except TokenEndpointBusy as busy:
                # Asking for a token is safe to repeat: tried again as a
                # request to /api that the portal did not take is.
                delay = self._delay(busy.status, busy.retry_after, number)
                raise Retry(str(busy), delay, busy.url) from None
            started = time.perf_counter()
            self.stats.requests += 1
            try:
                raw = await _post(
                    self.session,
                    self.endpoint.api_url,
                    payload,
                    {"Authorization": f"Bearer {token}"},
                    self.settings.max_answer_bytes,
                    self.proxy.proxy,
                )
                self._log(label, raw.status, started)
                response = _parse_answer(label, raw, self.endpoint.api_url)
                if _has_code(response.errors, "UNAUTHENTICATED") and not renewed[0]:
                    self.tokens.invalidate(token)
                    renewed[0] = True
                    if not _is_mutation(payload["query"]):
                        continue  # a read: sending it again changes nothing
                    return response  # the caller sends again what was not executed
                refused = _first_with_code(response.errors, "UNAUTHENTICATED")
                if refused is not None and not _is_mutation(payload["query"]):
                    # A read refused again with a new token: as a second 401.
                    said = scrub(error_message(refused))
                    raise AuthError(_token_refused(said, self.tokens.mode))
                if _has_code(response.errors, "RATE_LIMITED") and (
                    not response.executed or not _is_mutation(payload["query"])
                ):
                    # The contract's code for "over the request rate", in an
                    # answer: nothing ran (a request error) or it is a read,
                    # so it is asked again after a wait, as a 429 is.
                    raise Retry("RATE_LIMITED", self._delay(429, None, number), rate_limited=True)
                if verify and not response.errors and isinstance(document, Document):
                    _check_query_answer(label, document, response.data)
                return response
            except _AnswerTooLarge:
                raise ContractError(
                    label,
                    f"the answer is larger than {self.settings.max_answer_bytes} bytes "
                    "(the size cap); it was not read",
                ) from None
            except (HttpStatus, NotSent, ProxyRefused, aiohttp.ClientError, TimeoutError) as exc:
                status = exc.status if isinstance(exc, HttpStatus) else 0
                self._log(label, status, started)
                if isinstance(exc, HttpStatus):
                    self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                if status == 401:
                    if renewed[0]:
                        said = exc.said if isinstance(exc, HttpStatus) else ""
                        raise AuthError(_token_refused(said, self.tokens.mode)) from None
                    self.tokens.invalidate(token)
                    renewed[0] = True
                    continue
                why = reason_of(exc, self.proxy.proxy)
                verdict = classify(exc, retry_safe)
                if verdict == "ambiguous":
                    answered = isinstance(exc, HttpStatus) and exc.status not in GATEWAY_FAILURES
                    raise AmbiguousRequestError(
                        f"{label}: {why} after sending; it may have been applied",
                        resend=not answered,
                    ) from None
                if verdict == "fail":
                    where = f"{self.endpoint.api_url}{self.proxy.via}"
                    if isinstance(exc, ProxyRefused):
                        raise TransportError(f"{label} to {where}: {why}") from None
                    raise TransportError(f"{label}: {why} from {where}") from None
                wait = exc.retry_after if isinstance(exc, HttpStatus) else None
                raise Retry(
                    why, self._delay(status, wait, number), rate_limited=status == 429
                ) from None

    def _delay(self, status: int, wait: str | None, number: int) -> float:
        """How long to wait before try ``number + 1`` after an answer with
        ``status`` (0: none) and Retry-After ``wait``: a 429 as it says, and
        a 503 that says when to come back too (RFC 9110 10.2.3), not on the
        backoff's clock."""
        if status == 429 or (status == 503 and wait is not None):
            return retry_after(wait, self.settings.retry_after_cap)
        return self._backoff(number - 1)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * (2**attempt))
        return self._rng.uniform(0, ceiling)

    def _log(self, label: str, status: int, started: float) -> None:
        if log.isEnabledFor(logging.INFO):
            ms = (time.perf_counter() - started) * 1000
            log.info(
                "POST %s %s %s %.0fms", self.endpoint.api_url, label, status or "no-answer", ms
            )


_DESCRIPTION = re.compile(r'error_description\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
"""The ``error_description`` of a ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3)."""
_REFUSAL_BYTES = 16 * 1024
"""How much of a 401's body is read for its reason."""


async def _refusal(response: aiohttp.ClientResponse) -> str:
    """Why the portal refused a request (401, 429, 5xx), in its own words,
    safe to show: its GraphQL error's message, else a 401 challenge's
    ``error_description`` (a token it echoes masked, control characters
    escaped, cut short); "" when the body says neither (an HTML page)."""
    body = bytearray()
    try:
        while len(body) < _REFUSAL_BYTES:
            chunk = await response.content.read(_REFUSAL_BYTES - len(body))
            if not chunk:
                break
            body += chunk
        answer = json.loads(body)
    except (aiohttp.ClientError, TimeoutError, ValueError, RecursionError):
        answer = None
    errors = answer.get("errors") if isinstance(answer, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    said = first.get("message") if isinstance(first, dict) else None
    if not isinstance(said, str) or not said.strip():
        found = _DESCRIPTION.search(response.headers.get("WWW-Authenticate", ""))
        said = found.group(1).replace('\\"', '"') if found else ""
    return scrub(said.strip()) if said.strip() else ""


def _token_refused(said: str, mode: str) -> str:
    """The error for a token refused again after it was renewed."""
    reason = f" ({said})" if said else ""
    advice = "the API key, secret and --auth mode"
    if mode == "jwt":
        advice = (
            "the API key, secret, --auth mode and this machine's clock (a self-signed "
            "JWT's iat and exp follow it)"
        )
    return f"authentication failed: the portal rejected the token{reason}; check {advice}"


def _not_an_answer(label: str, status: int, url: str) -> TransportError:
    """An HTTP status with no GraphQL answer; a 404 most often means a base
    URL with a wrong path (konvsync adds /api to it)."""
    advice = f": {CHECK_THE_ENDPOINT}" if status == 404 else ""
    return TransportError(f"{label}: HTTP {status} from {url}{advice}")


def _parse_answer(label: str, raw: _RawAnswer, url: str) -> Response:
    """The GraphQL-over-HTTP envelope: a JSON object with ``data`` (an object
    or null) and/or ``errors`` (a list of objects with a ``message``)."""
    try:
        answer = decoded(raw.body)
    except RecursionError:  # valid JSON, nested deeper than Python's json reads
        raise ContractError(label, "the answer is nested too deeply to read") from None
    except (ValueError, UnicodeDecodeError):
        if raw.status != 200:
            raise _not_an_answer(label, raw.status, url) from None
        kind = raw.content_type or "no content type"
        raise ContractError(
            label, f"the answer is not JSON ({kind}, {len(raw.body)} bytes)"
        ) from None
    if not isinstance(answer, dict):
        raise ContractError(label, f"the answer is {describe(answer)}, not a GraphQL response")
    if "data" not in answer and "errors" not in answer:
        if raw.status != 200:
            raise _not_an_answer(label, raw.status, url)
        raise ContractError(label, "the answer has neither data nor errors")
    if _may_hold_surrogates(raw.body):
        where = _lone_surrogate(answer)
        if where is not None:
            raise ContractError(
                label,
                f"{format_path(where)} holds a lone surrogate, which is not Unicode text "
                "(a GraphQL String is)",
            )
    data = answer.get("data")
    errors = answer.get("errors") or []
    if data is not None and not isinstance(data, dict):
        raise ContractError(label, f"data is {describe(data)}, the contract says an object")
    if not isinstance(errors, list) or not all(
        isinstance(e, dict) and isinstance(e.get("message"), str) for e in errors
    ):
        raise ContractError(label, "errors is not a list of objects with a message")
    return Response(data, errors, "data" in answer)


def _may_hold_surrogates(body: bytes) -> bool:
    """Whether ``json.loads`` may have made a lone surrogate of ``body``: a
    ``\\uD800``-``\\uDFFF`` escape or its UTF-8 form (a fast test of every
    answer: 0.6 ms a MB each; the answer is walked only when it holds one)."""
    return b"\\ud" in body or b"\\uD" in body or b"\xed" in body


def _lone_surrogate(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path of the first string (or key) in ``value`` that holds a lone
    surrogate (``json.loads`` accepts ``"\\ud800"``; no encoder writes it)."""
    if isinstance(value, str):
        return path if LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if LONE_SURROGATE.search(key):
                return (*path, printable(key))
            found = _lone_surrogate(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, (*path, index))
            if found is not None:
                return found
    return None


def _check_query_answer(label: str, document: Document, data: dict[str, Any] | None) -> None:
    if document.operation != "query":
        return
    try:
        check_data(document, data)
    except Misfit as misfit:
        raise ContractError(label, str(misfit)) from None


def error_code(error: dict[str, Any]) -> str:
    """A GraphQL error's ``extensions.code``; INTERNAL when it has none
    (missing, not a string, or blank) or what it holds is not a code (a
    word of letters, digits, ``_``, ``-``, ``.``: not free text, a terminal
    escape, or a value konvsync masks, such as an invite code it echoes)."""
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    code = code.strip() if isinstance(code, str) else ""
    if not _CODE.fullmatch(code) or redact_echo(code) != code:
        return "INTERNAL"
    return code


def error_message(error: dict[str, Any]) -> str:
    """A GraphQL error's ``message`` with every registered secret masked (a
    portal may echo what it was sent, an invite code included, a short one
    also as a word: ``redact_echo``)."""
    message = str(error.get("message") or "").strip()
    return redact_echo(message) if message else "the portal gave no message"


def _absent(error: dict[str, Any], data: dict[str, Any]) -> bool:
    """Whether ``error`` says that a field of a look-up's ``data`` found
    nothing: coded NOT_FOUND, its path that field alone, its value null."""
    path = error.get("path")
    return (
        error_code(error) == "NOT_FOUND"
        and isinstance(path, list)
        and len(path) == 1
        and isinstance(path[0], str)
        and path[0] in data
        and data[path[0]] is None
    )


def _is_mutation(query: str) -> bool:
    return query.lstrip().startswith("mutation")


def _has_code(errors: list[dict[str, Any]], code: str) -> bool:
    return _first_with_code(errors, code) is not None


def _first_with_code(errors: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    return next((error for error in errors if error_code(error) == code), None)
