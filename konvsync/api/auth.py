"""Getting a Bearer token: OAuth 2.0 client credentials or a self-signed
HS256 JWT. Tokens are cached for the process and renewed shortly before they
expire (``renew_margin``), or at once after a 401."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import warnings
from types import ModuleType
from typing import Protocol
from urllib.parse import quote

import aiohttp

from konvsync.api.credentials import Credentials
from konvsync.api.proxies import ProxyRoute, proxy_route
from konvsync.api.retries import describe_failure, proxy_refusal
from konvsync.errors import AuthError, TransportError, UsageError
from konvsync.support import redact
from konvsync.support.redact import printable

MAX_JWT_LIFETIME = 21600
JWT_DATED_BACK = 30
"""Seconds a self-signed JWT's ``iat`` lies before konvsync's clock (its
``exp`` still ``--token-lifetime`` after ``iat``): a portal whose clock is
behind by up to this much takes it, where PyJWT and ruby-jwt, without a
leeway by default, refuse an ``iat`` in their future."""
RENEW_BEFORE = 60.0
"""A token is renewed this long before it expires, or ``RENEW_SHARE`` of its
lifetime if that is less, but never less than ``RENEW_FLOOR`` before (so a
60 s token serves about 54 s of requests, not one)."""
RENEW_SHARE = 0.1
RENEW_FLOOR = 1.0
_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
"""What a Bearer token may hold (RFC 6750 §2.1, ``b64token``): it goes into a header."""


class TokenEndpointBusy(TransportError):
    """The token endpoint gave no token this time: it answered 429 (rate
    limited) or 502, 503, 504 (a gateway, or the server, busy), or gave no
    answer (``status`` 0: timed out, dropped the connection). Asking for a
    token changes nothing in the portal, so the caller may ask again. (One
    that cannot be connected to at all is a ``TransportError``, said at once.)"""

    def __init__(self, message: str, status: int, retry_after: str | None, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.url = url


_BUSY = (429, 502, 503, 504)
_NOT_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ClientHttpProxyError, aiohttp.InvalidURL)
"""Failures of a token request that asking again within seconds does not
change: no connection (refused, a name not resolved, TLS, a proxy's
refusal), or no URL to ask. Any other (a timeout, a dropped connection) is
asked again."""


def renew_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token of ``lifetime`` is renewed."""
    return max(min(RENEW_BEFORE, lifetime * RENEW_SHARE), min(RENEW_FLOOR, lifetime / 2))


def _lifetime(value: object) -> float:
    """``expires_in`` as seconds: a number, else the RFC's implied hour."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 3600.0
    try:
        seconds = float(value)
    except ValueError:
        return 3600.0
    return seconds if 0 < seconds < 10**9 else 3600.0


CHECK_THE_ENDPOINT = (
    "check the endpoint's base URL (--endpoint, KONVSYNC_ENDPOINT or the config's endpoint); "
    "konvsync adds /oauth/token and /api to it"
)
"""What a 404 from the token URL or the API URL most often means: a base
URL with a wrong path."""


class TokenProxyRefused(TransportError):
    """The proxy refused the token request (407): asking again through it
    gets the same answer."""


class CredentialsRefused(AuthError):
    """The token endpoint rejected the API key and secret (401,
    ``invalid_client``): asking again gets the same answer."""


class TokenRequestRefused(AuthError):
    """The token endpoint refused the request with an RFC 6749 §5.2 error
    (``invalid_grant``, ``unauthorized_client``, ...): asking again gets
    the same answer."""


_REFUSALS = frozenset(
    (
        "invalid_request",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    )
)
"""RFC 6749 §5.2's errors but ``invalid_client`` (``CredentialsRefused``)."""

_FINAL = (TokenProxyRefused, CredentialsRefused, TokenRequestRefused)
"""Token refusals that stand for the rest of the run."""


class TokenSource(Protocol):
    mode: str

    async def token(self, session: aiohttp.ClientSession) -> str: ...

    def invalidate(self, refused: str) -> None: ...


