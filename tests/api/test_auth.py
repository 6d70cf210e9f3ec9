"""Credentials and tokens at the edges: short-lived tokens are reused, a
token endpoint's error text and a broken credentials file never show the
secret, and the sandbox is not served to the network on its published secret."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, urlencode

import pytest

from konvsync.api.auth import renew_margin
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET, SandboxFactory, invoke

EVERY_KIND = """\
konvsync: 1
groups: [{externalId: g, name: G}]
accountFields: [{key: f, label: F, type: TEXT}]
accounts: [{externalId: a, name: A, locations: [{name: HQ}]}]
users: [{email: u@x.example, firstName: U, lastName: V}]
"""


@pytest.mark.parametrize("lifetime", [60, 5])
def test_short_lived_tokens_are_reused_not_fetched_per_request(
    sandbox_factory: SandboxFactory, write_config: Callable[..., Path], lifetime: int
) -> None:
    sandbox = sandbox_factory(token_ttl=lifetime)
    config = write_config(EVERY_KIND)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    requests = sandbox.state.requests
    assert requests["/api"] >= 8
    assert requests["/oauth/token"] == 1
    assert sandbox.state.authority.tokens_issued == 1


def test_renew_margin_is_a_share_of_short_lifetimes_with_a_floor() -> None:
    assert renew_margin(21600) == 60
    assert renew_margin(120) == pytest.approx(12)
    assert renew_margin(60) == pytest.approx(6)
    assert renew_margin(5) == 1
    assert renew_margin(1) == 0.5


class _JsonEndpoint(BaseHTTPRequestHandler):
    """A fake endpoint that answers JSON and logs nothing."""

    def answer(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class _EchoingTokenEndpoint(_JsonEndpoint):
    """A broken token endpoint that echoes what it was sent in its error."""

    def do_POST(self) -> None:
        header = self.headers.get("Authorization", "")
        encoded = header.removeprefix("Basic ")
        decoded = base64.b64decode(encoded).decode()
        key, _, secret = decoded.partition(":")
        body = {
            "error": f"invalid_request \x1b[2J{header}",
            "error_description": (
                f"got {decoded} / {base64.b64encode(secret.encode()).decode()} / "
                f"{base64.urlsafe_b64encode(key.encode()).decode().rstrip('=')} / {secret}"
            ),
        }
        self.answer(400, body)


@pytest.fixture
def echoing_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingTokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_token_endpoint_error_text_is_shown_without_any_form_of_the_credentials(
    echoing_endpoint: str, write_config: Callable[..., Path]
) -> None:
    config = write_config("konvsync: 1\ngroups: []\n")
    result = invoke(["--endpoint", echoing_endpoint, "plan", str(config), "--traceback"])
    assert result.exit_code == 1
    assert "token request failed with HTTP 400 (invalid_request \\x1b[2JBasic ***" in result.stderr
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    for form in (SECRET, basic, basic.rstrip("="), base64.b64encode(SECRET.encode()).decode()):
        assert form not in result.output
    assert base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("=") not in result.output
    assert "\x1b" not in result.output


def test_a_short_secret_the_token_endpoint_echoes_is_masked(
    echoing_endpoint: str, write_config: Callable[..., Path]
) -> None:
    """A secret under 4 characters is masked only where it stands whole in
    quotes in konvsync's own text; in a token endpoint's echo of what it was
    sent it showed as it is ("got ***:q7x / ... / q7x"). Text a server sends
    back is masked as its echo: a short secret as a word too."""
    config = write_config("konvsync: 1\ngroups: []\n")
    result = invoke(
        ["--endpoint", echoing_endpoint, "plan", str(config)], env={"KONVERT_API_SECRET": "q7x"}
    )
    assert result.exit_code == 1, result.output
    assert "token request failed with HTTP 400" in result.stderr, result.stderr
    assert "q7x" not in result.output, result.output


class _FormEchoingTokenEndpoint(_JsonEndpoint):
    """A broken token endpoint that echoes the key and secret it decoded
    from the Basic header as a form (``application/x-www-form-urlencoded``,
    a space as ``+``) and as a URL path would hold them (``/`` as it is),
    with lowercase hex escapes, as other libraries write them."""

    def do_POST(self) -> None:
        decoded = base64.b64decode(self.headers.get("Authorization", "")[6:]).decode()
        key, _, secret = (unquote(part) for part in decoded.partition(":"))
        lower = lambda text: re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)  # noqa: E731
        said = [
            urlencode({"client_id": key, "client_secret": secret}),
            quote(secret),
            lower(quote_plus(secret)),
            lower(quote(secret, safe="")),
            base64.b64encode(f"{quote_plus(key)}:{quote_plus(secret)}".encode()).decode(),
        ]
        self.answer(400, {"error": "invalid_request", "error_description": " ".join(said)})


def test_a_token_endpoint_echoing_the_secret_form_encoded_is_masked(
    write_config: Callable[..., Path],
) -> None:
    """A token endpoint that echoed the secret form-URL-encoded (``+`` for
    a space, ``/`` as it is, or lowercase hex) showed it: only its
    ``quote(safe="")`` form, the one konvsync sends, was masked."""
    secret = "s3cr/et pass+wörd"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FormEchoingTokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        config = write_config("konvsync: 1\ngroups: []\n")
        result = invoke(
            ["--endpoint", endpoint, "plan", str(config)], env={"KONVERT_API_SECRET": secret}
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.output
    assert "token request failed with HTTP 400 (invalid_request: " in result.stderr, result.stderr
    for form in ("s3cr", "wörd", "w%C3%B6rd", "w%c3%b6rd", "pass"):
        assert form not in result.output, result.output
    basic = base64.b64encode(f"{quote_plus(KEY)}:{quote_plus(secret)}".encode()).decode()
    assert basic[-12:] not in result.output, result.output


def test_a_token_url_answering_404_names_it_and_the_endpoint_to_check(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    """A base URL with a typo in its path (``/konvrt``) reaches a server
    that has no token endpoint there. "token request failed with HTTP 404"
    neither named the URL nor said that the endpoint is what to correct."""
    config = write_config("konvsync: 1\ngroups: []\n")
    result = invoke(["--endpoint", f"{sandbox.url}/konvrt", "plan", str(config)])
    assert result.exit_code == 1, result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(
        f"Error: token endpoint {sandbox.url}/konvrt/oauth/token answered HTTP 404"
    ), error
    assert "--endpoint" in error, error
    assert "Traceback" not in result.output


def test_an_api_url_answering_404_names_it_and_the_endpoint_to_check(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    """The same typo with ``--auth jwt`` (no token request): the first query
    met the 404, and "Viewer: HTTP 404 from URL" did not say that the
    endpoint is what to correct."""
    config = write_config("konvsync: 1\ngroups: []\n")
    args = ["--auth", "jwt", "--endpoint", f"{sandbox.url}/konvrt", "plan", str(config)]
    result = invoke(args)
    assert result.exit_code == 1, result.output
    error = result.stderr.strip().splitlines()[-1]
    assert f"HTTP 404 from {sandbox.url}/konvrt/api" in error, error
    assert "check the endpoint's base URL" in error and "--endpoint" in error, error
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("creds.yaml", "api_key: k\napi_secret: {secret}\n  oops: [\n", ":3:"),
        ("creds.yaml", "api_key: k\napi_secret: '{secret}\n", ":"),
        ("creds.json", '{{"api_key": "k", "api_secret": "{secret}",}}', ":1:"),
        ("creds.yaml", "api_key: k\napi_secret: !!python/object:os.system {secret}\n", ":2:"),
    ],
)
def test_credentials_file_errors_never_quote_the_file(
    tmp_path: Path, write_config: Callable[..., Path], name: str, text: str, line: str
) -> None:
    secret = "s3cr3t-line-of-the-credentials-file"
    path = tmp_path / name
    path.write_text(text.format(secret=secret))
    path.chmod(0o600)
    config = write_config("konvsync: 1\ngroups: []\n")
    args = ["--credentials-file", str(path), "--endpoint", "https://portal.example", "--traceback"]
    result = invoke([*args, "plan", str(config)])
    assert result.exit_code == 1
    assert f"Error: {path}{line}" in result.stderr and "not valid YAML or JSON" in result.stderr
    assert secret not in result.output
    assert "Traceback" in result.output  # --traceback printed the chain: it holds none of it


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("creds.yaml", "api_key: k\napi_secret: first-{secret}\napi_secret: {secret}\n", ":3:"),
        ("creds.json", '{{"api_key": "k", "api_secret": "a", "api_secret": "{secret}"}}', ":"),
    ],
)
def test_a_credentials_file_giving_a_key_twice_is_refused(
    tmp_path: Path, write_config: Callable[..., Path], name: str, text: str, where: str
) -> None:
    """Which of two secrets counts is a guess (YAML and JSON parsers take the
    last): refused, naming the line, quoting neither."""
    secret = "s3cr3t-given-twice"
    path = tmp_path / name
    path.write_text(text.format(secret=secret))
    path.chmod(0o600)
    config = write_config("konvsync: 1\ngroups: []\n")
    args = ["--credentials-file", str(path), "--endpoint", "https://portal.example"]
    result = invoke([*args, "plan", str(config)])
    assert result.exit_code == 1, result.output
    assert f"Error: {path}{where}" in result.stderr, result.stderr
    assert "a key given twice" in result.stderr, result.stderr
    assert secret not in result.output


def test_credentials_file_that_is_not_a_regular_file_is_refused(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    import os

    fifo = tmp_path / "creds.yaml"
    os.mkfifo(fifo)
    config = write_config("konvsync: 1\ngroups: []\n")
    args = ["--credentials-file", str(fifo), "--endpoint", "https://portal.example"]
    result = invoke([*args, "plan", str(config)])
    assert result.exit_code == 1
    assert "cannot read credentials file: not a regular file" in result.stderr


@pytest.fixture
def _sandbox_log_level() -> Iterator[None]:
    """``konvsync sandbox`` turns its request log on; keep that to the test."""
    logger = logging.getLogger("konvsync.sandbox")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("_sandbox_log_level")
def test_sandbox_refuses_the_network_with_the_published_secret() -> None:
    refused = invoke(["sandbox", "--host", "0.0.0.0", "--db", ":memory:"])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: --host '0.0.0.0' is not a loopback address")
    assert len(refused.stderr.strip().splitlines()) == 1
    stated = invoke(["sandbox", "--host", "192.0.2.1", "--db", ":memory:", "--api-secret", SECRET])
    assert stated.exit_code == 1 and "is not a loopback address" in stated.stderr
    # A secret of one's own passes the check (192.0.2.1, a documentation
    # address, then cannot be bound: nothing is served to any network).
    own = invoke(
        ["sandbox", "--host", "192.0.2.1", "--port", "0", "--db", ":memory:"],
        env={"KONVSYNC_SANDBOX_API_SECRET": "a-secret-of-our-own-of-32-bytes!"},
    )
    assert own.exit_code == 1
    assert "cannot listen on 192.0.2.1:0" in own.stderr


def test_a_short_jwt_secret_is_not_described_in_any_output(tmp_path: Path) -> None:
    """PyJWT warns about an HMAC key under 32 bytes with its length: neither
    the client nor the sandbox (each its own process, as users run them)
    shows it, and the plan works."""
    short = "short-secret"  # 12 bytes
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "KONVERT_API_KEY": KEY,
        "KONVERT_API_SECRET": short,
        "KONVSYNC_SANDBOX_API_SECRET": short,
        "NO_COLOR": "1",
    }
    env.pop("PYTHONWARNINGS", None)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "konvsync", "sandbox", "--port", str(port), "--db", ":memory:"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        config = tmp_path / "konvsync.yaml"
        config.write_text(EVERY_KIND)
        deadline = time.monotonic() + 60
        while True:
            plan = subprocess.run(
                [sys.executable, "-m", "konvsync", "--auth", "jwt", "--endpoint",
                 f"http://127.0.0.1:{port}", "plan", str(config), "--max-retries", "0"],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if "connection refused" not in plan.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        sandbox.terminate()
        _, sandbox_log = sandbox.communicate(timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert "Plan: 5 to add" in plan.stdout
    for output in (plan.stderr, sandbox_log):
        assert "HMAC" not in output and "12 bytes" not in output and "Warning" not in output


class _OddTokenEndpoint(_JsonEndpoint):
    """A token endpoint answering 200 with the ``access_token`` that the
    test's query string (``?token=<JSON>``) names; its API refuses everything."""

    token: object = None

    def do_POST(self) -> None:
        if self.path.endswith("/oauth/token"):
            body = {"access_token": type(self).token, "token_type": "Bearer", "expires_in": 60}
            status = 200
        else:
            body = {"errors": [{"message": "no", "extensions": {"code": "UNAUTHENTICATED"}}]}
            status = 401
        self.answer(status, body)


