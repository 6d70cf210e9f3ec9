"""Proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``,
``NO_PROXY``, and their lowercase forms), through the real CLI, against a
forward proxy on loopback that passes every request on to a real sandbox.

Every test sets or clears all the proxy variables itself: they pass on a
machine where some happen to be set. None reaches beyond loopback: a name
that resolves nowhere (``portal.test``) is only ever sent to the proxy,
never looked up, and the direct requests go to loopback addresses or to
``0.0.0.0``, which connects to this host but is no loopback address by
Go's rule (so only ``NO_PROXY`` can make konvsync bypass the proxy for it).
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from konvsync.api.auth import OAuthTokens
from konvsync.api.credentials import Credentials
from konvsync.api.proxies import proxy_route
from konvsync.errors import TransportError, UsageError
from konvsync.sandbox.server import RunningSandbox
from tests.api.forward_proxy import ForwardProxy, forward_proxy
from tests.conftest import KEY, SECRET, CliRun, SandboxFactory, invoke

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "REQUEST_METHOD",
)
USER = "ci-runner"
PASSWORD = "pr0xy-s3cret-pass"


def proxy_env(**values: str) -> dict[str, str | None]:
    """Every proxy variable cleared but ``values``."""
    return {**{name: None for name in PROXY_VARIABLES}, **values}


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def free_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_credentials(url: str, user: str = USER, password: str = PASSWORD) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{password}@{rest}"


def credential_forms(user: str = USER, password: str = PASSWORD) -> list[str]:
    return [password, base64.b64encode(f"{user}:{password}".encode()).decode()]


def doctor(endpoint: str, env: dict[str, str | None], *more: str) -> CliRun:
    return invoke([*more, "--endpoint", endpoint, "--insecure-http", "doctor"], env=env)


def plan(config: Path, endpoint: str, env: dict[str, str | None], *more: str) -> CliRun:
    args = [*more, "--endpoint", endpoint, "--insecure-http", "plan", str(config)]
    return invoke(args, env=env)


def one_error_line(result: CliRun) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def proxy(sandbox: RunningSandbox) -> Iterator[ForwardProxy]:
    with forward_proxy(sandbox.url) as running:
        yield running


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Path:
    return write_config("konvsync: 1\ngroups: []\n")


@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_a_name_that_resolves_nowhere_is_reached_through_the_proxy(
    sandbox: RunningSandbox, proxy: ForwardProxy, auth: str
) -> None:
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    result = doctor(endpoint, proxy_env(HTTP_PROXY=proxy.url), "--auth", auth)
    assert result.exit_code == 0, result.output
    assert proxy.log.forwarded >= 2  # the viewer and the introspection, the token too
    assert all(r.startswith(f"POST {endpoint}/") for r in proxy.log.requests)
    assert (f"POST {endpoint}/oauth/token" in proxy.log.requests) == (auth == "oauth")
    assert f"ok   proxy: {endpoint}/api through proxy {proxy.url} (HTTP_PROXY)" in result.stdout


def test_a_lowercase_variable_wins_over_its_uppercase_form(
    sandbox: RunningSandbox, proxy: ForwardProxy
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    result = doctor(endpoint, proxy_env(HTTP_PROXY=dead, http_proxy=proxy.url))
    assert result.exit_code == 0, result.output
    assert proxy.log.forwarded >= 2
    assert f"through proxy {proxy.url} (http_proxy)" in result.stdout


def test_the_https_variable_is_not_used_for_an_http_endpoint(
    sandbox: RunningSandbox, proxy: ForwardProxy
) -> None:
    result = doctor(f"http://0.0.0.0:{port_of(sandbox.url)}", proxy_env(HTTPS_PROXY=proxy.url))
    assert result.exit_code == 0, result.output
    assert proxy.log.requests == []
    assert "direct (no HTTP_PROXY or http_proxy set)" in result.stdout


@pytest.mark.parametrize(
    "no_proxy",
    ["0.0.0.0", "0.0.0.0/8", "0.0.0.0:{port}", "*", "portal.example, 0.0.0.0 ,"],
)
def test_no_proxy_sends_the_request_direct(
    sandbox: RunningSandbox, proxy: ForwardProxy, no_proxy: str
) -> None:
    port = port_of(sandbox.url)
    entry = no_proxy.format(port=port)
    result = doctor(f"http://0.0.0.0:{port}", proxy_env(HTTP_PROXY=proxy.url, no_proxy=entry))
    assert result.exit_code == 0, result.output
    assert proxy.log.requests == []
    assert "ok   proxy: " in result.stdout and "direct (NO_PROXY entry " in result.stdout


@pytest.mark.parametrize("no_proxy", ["0.0.0.0:1", "10.0.0.0/8", "::/0", "0.0.0.1"])
def test_a_no_proxy_entry_that_does_not_match_leaves_the_proxy_in_use(
    sandbox: RunningSandbox, proxy: ForwardProxy, no_proxy: str
) -> None:
    endpoint = f"http://0.0.0.0:{port_of(sandbox.url)}"
    result = doctor(endpoint, proxy_env(HTTP_PROXY=proxy.url, NO_PROXY=no_proxy))
    assert result.exit_code == 0, result.output
    assert proxy.log.forwarded >= 2
    assert all(r.startswith(f"POST {endpoint}/") for r in proxy.log.requests)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_never_proxied(sandbox: RunningSandbox, proxy: ForwardProxy, host: str) -> None:
    env = proxy_env(HTTP_PROXY=proxy.url, HTTPS_PROXY=proxy.url)
    result = doctor(f"http://{host}:{port_of(sandbox.url)}", env)
    assert result.exit_code == 0, result.output
    assert proxy.log.requests == []
    assert f"direct ({host} is loopback, never proxied)" in result.stdout


def test_the_embedded_sandbox_works_with_a_proxy_set(proxy: ForwardProxy) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = invoke(
        ["--endpoint", "sandbox", "doctor"],
        env=proxy_env(HTTP_PROXY=dead, HTTPS_PROXY=dead),
    )
    assert result.exit_code == 0, result.output
    assert proxy.log.requests == []


@pytest.mark.parametrize("verbosity", [[], ["-vv"]])
@pytest.mark.parametrize("password", [PASSWORD, "p@ss:w/rd-s3cret"])
def test_proxy_credentials_are_sent_and_never_shown(
    sandbox_factory: SandboxFactory,
    verbosity: list[str],
    password: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sandbox = sandbox_factory()
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    written = password.replace("@", "%40").replace(":", "%3A").replace("/", "%2F")
    with forward_proxy(sandbox.url, credentials=(USER, password)) as proxy:
        env = proxy_env(HTTP_PROXY=with_credentials(proxy.url, password=written))
        result = doctor(endpoint, env, *verbosity)
    assert result.exit_code == 0, result.output
    assert proxy.log.forwarded >= 2 and proxy.log.authorizations
    shown = f"http://***@127.0.0.1:{port_of(proxy.url)}"
    assert f"through proxy {shown} (HTTP_PROXY)" in result.stdout
    captured = capfd.readouterr()
    everything = result.output + captured.out + captured.err
    for form in [*credential_forms(password=password), written]:
        assert form not in everything


@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_a_proxy_that_refuses_the_credentials_is_one_line(
    sandbox: RunningSandbox, config: Path, auth: str
) -> None:
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    with forward_proxy(sandbox.url, credentials=(USER, "the-right-one")) as proxy:
        env = proxy_env(HTTP_PROXY=with_credentials(proxy.url))
        result = plan(config, endpoint, env, "--auth", auth)
    line = one_error_line(result)
    assert "HTTP 407" in line
    assert f"proxy http://***@127.0.0.1:{port_of(proxy.url)} (HTTP_PROXY)" in line
    for form in credential_forms():
        assert form not in result.output
    assert proxy.log.forwarded == 0
    if auth == "oauth":  # the token request, alone: a refusal is not tried again
        assert proxy.log.requests == [f"POST {endpoint}/oauth/token"]


@pytest.mark.parametrize("connect_status", [None, 403])
def test_a_proxy_refusal_is_not_tried_again(
    sandbox: RunningSandbox, connect_status: int | None
) -> None:
    scheme = "https" if connect_status else "http"
    endpoint = f"{scheme}://portal.test:{port_of(sandbox.url)}"
    with forward_proxy(sandbox.url, credentials=(USER, "the-right-one")) as proxy:
        env = proxy_env(**{f"{scheme.upper()}_PROXY": with_credentials(proxy.url)})
        result = doctor(endpoint, env, "--auth", "jwt", "--max-retries", "5")
    assert result.exit_code == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1 and "the proxy refused it" in failures[0], result.stdout
    assert len(proxy.log.requests) == 1, proxy.log.requests  # the viewer query, once


@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_a_proxy_that_cannot_be_reached_is_one_line(
    sandbox: RunningSandbox, config: Path, auth: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    env = proxy_env(HTTP_PROXY=with_credentials(dead))
    result = plan(config, endpoint, env, "--auth", auth, "--max-retries", "1")
    line = one_error_line(result)
    assert "proxy connection refused" in line
    if auth == "jwt":  # the API's requests retry a connection that failed; the token's do not
        assert "gave up after 1 retries" in line
    assert f"proxy http://***@127.0.0.1:{port_of(dead)}" in line
    for form in credential_forms():
        assert form not in result.output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            f"http://{USER}:{PASSWORD}@proxy.corp:99999",
            "HTTP_PROXY (http://***@proxy.corp:99999) is not a proxy URL: "
            "its port is not a number from 1 to 65535",
        ),
        (
            f"socks5://{USER}:{PASSWORD}@127.0.0.1:1080",
            "HTTP_PROXY (socks5://***@127.0.0.1:1080) is not a proxy URL: konvsync "
            "goes through http:// and https:// proxies, not socks5://",
        ),
        (f"http://{USER}:{PASSWORD}@[::1", "HTTP_PROXY (http://***@[::1) is not a proxy URL"),
        (f"http://{USER}:{PASSWORD}@:3128", "HTTP_PROXY (http://***@:3128) is not a proxy URL"),
    ],
)
def test_a_proxy_variable_that_is_no_url_is_one_line(
    sandbox: RunningSandbox, config: Path, value: str, message: str
) -> None:
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    result = plan(config, endpoint, proxy_env(HTTP_PROXY=value))
    line = one_error_line(result)
    assert message in line
    assert PASSWORD not in result.output
    assert sandbox.state.authority.tokens_issued == 0


@pytest.mark.parametrize("mark", ["/", "?", "#"])
def test_a_proxy_password_holding_a_path_or_query_mark_is_refused_unshown(
    sandbox: RunningSandbox, config: Path, mark: str
) -> None:
    """A password written as it is with a ``/``, ``?`` or ``#`` in it ends
    the host part there: ``http://localhost:2024/rest@proxy`` read as the
    proxy ``localhost:2024``, so requests went to a proxy nobody set and its
    errors showed ``http://localhost:2024``, the password's first part."""
    value = f"http://localhost:2024{mark}{PASSWORD}@127.0.0.1:{free_port()}"
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    result = plan(config, endpoint, proxy_env(HTTP_PROXY=value), "--max-retries", "0")
    line = one_error_line(result)
    assert "HTTP_PROXY (http://***@127.0.0.1:" in line and "is not a proxy URL" in line, line
    assert "percent-encode" in line, line
    assert "2024" not in result.output and PASSWORD not in result.output, result.output
    assert sandbox.state.authority.tokens_issued == 0


