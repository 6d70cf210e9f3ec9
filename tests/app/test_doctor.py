"""``konvsync doctor`` through the CLI against real sandboxes."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.support.resources import konvert_sdl
from tests.conftest import KEY, SECRET, CliRun, SandboxFactory, invoke


def test_doctor_against_the_sandbox_passes(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    result = invoke(["--endpoint", sandbox.url, "doctor"])
    assert result.exit_code == 0, result.output
    assert "ok   auth: oauth: token obtained" in result.stdout
    assert "ok   viewer: portal 'Konvsync Sandbox'" in result.stdout
    assert "operations valid against the portal's schema" in result.stdout
    assert result.stdout.strip().endswith("All checks passed.")


def test_a_portal_refusing_introspection_is_a_warning_and_the_rest_is_checked(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Production servers often refuse introspection; apply then warns and
    sends what the contract says. doctor said "FAIL connection:
    introspection: ..." (the connection was fine), stopped there (the
    config's slugs went unchecked) and could never pass on such a portal."""
    sandbox = sandbox_factory(introspection=False)
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G, lmsModules: [nope]}]\n")
    result = invoke(["--endpoint", sandbox.url, "doctor", "--config", str(config)])
    assert "FAIL connection" not in result.stdout, result.stdout
    assert "WARN schema: the portal refuses introspection" in result.stdout, result.stdout
    assert "FAIL references" in result.stdout, result.stdout  # still checked
    assert result.exit_code == 1, result.output
    clean = invoke(["--endpoint", sandbox.url, "doctor"])
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.strip().endswith(
        "All checks passed (1 could not be made: see WARN above)."
    ), clean.stdout


def test_doctor_with_jwt_auth(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    result = invoke(["--endpoint", sandbox.url, "--auth", "jwt", "doctor"])
    assert result.exit_code == 0, result.output
    assert "jwt: token obtained" in result.stdout
    assert sandbox.state.authority.tokens_issued == 0


def test_doctor_on_the_embedded_sandbox() -> None:
    result = invoke(["--endpoint", "sandbox", "doctor"])
    assert result.exit_code == 0, result.output
    assert Path(".konvsync/sandbox.db").exists()


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]])
@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_wrong_secret_fails_in_one_line_without_leaking(
    sandbox_factory: SandboxFactory, verbosity: list[str], auth: str
) -> None:
    sandbox = sandbox_factory()
    wrong = "wrong-secret-value-123-padded-to-32-bytes"
    result = invoke(
        [*verbosity, "--endpoint", sandbox.url, "--auth", auth, "doctor"],
        env={"KONVERT_API_SECRET": wrong},
    )
    assert result.exit_code == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1 and "authentication failed" in failures[0]
    assert wrong not in result.output
    assert SECRET not in result.output