@pytest.mark.parametrize(
    "token", [None, "", 12, {"a": 1}, "ab\r\nX-Injected: 1", "tok en"], ids=repr
)
def test_a_token_answer_that_is_not_a_token_is_refused_with_one_line(
    token: object, write_config: Callable[..., Path]
) -> None:
    """RFC 6749 §5.1: ``access_token`` is a string (RFC 6750's b64token
    characters). A null was sent as the token "None" (and "None" masked in
    every output from then on: a group named None showed as ***); one with a
    line break ended in "unexpected ValueError ... header injection"."""
    handler = type("Handler", (_OddTokenEndpoint,), {"token": token})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = write_config("konvsync: 1\ngroups: [{externalId: None, name: None}]\n")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = invoke(["--endpoint", url, "plan", str(config)])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: the token endpoint's answer has no usable access_token (RFC 6749: a "
        "non-empty string of token characters)\n"
    ), result.output


ODD_KEY = "key:with%41 odd+chars é"
ODD_SECRET = "s3cr:et%41+plus é/ünï~"


@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_a_key_and_secret_with_reserved_and_non_ascii_characters_authenticate(
    sandbox_factory: SandboxFactory, write_config: Callable[..., Path], auth: str
) -> None:
    """RFC 6749 §2.3.1: the key and secret are form-URL-encoded before they
    are joined by ``:`` in the Basic header (a ``:`` in the key, a ``%`` or
    ``+`` in the secret read back as they were sent). The sandbox answered
    a non-ASCII one with HTTP 500 (``compare_digest`` takes no such text)."""
    sandbox = sandbox_factory(api_key=ODD_KEY, api_secret=ODD_SECRET)
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    env = {"KONVERT_API_KEY": ODD_KEY, "KONVERT_API_SECRET": ODD_SECRET}
    args = ["--auth", auth, "--endpoint", sandbox.url, "plan", str(config)]
    result = invoke(args, env=env)
    assert result.exit_code == 0, result.output
    assert "Plan: 1 to add" in result.stdout
    wrong = invoke(args, env={**env, "KONVERT_API_SECRET": ODD_SECRET + "ß"})
    assert wrong.exit_code == 1, wrong.output
    assert "rejected the" in wrong.stderr and ODD_SECRET not in wrong.output, wrong.output