def test_a_proxy_variable_that_is_no_url_matters_only_where_it_is_used(
    sandbox: RunningSandbox,
) -> None:
    result = doctor(sandbox.url, proxy_env(HTTP_PROXY="socks5://127.0.0.1:1080"))
    assert result.exit_code == 0, result.output


def test_a_proxy_without_scheme_is_an_http_proxy(
    sandbox: RunningSandbox, proxy: ForwardProxy
) -> None:
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"
    result = doctor(endpoint, proxy_env(HTTP_PROXY=proxy.url.removeprefix("http://")))
    assert result.exit_code == 0, result.output
    assert proxy.log.forwarded >= 2


def test_a_tunnel_the_proxy_cannot_open_is_retried_as_a_connection_failure(
    sandbox: RunningSandbox,
) -> None:
    with forward_proxy(sandbox.url, connect_status=502) as proxy:
        env = proxy_env(HTTPS_PROXY=proxy.url)
        result = doctor("https://portal.test", env, "--auth", "jwt", "--max-retries", "2")
    assert result.exit_code == 1
    assert proxy.log.connects == ["CONNECT portal.test:443"] * 3
    assert (
        "Viewer: gave up after 2 retries (cannot connect: the proxy could not connect "
        f"(HTTP 502 Bad Gateway)) at https://portal.test/api through proxy {proxy.url} "
        "(HTTPS_PROXY)"
    ) in result.stdout