def test_no_token_appears_at_any_verbosity(
    sandbox_factory: SandboxFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox = sandbox_factory()
    result = invoke(["-vv", "--endpoint", sandbox.url, "doctor"])
    assert result.exit_code == 0
    issued = list(sandbox.state.authority._issued)
    assert issued
    captured = capfd.readouterr()
    everything = result.output + captured.out + captured.err
    assert "POST " in everything  # -vv did log requests
    for token in issued:
        assert token not in everything
    assert SECRET not in everything


def test_schema_missing_a_field_is_reported_by_operation_and_field(
    sandbox_factory: SandboxFactory,
) -> None:
    sdl = konvert_sdl().replace(
        "  title: String\n  firstName: String!\n", "  firstName: String!\n", 1
    )
    assert sdl != konvert_sdl()
    sandbox = sandbox_factory(sdl=sdl)
    result = invoke(["--endpoint", sandbox.url, "doctor"])
    assert result.exit_code == 1
    assert (
        "FAIL schema: ReadUsers (kinds/users.graphql): Cannot query field 'title' on type "
        "'User'." in result.stdout
    )


def test_missing_credentials_say_which_variables(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    result = invoke(
        ["--endpoint", sandbox.url, "doctor"], env={"KONVERT_API_KEY": "", "KONVERT_API_SECRET": ""}
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: no credentials: set KONVERT_API_KEY and "
        "KONVERT_API_SECRET (or use --credentials-file FILE)"
    )


def test_credentials_file_and_its_permissions(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    secrets_file = tmp_path / "creds.yaml"
    secrets_file.write_text(f"api_key: {KEY}\napi_secret: {SECRET}\n")
    os.chmod(secrets_file, 0o644)
    result = invoke(
        ["--endpoint", sandbox.url, "--credentials-file", str(secrets_file), "doctor"],
        env={"KONVERT_API_KEY": "", "KONVERT_API_SECRET": ""},
    )
    assert result.exit_code == 0, result.output
    assert "readable by group or others" in result.stderr
    os.chmod(secrets_file, 0o600)
    quiet = invoke(["--endpoint", sandbox.url, "--credentials-file", str(secrets_file), "doctor"])
    assert "readable by group" not in quiet.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"api_key": 1}')
    bad = invoke(["--endpoint", sandbox.url, "--credentials-file", str(broken), "doctor"])
    assert bad.exit_code == 1 and "needs string fields api_key and api_secret" in bad.stderr


def test_unreachable_endpoint_is_one_line(tmp_path: Path) -> None:
    result = invoke(["--max-retries", "1", "--endpoint", "http://127.0.0.1:9", "doctor"])
    assert result.exit_code == 1
    assert "cannot reach token endpoint" in result.stdout
    assert "Traceback" not in result.output


def test_usage_errors_exit_1() -> None:
    too_long = invoke(["--auth", "jwt", "--token-lifetime", "21601", "doctor"])
    assert too_long.exit_code == 1
    assert "--token-lifetime" in too_long.stderr and "21600" in too_long.stderr
    assert invoke(["doctor", "--bogus"]).exit_code == 1
    assert invoke(["--auth", "kerberos", "doctor"]).exit_code == 1
    assert invoke(["nonsense"]).exit_code == 1
    bare = invoke([])
    assert bare.exit_code == 1 and bare.stderr.startswith("Usage: konvsync")
    result = invoke(["--endpoint", "http://portal.example", "doctor"])
    assert result.exit_code == 1 and "plain http" in result.stderr


def plan_against_fake_portal(tmp_path: Path, answer: Callable[[str, bytes], object]) -> CliRun:
    """``plan`` of a one-group config against a fake portal (the true
    boundary) that answers each POST with ``answer(path, body)`` as JSON."""
    import http.server
    import json as jsonlib
    import threading

    class FakePortal(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            payload = jsonlib.dumps(answer(self.path, request)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may have gone already
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakePortal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "c.yaml"
        config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        return invoke(["--endpoint", url, "plan", str(config)])
    finally:
        server.shutdown()


def test_an_answer_outside_the_contract_is_one_line(write_config: object, tmp_path: Path) -> None:
    """A fake portal whose /api answers break the contract: konvsync says so
    in one line, never with a traceback."""

    def answer(path: str, _request: bytes) -> object:
        if path == "/oauth/token":
            return {"access_token": "fake-token-value", "token_type": "Bearer", "expires_in": 3600}
        # a page without pageInfo, a viewer without portalName
        return {"data": {"viewer": {"apiKey": "k"}, "groups": {"nodes": []}}}

    result = plan_against_fake_portal(tmp_path, answer)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: the portal's answer does not fit the API contract: "), (
        result.stderr
    )
    assert result.stderr.count("\n") == 1
    assert "unexpected" not in result.stderr
    assert "fake-token-value" not in result.output


def test_global_options_are_accepted_after_the_command(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    late = invoke(["doctor", "--endpoint", sandbox.url, "--auth", "jwt", "-v"])
    assert late.exit_code == 0, late.output
    assert "jwt: token obtained" in late.stdout
    assert "POST " in late.stderr  # -v took effect
    config = tmp_path / "c.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    planned = invoke(
        [
            "--endpoint",
            "http://127.0.0.1:9",
            "plan",
            str(config),
            "--endpoint",
            sandbox.url,
            "--detailed-exitcode",
        ]
    )
    assert planned.exit_code == 2, planned.output  # the later --endpoint wins


def test_a_failed_read_leaves_nothing_in_flight(tmp_path: Path) -> None:
    """One kind's page breaks the contract while the viewer's answer is slow:
    the read in flight is cancelled before the connection closes, so the
    output is the one error line and nothing from asyncio's shutdown."""
    import time as timelib

    def answer(path: str, request: bytes) -> object:
        if path == "/oauth/token":
            return {"access_token": "t", "expires_in": 3600}
        if b"viewer" in request:
            timelib.sleep(0.5)
            return {"data": {"viewer": {"apiKey": "k", "portalName": "P"}}}
        return {"data": {"groups": {"nodes": []}}}  # no pageInfo

    result = plan_against_fake_portal(tmp_path, answer)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the portal's answer does not fit the API contract: "
        "ReadGroups: groups.pageInfo is missing\n"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_doctor_without_an_endpoint_names_what_it_reads(
    monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]
) -> None:
    """Without --config, doctor reads no config: "or 'endpoint:' in the
    config" sent users to a setting it never looked at, and leaving the
    config out left out the option that makes doctor read one."""
    monkeypatch.delenv("KONVSYNC_ENDPOINT", raising=False)
    bare = invoke(["doctor"])
    assert bare.exit_code == 1, bare.output
    assert bare.stderr.strip() == (
        "Error: no endpoint: set --endpoint, KONVSYNC_ENDPOINT or 'endpoint:' in a config "
        "given with --config (production, staging, sandbox or a URL)"
    )
    config = write_config("konvsync: 1\ngroups: []\n")
    with_config = invoke(["doctor", "--config", str(config)])
    assert with_config.exit_code == 1, with_config.output
    assert "'endpoint:' in the config" in with_config.stderr


def test_a_token_endpoint_that_never_answers_is_named() -> None:
    """The token URL is where to look: a token endpoint that timed out, as
    one that is busy ("token request failed with HTTP 503"), is named."""
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = invoke(["--timeout", "0.5", "--endpoint", url, "doctor"])
    assert result.exit_code == 1, result.output
    assert (
        f"FAIL auth: oauth: token request failed: timed out ({url}/oauth/token)" in result.stdout
    ), result.stdout