class _CachedToken:
    def __init__(self) -> None:
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.issued = 0

    def _renewal_lock(self) -> asyncio.Lock:
        """The lock that lets one request renew the token while the others
        wait; one per event loop, as ``plan`` and ``apply`` run in two loops
        and share the token."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def invalidate(self, refused: str) -> None:
        """Forget the token the portal ``refused``, unless it is already
        renewed: requests refused together (a token that stopped working
        while they were in flight) then share one new token, rather than
        each throwing away the one the request before it just fetched (N
        renewals, where a portal that honours only its latest token then
        refuses the requests resent with the earlier ones)."""
        if self._token == refused:
            self._token = None

    def _remember(self, token: str, lifetime: float) -> str:
        """Cache a new token; from now on it is redacted from all output, as
        it is and in the forms a server may echo it (URL-encoded, base64)."""
        for form in redact.credential_forms(token):
            redact.register(form)
        self._token = token
        self._renew_at = time.monotonic() + lifetime - renew_margin(lifetime)
        self.issued += 1
        return token

    def _fresh(self) -> str | None:
        if self._token and time.monotonic() < self._renew_at:
            return self._token
        return None


class OAuthTokens(_CachedToken):
    """RFC 6749 §4.4: Basic client authentication to the token URL, through
    ``proxy`` (default: the environment's proxy for the token URL)."""

    mode = "oauth"

    def __init__(
        self, credentials: Credentials, token_url: str, proxy: ProxyRoute | None = None
    ) -> None:
        super().__init__()
        self._credentials = credentials
        self._url = token_url
        self._proxy = proxy if proxy is not None else proxy_route(token_url)
        key, secret = credentials.api_key, credentials.api_secret
        encoded = f"{quote(key, safe='')}:{quote(secret, safe='')}"
        self._pairs = [encoded]
        """The Basic header's ``key:secret`` forms to try, in order."""
        if f"{key}:{secret}" != encoded and ":" not in key:  # RFC 7617: no ":" in a user-id
            self._pairs.append(f"{key}:{secret}")
        self._refusals = 0
        """How many renewals failed so far (busy, refused, unreachable)."""
        self._refused: TransportError | AuthError | None = None

    async def token(self, session: aiohttp.ClientSession) -> str:
        current = self._fresh()
        if current:
            return current
        if isinstance(self._refused, _FINAL):
            # Refused in a way asking again cannot change (the credentials,
            # a proxy's 407): it stands for every later request of the run,
            # which would otherwise ask again (the reads that start when the
            # config has loaded, after the viewer's token request failed).
            raise _again(self._refused)
        refusals = self._refusals
        async with self._renewal_lock():
            current = self._fresh()
            if current:
                return current
            if self._refusals != refusals and self._refused is not None:
                # The renewal this request waited for failed (busy, or a
                # proxy's 407): its answer stands for every request that
                # waited on it, rather than each asking again (a plan's
                # concurrent reads asked a busy endpoint 23 times in all
                # where 6 say the same).
                raise _again(self._refused) from None
            try:
                return self._remember(*await self._request(session))
            except (TransportError, AuthError) as failure:
                self._refusals += 1
                self._refused = failure
                raise

    async def _request(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        """A token, asked for with the key and secret form-URL-encoded in the
        Basic header (RFC 6749 §2.3.1); refused as ``invalid_client``, asked
        again with them as they are, where that differs (a server reading
        RFC 7617 alone, or the API's "base64(key:secret)", does not decode
        them). The form that served is asked first from then on."""
        for number, pair in enumerate(self._pairs):
            try:
                answer = await self._ask(session, pair)
            except CredentialsRefused:
                if number + 1 == len(self._pairs):
                    raise
                continue
            self._pairs.insert(0, self._pairs.pop(number))
            return answer
        raise AssertionError("unreachable: there is at least one pair")

    async def _ask(self, session: aiohttp.ClientSession, pair: str) -> tuple[str, float]:
        basic = base64.b64encode(pair.encode()).decode()
        redact.register(basic)
        headers = {
            "Authorization": "Basic " + basic,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            async with session.post(
                self._url,
                data="grant_type=client_credentials",
                headers=headers,
                proxy=self._proxy.proxy,
            ) as response:
                status = response.status
                wait = response.headers.get("Retry-After")
                raw = await response.read()
                content_type = response.content_type
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):  # RecursionError: nested deeper than json reads
                body = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = describe_failure(exc, self._proxy.proxy)
            if isinstance(exc, _NOT_CONNECTED):
                raise TransportError(
                    f"cannot reach token endpoint {self._url}{self._proxy.via}: {why}"
                ) from None
            raise TokenEndpointBusy(f"token request failed: {why}", 0, None, self._url) from None
        if status == 407:
            raise TokenProxyRefused(
                f"token request to {self._url}{self._proxy.via}: {proxy_refusal(status)}"
            )
        if status in _BUSY:
            raise TokenEndpointBusy(
                f"token request failed with HTTP {status}{self._reason(body)}",
                status,
                wait,
                self._url,
            )
        if status == 401 or (isinstance(body, dict) and body.get("error") == "invalid_client"):
            raise CredentialsRefused(
                "authentication failed: the portal rejected the API key and secret (invalid_client)"
            )
        if status == 404:
            # Most often a base URL with a wrong path: say which URL, and what to correct.
            raise AuthError(
                f"token endpoint {self._url}{self._proxy.via} answered HTTP 404 (not found): "
                f"{CHECK_THE_ENDPOINT}"
            )
        if status == 200 and not isinstance(body, dict):
            # Most often a web page (a sign-in page, the portal's UI) at the token URL.
            raise AuthError(
                f"token endpoint {self._url}{self._proxy.via} answered HTTP 200 with "
                f"{len(raw)} bytes of {printable(content_type)}, not a JSON object (the form of a "
                f"token, RFC 6749 §5.1): {CHECK_THE_ENDPOINT}"
            )
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            failed = f"token request failed with HTTP {status}{self._reason(body)}"
            error = body.get("error") if isinstance(body, dict) else None
            if status < 500 and isinstance(error, str) and error in _REFUSALS:
                raise TokenRequestRefused(failed)
            raise AuthError(failed)
        token = body["access_token"]
        if not isinstance(token, str) or not _B64TOKEN.fullmatch(token):
            raise AuthError(
                "the token endpoint's answer has no usable access_token (RFC 6749: a "
                "non-empty string of token characters)"
            )
        kind = body.get("token_type")
        if kind is not None and (not isinstance(kind, str) or kind.lower() != "bearer"):
            # RFC 6749 §7.1: a token of a type the client does not know is not used.
            key, secret = self._credentials.api_key, self._credentials.api_secret
            shown = redact.scrub(json.dumps(kind), key, secret, limit=40)
            raise AuthError(
                f"the token endpoint issued a token with token_type {shown}: konvsync "
                "sends Bearer tokens only (RFC 6750)"
            )
        return token, _lifetime(body.get("expires_in", 3600))

    def _reason(self, body: object) -> str:
        """The RFC 6749 §5.2 ``error`` (and ``error_description``) of an
        answer, without anything resembling the key or the secret: a broken
        server may echo what it was sent."""
        if not isinstance(body, dict):
            return ""
        parts = [
            body[name]
            for name in ("error", "error_description")
            if isinstance(body.get(name), str) and body[name]
        ]
        if not parts:
            return ""
        text = ": ".join(parts)
        key, secret = self._credentials.api_key, self._credentials.api_secret
        return f" ({redact.scrub(text, key, secret)})"


class JwtTokens(_CachedToken):
    """A JWT signed with the secret: HS256, ``sub`` = API key."""

    mode = "jwt"

    def __init__(self, credentials: Credentials, lifetime: int) -> None:
        super().__init__()
        if not 60 < lifetime <= MAX_JWT_LIFETIME:
            raise UsageError(
                f"--token-lifetime must be between 61 and {MAX_JWT_LIFETIME} "
                f"seconds, got {lifetime}"
            )
        self._credentials = credentials
        self._lifetime = lifetime

    async def token(self, session: aiohttp.ClientSession) -> str:
        current = self._fresh()
        if current:
            return current
        issued = int(time.time()) - JWT_DATED_BACK
        claims = {"sub": self._credentials.api_key, "iat": issued, "exp": issued + self._lifetime}
        token = _jwt().encode(claims, self._credentials.api_secret, algorithm="HS256")
        return self._remember(token, self._lifetime - JWT_DATED_BACK)


def _again(failure: TransportError | AuthError) -> TransportError | AuthError:
    """The same failure, to raise in another request."""
    if isinstance(failure, TokenEndpointBusy):
        return TokenEndpointBusy(str(failure), failure.status, failure.retry_after, failure.url)
    return type(failure)(str(failure))


def token_source(
    mode: str,
    credentials: Credentials,
    token_url: str,
    jwt_lifetime: int,
    proxy: ProxyRoute | None = None,
) -> OAuthTokens | JwtTokens:
    if mode == "jwt":
        return JwtTokens(credentials, jwt_lifetime)
    return OAuthTokens(credentials, token_url, proxy)


def _jwt() -> ModuleType:
    """PyJWT, imported for the first self-signed token only: OAuth needs
    none of it (4 ms of every start, python -X importtime)."""
    import jwt

    # PyJWT warns about an HMAC key under 32 bytes, with its length: the
    # length of a secret is information about it (and the portal, not the
    # user, chose it), so it is not shown, nor a warning of ours.
    if hasattr(jwt, "InsecureKeyLengthWarning"):
        warnings.filterwarnings("ignore", category=jwt.InsecureKeyLengthWarning)
    return jwt
