"""``apply --report FILE`` written as the apply goes (``cli/report.py``),
through the real CLI in a subprocess against a real sandbox (issue 23,
item 9): valid JSON against its schema at every moment, never claiming
fewer changes done than the portal shows, also after SIGKILL; after a double
Ctrl-C, the answers that had arrived count as done."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import schema, start_apply
from tests.conftest import SandboxFactory, invoke

ConfigWriter = Callable[..., Path]
USERS = 400
BATCH = 20
PARALLELISM = 2


def _users_config(write_config: ConfigWriter) -> Path:
    users = [f"  - {{email: u{i}@example.com, firstName: U, lastName: L}}" for i in range(USERS)]
    return write_config(
        "konvsync: 1\npolicy: {send_welcome_email: false}\n"
        "groups: [{externalId: g, name: G}]\nusers:\n" + "\n".join(users) + "\n"
    )


def _report(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    return report


def _users(report: dict[str, Any], status: str) -> int:
    return sum(1 for c in report["changes"] if c["kind"] == "users" and c["status"] == status)


def _wait_for(sandbox: RunningSandbox, users: int) -> None:
    deadline = time.monotonic() + 60
    while sandbox.store.count("users") < users and time.monotonic() < deadline:
        time.sleep(0.02)


def _start(sandbox: RunningSandbox, config: Path, tmp_path: Path, report: Path) -> Any:
    process, _out, _err = start_apply(
        sandbox,
        config,
        tmp_path,
        "--batch-size",
        str(BATCH),
        "--parallelism",
        str(PARALLELISM),
        "--report",
        str(report),
    )
    return process


def test_the_report_is_valid_json_at_every_moment_and_says_in_progress(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=100)  # 10 rounds of 2 batches: over 1 s
    config = _users_config(write_config)
    report_file = tmp_path / "report.json"
    stale = '{"status": "complete"}'
    report_file.write_text(stale)  # an earlier run's: replaced before anything is sent
    process = _start(sandbox, config, tmp_path, report_file)
    deadline = time.monotonic() + 30
    while report_file.read_text() == stale and time.monotonic() < deadline:
        assert sandbox.store.count("groups") == 0
        time.sleep(0.01)
    seen: list[dict[str, Any]] = []
    while process.poll() is None:
        seen.append(_report(report_file))
        assert _users(seen[-1], "done") <= sandbox.store.count("users")
        time.sleep(0.01)
    assert process.returncode == 0
    final = _report(report_file)
    assert final["status"] == "complete" and final["summary"]["done"] == USERS + 1
    running = [r for r in seen if r["status"] == "in_progress"]
    assert running, "no report was written while the apply ran"
    assert any(r["summary"]["pending"] > 0 for r in running)
    assert any(0 < _users(r, "done") < USERS for r in running), "no report between batches"


def test_after_sigkill_the_report_never_claims_less_than_the_portal_shows(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=50)
    config = _users_config(write_config)
    report_file = tmp_path / "report.json"
    process = _start(sandbox, config, tmp_path, report_file)
    _wait_for(sandbox, 100)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(0.3)  # requests the killed process sent land
    report = _report(report_file)
    portal = sandbox.store.count("users")
    assert report["status"] == "in_progress"
    assert 100 <= portal < USERS
    done, pending = _users(report, "done"), _users(report, "pending")
    assert done <= portal <= done + pending, (done, pending, portal)
    assert report["summary"]["pending"] == pending
    assert {c["status"] for c in report["changes"] if c["kind"] == "groups"} == {"done"}


def test_after_a_second_ctrl_c_what_was_received_counts_as_done(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=300)
    config = _users_config(write_config)
    report_file = tmp_path / "report.json"
    process = _start(sandbox, config, tmp_path, report_file)
    _wait_for(sandbox, 3 * BATCH)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    time.sleep(1.0)  # requests konvsync stopped waiting for land
    report = _report(report_file)
    portal = sandbox.store.count("users")
    done = _users(report, "done")
    abandoned = sum(
        1
        for c in report["changes"]
        if c["kind"] == "users" and (c["error"] or {}).get("code") == "ABANDONED"
    )
    output = (tmp_path / "stdout.txt").read_text() + (tmp_path / "stderr.txt").read_text()
    assert report["status"] == "interrupted", output
    assert done <= portal <= done + abandoned, (done, abandoned, portal)
    # Only the batches in flight at the second Ctrl-C may or may not have
    # been applied; the ones never sent are skipped.
    assert abandoned <= BATCH * PARALLELISM, (done, abandoned, portal)
    skipped = [c for c in report["changes"] if c["kind"] == "users" and c["status"] == "skipped"]
    assert len(skipped) == USERS - done - abandoned
    assert all(c["message"] == "not sent: interrupted" for c in skipped)
    assert report["summary"]["pending"] == 0


def test_the_report_never_replaces_the_saved_plan_or_a_config_file(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """``apply konvsync.plan --report konvsync.plan`` replaced the reviewed
    plan with the report before reading it ("not a konvsync plan file"), and
    ``--report konvsync.yaml`` the config: refused before anything is written."""
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    plan_file = tmp_path / "konvsync.plan"
    saved = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(plan_file)])
    assert saved.exit_code == 0, saved.output
    for given, report in ((plan_file, plan_file), (config, config), (tmp_path, config)):
        before = report.read_bytes()
        args = ["--endpoint", sandbox.url, "apply", str(given), "--auto-approve"]
        result = invoke([*args, "--report", str(report)])
        assert result.exit_code == 1, result.output
        assert f"Error: --report {report} would replace {given}, which this" in result.stderr
        assert report.read_bytes() == before
    assert sandbox.store.count("groups") == 0
    applied = invoke(["--endpoint", sandbox.url, "apply", str(plan_file)])
    assert applied.exit_code == 0, applied.output  # the plan is still the plan