class _RawTokenEndpoint(BaseHTTPRequestHandler):
    """A token endpoint answering HTTP 200 with the class's body and type."""

    body = b""
    content_type = "application/json"

    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("content_type", "body", "said"),
    [
        ("text/html", b"<html><body>Sign in to Corp SSO</body></html>", "text/html"),
        ("application/x-www-form-urlencoded", b"access_token=abc&token_type=bearer", "form"),
        ("application/json", b"", "application/json"),
        ("application/json", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ],
    ids=["html", "form-encoded", "empty", "nested-too-deeply"],
)
def test_a_token_answer_that_is_no_json_object_is_one_line_naming_the_endpoint(
    content_type: str, body: bytes, said: str, write_config: Callable[..., Path]
) -> None:
    """An SSO login page or a web app's page at the token URL (HTTP 200) said
    "token request failed with HTTP 200"; JSON nested too deeply for Python
    ended in "unexpected RecursionError ... please report it". Both say what
    came back, where from, and what to check."""
    handler = type("Handler", (_RawTokenEndpoint,), {"body": body, "content_type": content_type})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = invoke(["--endpoint", url, "plan", str(write_config("konvsync: 1\ngroups: []\n"))])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: token endpoint {url}/oauth/token answered HTTP 200 ")
    assert said in result.stderr and "not a JSON object" in result.stderr, result.stderr
    assert "check the endpoint's base URL" in result.stderr, result.stderr
