"""``classify``: what each failed request calls for, safe to resend or not;
``describe_failure``: what failed, in words (through the CLI where it can be
made on loopback)."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from konvsync.api.retries import (
    HttpStatus,
    NotSent,
    classify,
    describe_failure,
    reason_of,
    retry_after,
)
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import SandboxFactory, invoke


@pytest.mark.parametrize(
    ("failure", "safe", "unsafe"),
    [
        (HttpStatus(429, "2"), "retry", "retry"),
        (HttpStatus(503, None), "retry", "retry"),
        (HttpStatus(502, None), "retry", "ambiguous"),
        (HttpStatus(504, None), "retry", "ambiguous"),
        (HttpStatus(500, None), "fail", "ambiguous"),
        (HttpStatus(403, None), "fail", "fail"),
        (NotSent("refused"), "retry", "retry"),
        (TimeoutError(), "retry", "ambiguous"),
        (aiohttp.ServerDisconnectedError(), "retry", "ambiguous"),
        (ValueError("not a transport failure"), "fail", "fail"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_classify(failure: BaseException, safe: str, unsafe: str) -> None:
    assert classify(failure, retry_safe=True) == safe
    assert classify(failure, retry_safe=False) == unsafe


def test_retry_after_is_capped_and_defaults_to_a_second() -> None:
    assert retry_after("120", cap=60.0) == 60.0
    assert retry_after(None, cap=60.0) == 1.0
    assert retry_after("soon", cap=60.0) == 1.0
    assert retry_after("-3", cap=60.0) == 0.0
    assert retry_after("nan", cap=60.0) == 1.0


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    now = dt.datetime(2026, 12, 6, 22, 0, 0, tzinfo=dt.UTC)
    assert retry_after("Sun, 06 Dec 2026 22:00:07 GMT", cap=60.0, now=now) == 7.0
    assert retry_after("Sunday, 06-Dec-26 22:00:07 GMT", cap=60.0, now=now) == 7.0  # RFC 850
    assert retry_after("Sun Dec  6 22:00:07 2026", cap=60.0, now=now) == 7.0  # asctime: GMT
    assert retry_after("Sun, 06 Dec 2026 23:00:00 GMT", cap=60.0, now=now) == 60.0
    assert retry_after("Sun, 06 Dec 2026 21:59:00 GMT", cap=60.0, now=now) == 0.0
    assert retry_after("Sun, 06 Dec 99999 22:00:00 GMT", cap=60.0, now=now) == 1.0


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_says_so(closed_port: int, tmp_path: Path) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    url = f"http://127.0.0.1:{closed_port}"
    token = invoke(["--endpoint", url, "plan", str(config)])
    assert token.exit_code == 1
    assert token.stderr == (
        f"Error: cannot reach token endpoint {url}/oauth/token: connection refused\n"
    )
    api = invoke(["--auth", "jwt", "--endpoint", url, "plan", str(config), "--max-retries", "0"])
    assert api.exit_code == 1
    assert api.stderr == (
        f"Error: Viewer: gave up after 0 retries (cannot connect: connection refused) at "
        f"{url}/api\n"
    )


def test_tls_to_a_plain_http_server_says_tls(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    url = sandbox.url.replace("http://", "https://")
    result = invoke(["--endpoint", url, "plan", str(config)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot reach token endpoint {url}/oauth/token: TLS handshake failed "
        "(wrong version number)\n"
    )


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        args = ["--timeout", "0.5", "--endpoint", url, "plan", str(config), "--max-retries", "1"]
        result = invoke(args)
    assert result.exit_code == 1
    # Asked again as a timeout of the API is; the first read to give up names itself.
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.endswith(
        f": gave up after 1 retries (token request failed: timed out) at {url}/oauth/token\n"
    ), result.stderr


def test_an_unknown_host_names_the_host() -> None:
    """(No name lookups in tests: the error aiohttp raises is made here.)"""
    key = ConnectionKey("portal.invalid", 443, True, True, None, None, None)
    failure = aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name or service not known"))
    assert describe_failure(failure) == "name not resolved (portal.invalid)"
    assert reason_of(NotSent(describe_failure(failure))) == (
        "cannot connect: name not resolved (portal.invalid)"
    )


def test_giving_up_over_the_request_rate_says_how_to_get_through(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Requests in flight at once are refused together over a low rate, and
    retried together: "gave up after 0 retries (HTTP 429)" named the rate
    but not what gets a run through it."""
    sandbox = sandbox_factory(rate_limit=1)
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\ngroups:\n"
        + "".join(f"  - {{externalId: g{i}, name: G{i}}}\n" for i in range(200))
    )
    args = ["apply", str(config), "--auto-approve", "--max-retries", "0", "--batch-size", "5"]
    result = invoke(["--endpoint", sandbox.url, *args])
    assert result.exit_code == 1, result.output
    assert 'gave up after 0 retries (HTTP 429 "rate limit exceeded")' in result.output
    assert (
        "; the portal limits its request rate: let each request retry more (--max-retries), "
        "or send fewer at once (apply's --parallelism)"
    ) in result.output