@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_an_https_endpoint_asks_the_proxy_for_a_tunnel(
    sandbox: RunningSandbox, config: Path, auth: str
) -> None:
    with forward_proxy(sandbox.url, connect_status=403) as proxy:
        env = proxy_env(HTTPS_PROXY=with_credentials(proxy.url))
        result = plan(config, "https://portal.test", env, "--auth", auth)
    line = one_error_line(result)
    assert proxy.log.connects and proxy.log.requests == proxy.log.connects
    assert set(proxy.log.connects) == {"CONNECT portal.test:443"}
    assert "HTTP 403" in line
    assert f"proxy http://***@127.0.0.1:{port_of(proxy.url)} (HTTPS_PROXY)" in line
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert set(proxy.log.authorizations) == {basic}
    for form in credential_forms():
        assert form not in result.output


def _route(url: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    route = proxy_route(url)
    return route.shown or "direct"


P = "http://proxy.corp:3128"


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        # by the request's scheme; the lowercase variable first, even set empty
        ("https://portal.example", {"HTTPS_PROXY": P}, P),
        ("https://portal.example", {"HTTP_PROXY": P}, "direct"),
        ("http://portal.example", {"HTTP_PROXY": P}, P),
        (
            "https://portal.example",
            {"HTTPS_PROXY": P, "https_proxy": "http://low:1"},
            "http://low:1",
        ),
        ("https://portal.example", {"HTTPS_PROXY": P, "https_proxy": ""}, "direct"),
        ("https://portal.example", {"HTTPS_PROXY": "proxy.corp:3128"}, P),
        ("https://portal.example", {"HTTPS_PROXY": "https://proxy.corp"}, "https://proxy.corp"),
        ("https://portal.example", {"HTTPS_PROXY": P, "NO_PROXY": "x", "no_proxy": "*"}, "direct"),
        ("https://portal.example", {"HTTPS_PROXY": P, "NO_PROXY": "*", "no_proxy": "x"}, P),
    ],
)
def test_which_variable_a_url_goes_by(
    url: str, env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _route(url, monkeypatch, **env) == expected


@pytest.mark.parametrize(
    ("url", "no_proxy", "direct"),
    [
        # loopback, whatever NO_PROXY says
        ("https://localhost:8443", "", True),
        ("https://127.1.2.3", "", True),
        ("https://[::1]:8443", "", True),
        # as Go takes it: a name and its subdomains, a leading dot or *. for
        # subdomains only, ports (the default one counted), IPs, CIDR, *
        ("https://portal.example", "portal.example", True),
        ("https://api.portal.example", "portal.example", True),
        ("https://Portal.Example", "PORTAL.example", True),
        ("https://myportal.example", "portal.example", False),
        ("https://portal.example", ".portal.example", False),
        ("https://a.portal.example", ".portal.example", True),
        ("https://portal.example", "*.portal.example", False),
        ("https://a.portal.example", "*.portal.example", True),
        ("https://portal.example", "portal.example:443", True),
        ("https://portal.example", "portal.example:8443", False),
        ("https://portal.example:8443", "portal.example:8443", True),
        ("https://10.1.2.3", "10.0.0.0/8", True),
        ("https://10.1.2.3", "10.1.2.3", True),
        ("https://10.1.2.3", "10.1.2.3:443", True),
        ("https://10.1.2.3", "10.1.2.4,11.0.0.0/8", False),
        ("https://[2001:db8::1]", "2001:db8::/32", True),
        ("https://[2001:db8::1]", "[2001:db8::1]:443", True),
        ("https://[2001:db8::1]", "2001:db8::1", True),
        ("https://portal.example", "10.0.0.0/8", False),
        ("https://portal.example", " *", True),
        ("https://portal.example", "a.example, portal.example", True),
        ("https://portal.example", "a.example,,not a host", False),
    ],
)
def test_which_hosts_no_proxy_sends_direct(
    url: str, no_proxy: str, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = "direct" if direct else P
    assert _route(url, monkeypatch, HTTPS_PROXY=P, NO_PROXY=no_proxy) == expected


def test_a_route_holds_the_credentials_only_where_aiohttp_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://{USER}:p%40ss@proxy.corp:3128")
    for name in ("https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    route = proxy_route("https://portal.example/api")
    assert route.shown == "http://***@proxy.corp:3128"
    assert route.proxy == f"http://{USER}:p%40ss@proxy.corp:3128"
    assert "p%40ss" not in repr(route) and "p@ss" not in repr(route)
    with pytest.raises(UsageError):
        monkeypatch.setenv("HTTPS_PROXY", "ftp://proxy.corp")
        proxy_route("https://portal.example/api")


def test_requests_waiting_on_a_refused_token_request_do_not_ask_again(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"

    async def three_at_once(tokens: OAuthTokens) -> list[object]:
        async with aiohttp.ClientSession() as session:
            asked = (tokens.token(session) for _ in range(3))
            return await asyncio.gather(*asked, return_exceptions=True)

    with forward_proxy(sandbox.url, credentials=(USER, "the-right-one")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", with_credentials(proxy.url))
        tokens = OAuthTokens(Credentials(KEY, SECRET), f"{endpoint}/oauth/token")
        answers = asyncio.run(three_at_once(tokens))
    assert all(isinstance(a, TransportError) and "HTTP 407" in str(a) for a in answers)
    assert proxy.log.requests == [f"POST {endpoint}/oauth/token"]


def test_a_refused_token_stands_for_the_requests_that_ask_later(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's 407 to the token request, then a request that asks after it
    failed (a plan's reads start when the config has loaded, after the
    viewer's token request was refused; then, now and then, their token
    request reached the proxy before the viewer's failure cancelled them).
    Asking again through that proxy gets the same answer: it is not sent."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    endpoint = f"http://portal.test:{port_of(sandbox.url)}"

    async def one_after_the_other(tokens: OAuthTokens) -> list[object]:
        async with aiohttp.ClientSession() as session:
            return [
                await asyncio.gather(tokens.token(session), return_exceptions=True)
                for _ in range(2)
            ]

    with forward_proxy(sandbox.url, credentials=(USER, "the-right-one")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", with_credentials(proxy.url))
        tokens = OAuthTokens(Credentials(KEY, SECRET), f"{endpoint}/oauth/token")
        answers = asyncio.run(one_after_the_other(tokens))
    assert all(isinstance(a[0], TransportError) and "HTTP 407" in str(a[0]) for a in answers)
    assert proxy.log.requests == [f"POST {endpoint}/oauth/token"]
