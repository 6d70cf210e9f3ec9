"""What a failed request calls for: ``classify`` says retry, ambiguous or
fail; a failure worth retrying travels as ``Retry`` with its wait, which
the client's ``execute`` honours within the limits."""

from __future__ import annotations

import datetime as dt
import math
import socket
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlsplit

import aiohttp


class HttpStatus(Exception):
    def __init__(self, status: int, retry_after: str | None, said: str = "") -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.said = said
        """What the server said about it, safe to show (its GraphQL error's message)."""


class NotSent(Exception):
    """The connection failed before the request left: always safe to retry."""


class ProxyRefused(Exception):
    """The proxy would not pass the request on (407, or a tunnel it would
    not open): nothing reached the portal, and asking again gets the same
    answer."""

    def __init__(self, status: int) -> None:
        super().__init__(proxy_refusal(status))
        self.status = status


def proxy_refusal(status: int) -> str:
    """What a proxy's refusal means, in words a user can act on (with the
    status's standard phrase, not the proxy's own text)."""
    try:
        phrase = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = f"HTTP {status}"
    if status == 407:
        return (
            f"the proxy refused it ({phrase}): the user and password in the proxy URL "
            "are missing or wrong"
        )
    if status >= 500:
        return f"the proxy could not connect ({phrase})"
    return f"the proxy refused it ({phrase})"


class Retry(Exception):
    """A try that failed in a way worth another: why, and how long to wait."""

    def __init__(
        self, reason: str, delay: float, url: str | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.url = url
        """Where it failed, when not the API's URL (the token endpoint)."""
        self.rate_limited = rate_limited
        """The portal refused it over its request rate (429, RATE_LIMITED)."""
        self.gave_up: str | None = None
        """Set when no further try is made: after how many retries or seconds."""


Verdict = Literal["retry", "ambiguous", "fail"]

GATEWAY_FAILURES = (502, 504)
"""Bad gateway and gateway timeout: the request may have reached the server,
whose answer was lost (retried only when it is safe to resend)."""


def classify(failure: BaseException, retry_safe: bool) -> Verdict:
    """What a failed request calls for. 429 and 503 (the server did nothing)
    and a connection that failed before the request left: retry. 502, 504,
    a timeout or a dropped connection after sending: retry when the request
    is safe to resend, else ambiguous (it may have been applied). Another
    5xx (500: the server failed, maybe after it wrote): fail, or ambiguous
    for a request that is not safe to resend. Any other HTTP status, a
    proxy's refusal and a TLS certificate not accepted (refused again on
    every try; nothing was sent): fail."""
    if isinstance(failure, HttpStatus):
        if failure.status in (429, 503):
            return "retry"
        if failure.status in GATEWAY_FAILURES:
            return "retry" if retry_safe else "ambiguous"
        if failure.status >= 500:
            return "fail" if retry_safe else "ambiguous"
        return "fail"
    if isinstance(failure, NotSent):
        return "retry"
    if isinstance(failure, ProxyRefused | aiohttp.ClientConnectorCertificateError):
        return "fail"
    if isinstance(failure, aiohttp.ClientError | TimeoutError):
        return "retry" if retry_safe else "ambiguous"
    return "fail"


def reason_of(failure: BaseException, proxy: str | None = None) -> str:
    """What failed, in words a user can act on (``describe_failure``;
    ``proxy``: the proxy the request went through)."""
    if isinstance(failure, HttpStatus):
        return f"HTTP {failure.status}" + (f' "{failure.said}"' if failure.said else "")
    if isinstance(failure, NotSent):
        return f"cannot connect: {failure}"
    if isinstance(failure, ProxyRefused):
        return str(failure)
    return describe_failure(failure, proxy)


def retry_after(value: str | None, cap: float, now: dt.datetime | None = None) -> float:
    """Seconds to wait by a ``Retry-After`` header: delta-seconds or an
    HTTP-date (RFC 9110 10.2.3, both forms), within ``[0, cap]``; a second
    when it is missing or neither form."""
    if value is None:
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value, now or dt.datetime.now(dt.UTC))
    if math.isnan(seconds):
        seconds = 1.0
    return max(0.0, min(seconds, cap))


def _seconds_until(http_date: str, now: dt.datetime) -> float:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return 1.0
    if when.tzinfo is None:  # "-0000" or no zone: an HTTP-date is always GMT
        when = when.replace(tzinfo=dt.UTC)
    return (when - now).total_seconds()


def describe_failure(exc: BaseException, proxy: str | None = None) -> str:
    """What failed, in words a user can act on: connection refused, name
    not resolved, TLS, timed out, dropped (the class name only for the rest).
    TLS with ``proxy`` (the request's ``https://`` proxy, if any) is said to
    be the proxy's: the error names the portal's URL too."""
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # a tunnel (CONNECT) refused
        return proxy_refusal(exc.status)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"proxy {_os_failure(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        detail = getattr(error, "verify_message", None) or getattr(error, "reason", None)
        shown = f" ({detail})" if detail else ""
        return f"{_whose(exc, proxy)}TLS certificate not accepted{shown}"
    if isinstance(exc, aiohttp.ClientSSLError):
        reason = getattr(exc.os_error, "reason", None)
        detail = f" ({str(reason).lower().replace('_', ' ')})" if reason else ""
        return f"{_whose(exc, proxy)}TLS handshake failed{detail}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror)
    ):
        return f"name not resolved ({exc.host})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _os_failure(exc.os_error)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection dropped"
    if isinstance(exc, aiohttp.ClientOSError):
        return _os_failure(exc)
    return type(exc).__name__


def _whose(exc: aiohttp.ClientConnectorError, proxy: str | None) -> str:
    """``"the proxy's "`` when the TLS connection that failed is the one to
    ``proxy`` (an https:// proxy: aiohttp's error names the host and port
    it connected to), else nothing (the portal's, tunnelled or not)."""
    if proxy is None:
        return ""
    parts = urlsplit(proxy)
    if parts.scheme != "https" or (parts.hostname, parts.port or 443) != (exc.host, exc.port):
        return ""
    return "the proxy's "


def _os_failure(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, TimeoutError):
        return "timed out"
    return error.strerror.lower() if error.strerror else type(error).__name__
