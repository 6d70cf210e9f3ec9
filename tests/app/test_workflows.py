"""Each command runs in one event loop: one ``asyncio.run`` for plan, apply
(plan, confirm and apply on one connection), a saved plan's apply, export and
drift; and the prompt in that loop still answers Ctrl-C at once."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import KONVSYNC, subprocess_env
from tests.conftest import KEY, SECRET, invoke
from tests.published_schemas import validated

CONFIG = """\
konvsync: 1
groups: [{externalId: sales, name: Sales}]
accounts:
  - {externalId: acme, name: Acme, locations: [{name: HQ}]}
"""


@pytest.fixture
def event_loops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``asyncio.run`` calls the command makes on the main thread (the
    in-process sandbox of a test runs its own loop on another thread)."""
    calls: list[str] = []
    real_run: Callable[..., Any] = asyncio.run

    def counting_run(main: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            calls.append(getattr(main, "__qualname__", "?"))
        return real_run(main, **kwargs)

    monkeypatch.setattr(asyncio, "run", counting_run)
    return calls


def test_apply_plans_and_applies_in_one_event_loop(
    sandbox: RunningSandbox, tmp_path: Path, event_loops: list[str]
) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text(CONFIG)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "Apply complete! Resources: 3 added" in result.stdout
    assert len(event_loops) == 1
    assert sandbox.state.authority.tokens_issued == 1


def test_plan_saved_plan_apply_export_and_drift_each_run_one_loop(
    sandbox: RunningSandbox, tmp_path: Path, event_loops: list[str]
) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text(CONFIG)
    planfile = tmp_path / "plan.bin"
    commands = [
        ["plan", str(config), "--out", str(planfile)],
        ["apply", str(planfile)],
        ["drift", str(config)],
        ["export", "--out", str(tmp_path / "export")],
    ]
    for command in commands:
        event_loops.clear()
        result = invoke(["--endpoint", sandbox.url, *command])
        assert result.exit_code in (0, 2), (command, result.output)
        assert len(event_loops) == 1, (command, event_loops)
    assert sandbox.store.count("locations") == 1


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_credentials_are_read_once_when_connecting_while_the_config_loads(
    sandbox: RunningSandbox, tmp_path: Path, command: str
) -> None:
    """``--endpoint`` names the portal: the credentials file is read once,
    so its permissions warning is logged once."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(CONFIG)
    credentials = tmp_path / "creds.yaml"
    credentials.write_text(f"api_key: {KEY}\napi_secret: {SECRET}\n")
    os.chmod(credentials, 0o644)
    args = [command, str(config), *(["--auto-approve"] if command == "apply" else [])]
    result = invoke(
        ["--endpoint", sandbox.url, "--credentials-file", str(credentials), *args],
        env={"KONVERT_API_KEY": "", "KONVERT_API_SECRET": ""},
    )
    assert result.exit_code in (0, 2), result.output
    assert result.stderr.count("readable by group or others") == 1, result.stderr


# ------------------------------------------------------- a real terminal


def _plan_on_a_terminal(sandbox: RunningSandbox, tmp_path: Path, term: str) -> bytes:
    """What ``konvsync plan`` writes to a terminal (a pty) of type ``term``,
    NO_COLOR not set."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(CONFIG)
    main, terminal = pty.openpty()
    env = {k: v for k, v in subprocess_env(TERM=term).items() if k != "NO_COLOR"}
    process = subprocess.Popen(
        [*KONVSYNC, "--endpoint", sandbox.url, "plan", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    output = _rest(main, process)
    assert process.returncode == 0, output
    return output


def test_a_dumb_terminal_gets_no_colour(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """TERM=dumb (Emacs' shell, some CI log viewers) shows escape codes as
    text; every colour-aware tool leaves colour out there, as for NO_COLOR."""
    assert b"\x1b[" in _plan_on_a_terminal(sandbox, tmp_path, "xterm-256color")
    output = _plan_on_a_terminal(sandbox, tmp_path, "dumb")
    assert b"Plan: 3 to add" in output, output
    assert b"\x1b" not in output, output


# ------------------------------------------------------- the real prompt


def _at_the_prompt(
    sandbox: RunningSandbox, tmp_path: Path, *extra: str, config_text: str = CONFIG
) -> tuple[subprocess.Popen[bytes], int]:
    """``konvsync apply`` with a terminal (a pty) for stdin and stdout, once
    it asks for confirmation: the process and the terminal's other end.

    It waits a moment after the question appears: a signal that arrives
    between Python's last check for signals and the blocking read of the
    answer (readline's select) is only noticed at the next signal, in any
    Python program. No person is that quick; a test sending the signal
    as soon as it sees the question was, about one time in ten."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(config_text)
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [*KONVSYNC, "--endpoint", sandbox.url, "apply", str(config), *extra],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=subprocess_env(),
    )
    os.close(terminal)
    _read_until(main, b"Only 'yes' will be accepted")
    time.sleep(0.5)
    return process, main


def _read_until(main: int, text: bytes, seconds: float = 120) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while text not in seen:
        assert time.monotonic() < deadline, seen
        if select.select([main], [], [], 0.5)[0]:
            seen += os.read(main, 4096)
    return seen


def _rest(main: int, process: subprocess.Popen[bytes]) -> bytes:
    """What the command prints until it exits (it must exit within 120 s)."""
    rest = b""
    deadline = time.monotonic() + 120
    while process.poll() is None or select.select([main], [], [], 0.2)[0]:
        assert time.monotonic() < deadline, rest
        if select.select([main], [], [], 0.2)[0]:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal closed with the child
                break
            if not chunk:
                break
            rest += chunk
    process.wait(timeout=10)
    os.close(main)
    return rest


def test_the_prompt_is_answered_inside_the_same_connection(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    process, main = _at_the_prompt(sandbox, tmp_path)
    os.write(main, b"yes\n")
    output = _rest(main, process)
    assert process.returncode == 0, output
    assert b"Apply complete! Resources: 3 added" in output
    assert sandbox.state.authority.tokens_issued == 1


def test_ctrl_c_at_the_prompt_cancels_at_once_and_writes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    process, main = _at_the_prompt(sandbox, tmp_path)
    process.send_signal(signal.SIGINT)
    output = _rest(main, process)  # no line typed: the prompt must not wait for one
    assert process.returncode == 1, output
    assert b"Traceback" not in output
    assert sandbox.store.count("groups") == 0


@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-d"])
def test_leaving_the_prompt_says_that_nothing_was_changed(
    sandbox: RunningSandbox, tmp_path: Path, how: str
) -> None:
    """Ctrl-C or Ctrl-D (end of input) at the prompt printed click's bare
    "Aborted.", which says neither what was aborted nor whether anything
    was written; 'no' already said "Apply cancelled."."""
    process, main = _at_the_prompt(sandbox, tmp_path)
    if how == "ctrl-c":
        process.send_signal(signal.SIGINT)
    else:
        os.write(main, b"\x04")
    output = _rest(main, process)
    assert process.returncode == 1, output
    assert b"Error: Apply cancelled at the prompt; nothing was changed." in output, output
    assert output.startswith((b"\r\n", b"\n")), output  # the prompt's line ends first
    assert b"Aborted." not in output, output
    assert sandbox.store.count("groups") == 0


def test_sigterm_at_the_prompt_writes_the_report_and_nothing_else(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    process, main = _at_the_prompt(sandbox, tmp_path, "--report", str(report))
    process.send_signal(signal.SIGTERM)
    output = _rest(main, process)
    assert process.returncode == 1, output
    assert b"Traceback" not in output
    data = validated(report.read_text(), "apply-report")
    assert data["status"] == "error", data
    assert data["error"]["code"] == "apply_cancelled", data
    assert data["summary"]["done"] == 0
    assert sandbox.store.count("groups") == 0


SHARED = """\
konvsync: 1
policy:
  prune: [accounts]
  scope: {accounts: ["a-*"], users: ["*@a.example"]}
accounts: []
users: []
"""


def test_a_portal_changed_while_the_plan_is_read_at_the_prompt_is_not_applied(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A person reads the plan for seconds or minutes. Another team put its
    user in the account the plan deletes meanwhile: 'yes' deleted it, and
    the user lost its account with "Apply complete!" (apply's checks before
    each step look at the account, not at who refers to it). As with a saved
    plan, the portal is read again once the person answers: exit 3, nothing
    changed."""
    store = sandbox.store
    old = store.create("accounts", {"externalId": "a-old", "name": "Old"})
    user = store.create("users", {"email": "bo@b.example", "firstName": "Bo", "lastName": "B"})
    process, main = _at_the_prompt(sandbox, tmp_path, config_text=SHARED)
    store.update("users", user["id"], {"accountId": old["id"]})  # another team, meanwhile
    os.write(main, b"yes\n")
    output = _rest(main, process)
    assert process.returncode == 3, output
    assert b"which the plan did not say; nothing was changed; run apply again" in output, output
    assert store.get("accounts", key="a-old") is not None


def test_a_portal_unchanged_at_the_prompt_is_applied_after_one_more_read(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.store.create("accounts", {"externalId": "a-old", "name": "Old"})
    process, main = _at_the_prompt(sandbox, tmp_path, config_text=SHARED)
    os.write(main, b"yes\n")
    output = _rest(main, process)
    assert process.returncode == 0, output
    assert b"Apply complete! Resources: 0 added, 0 changed, 1 destroyed." in output, output
    assert sandbox.store.get("accounts", key="a-old") is None


def test_fewer_objects_outside_the_scope_at_the_prompt_than_the_plan_named_is_applied(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The plan shown warned that its delete takes the account from 2 users
    of another team (bo@, cy@); cy@'s team moves cy@ out of it while the
    plan is read: the delete now concerns fewer users than the plan named,
    and 'yes' applies it. Before, the warning's count differed from the
    one shown, and apply refused (exit 3) a plan that had named bo@."""
    store = sandbox.store
    old = store.create("accounts", {"externalId": "a-old", "name": "Old"})
    users = [
        store.create(
            "users",
            {"email": email, "firstName": "F", "lastName": "L", "accountId": old["id"]},
            options={"sendWelcomeEmail": False},
        )
        for email in ("bo@b.example", "cy@b.example")
    ]
    process, main = _at_the_prompt(sandbox, tmp_path, config_text=SHARED)
    store.update("users", users[1]["id"], {"accountId": None})  # cy@'s team, meanwhile
    os.write(main, b"yes\n")
    output = _rest(main, process)
    assert process.returncode == 0, output
    assert b"Apply complete! Resources: 0 added, 0 changed, 1 destroyed." in output, output
    assert store.get("accounts", key="a-old") is None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_portal_is_read_again_says_that_nothing_was_changed(
    sandbox: RunningSandbox, tmp_path: Path, sig: signal.Signals
) -> None:
    """After 'yes' the portal is read again (seconds to minutes for a large
    one). Ctrl-C or SIGTERM then printed click's bare "Aborted.": the person
    who had just said yes was not told whether anything was deleted."""
    sandbox.store.create("accounts", {"externalId": "a-old", "name": "Old"})
    report = tmp_path / "report.json"
    process, main = _at_the_prompt(sandbox, tmp_path, "--report", str(report), config_text=SHARED)
    faults = sandbox.state.faults
    faults.settings = replace(faults.settings, latency_ms=3000)  # the read again is slow
    sent = sandbox.state.requests["/api"]
    os.write(main, b"yes\n")
    deadline = time.monotonic() + 60
    while sandbox.state.requests["/api"] == sent:  # until the read again reaches the portal
        assert time.monotonic() < deadline, "the portal was not read again"
        time.sleep(0.05)
    time.sleep(0.2)
    process.send_signal(sig)
    output = _rest(main, process)
    assert process.returncode == 1, output
    assert b"nothing was changed" in output, output
    assert b"Aborted." not in output, output
    assert b"Traceback" not in output, output
    data = validated(report.read_text(), "apply-report")
    assert data["error"]["code"] == "apply_cancelled", data
    assert sandbox.store.get("accounts", key="a-old") is not None
