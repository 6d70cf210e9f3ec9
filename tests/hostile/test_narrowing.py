"""A SELECT field's options taken away last (``apply.tightening``) when the
run stops between the field's two parts: the report says the options were
not taken away, and the next apply converges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from konvsync.sandbox.server import RunningSandbox
from konvsync.sandbox.store import Store
from tests.cli.test_ci import schema
from tests.conftest import SandboxFactory
from tests.hostile.cases import TermedAt, operation_starts
from tests.hostile.harness import start_konvsync
from tests.hostile.legal_cases import OptionsInUseKept
from tests.hostile.server import Call, Case, Json, running_hostile_server
from tests.hostile.test_legal_variants import OPTIONS, _no_changes, _run

NARROWED = OPTIONS.replace("[bronze, silver]", "[silver, gold]").replace(
    "tier: bronze", "tier: gold"
)


def _applied_then_narrowed(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> tuple[RunningSandbox, Path]:
    """A sandbox where OPTIONS was applied, and the config now NARROWED."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(OPTIONS, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(NARROWED, encoding="utf-8")
    return sandbox, config


class AccountEditedAfterTheField(Case):
    """A strict portal (``strict``, which judges the field's updates in
    ``before``), and another writer renames acme right after the field's
    first update (the options widened, say): the accounts step finds acme
    moved and the run stops there."""

    name = "account-edited-after-the-field"

    def __init__(self, store: Store, strict: Case) -> None:
        self.store = store
        self.strict = strict

    async def before(self, call: Call) -> web.StreamResponse | None:
        return await self.strict.before(call)

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation.startswith("UpdateAccountField"):
            acme = self.store.get("accounts", key="acme")
            assert acme is not None
            self.store.update("accounts", acme["id"], {"name": "Edited by hand"})
        return answer


def test_options_not_taken_away_after_a_stop_are_reported_not_done(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The run stops after the field's first part (options widened): the
    part that takes the option away is reported not started (summary and
    --report), not left out so the field reads as done; the next apply
    converges."""
    sandbox, config = _applied_then_narrowed(sandbox_factory, tmp_path)
    report_file = tmp_path / "report.json"
    case = AccountEditedAfterTheField(sandbox.store, OptionsInUseKept(sandbox.store))
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["apply", str(config), "--auto-approve", "--report", str(report_file)]
        applied = _run(portal.url, *args)
    field = sandbox.store.get("accountFields", key="tier")
    assert field is not None and field["options"] == ["silver", "gold", "bronze"], field
    assert applied.exit_code == 1, applied.output
    assert "1 done (0 added, 1 changed, 0 destroyed), 1 failed, 1 skipped" in applied.stdout, (
        applied.stdout
    )
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    field_results = [c for c in report["changes"] if c["address"] == "accountFields/tier"]
    assert [c["status"] for c in field_results] == ["done", "skipped"], report
    assert field_results[1]["message"].startswith("not started: the portal changed"), report
    config.write_text(NARROWED.replace("name: Acme", "name: Edited by hand"), encoding="utf-8")
    with running_hostile_server(sandbox.url, OptionsInUseKept(sandbox.store)) as portal:
        again = _run(portal.url, "apply", str(config), "--auto-approve")
        assert again.exit_code == 0, again.output
        _no_changes(portal.url, config)


class ReportReadAtTheLastUpdate(OptionsInUseKept):
    """The strict portal, which reads the in-progress ``--report`` file when
    the update that takes the option away arrives (the field's second)."""

    name = "report-read-at-the-last-update"

    def __init__(self, store: Store, report_file: Path) -> None:
        super().__init__(store)
        self.report_file = report_file
        self.updates = 0
        self.seen: dict[str, Any] | None = None

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation.startswith("UpdateAccountField"):
            self.updates += 1
            if self.updates == 2:
                self.seen = json.loads(self.report_file.read_text(encoding="utf-8"))
        return await super().before(call)


def test_the_update_taking_options_away_is_pending_in_the_report_while_sent(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The in-progress report lists a change ``pending`` right before it is
    sent (README): the last update, which takes the option away, too, so a
    report left by a killed run says it may or may not have been applied."""
    sandbox, config = _applied_then_narrowed(sandbox_factory, tmp_path)
    report_file = tmp_path / "report.json"
    case = ReportReadAtTheLastUpdate(sandbox.store, report_file)
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["apply", str(config), "--auto-approve", "--report", str(report_file)]
        applied = _run(portal.url, *args)
    assert applied.exit_code == 0, applied.output
    assert case.seen is not None, "the last update never arrived"
    jsonschema.validate(case.seen, schema("apply-report.schema.json"))
    assert case.seen["status"] == "in_progress", case.seen
    assert case.seen["summary"]["pending"] == 1, case.seen
    pending = [c for c in case.seen["changes"] if c["status"] == "pending"]
    assert [c["address"] for c in pending] == ["accountFields/tier"], case.seen
    final = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(final, schema("apply-report.schema.json"))
    assert final["summary"]["pending"] == 0 and final["summary"]["done"] == 2, final
    assert [c["status"] for c in final["changes"]] == ["done", "done"], final


class LastAnswerLost(OptionsInUseKept):
    """The strict portal applies the update that takes the option away (the
    field's second) but answers it with an internal error."""

    name = "last-answer-lost"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.updates = 0

    def answer(self, call: Call, answer: Json) -> Json:
        if not call.operation.startswith("UpdateAccountField"):
            return answer
        self.updates += 1
        if self.updates != 2:
            return answer
        error = {"message": "internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        return {"errors": [error], "data": None}


@pytest.mark.parametrize("verify", ["updates", "full"])
def test_options_taken_away_without_an_answer_are_not_held_to_the_widened_list(
    verify: str, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The last update was applied, its answer lost (it may or may not have
    been): the read-back does not hold the portal to the widened list the
    first part sent ('not as planned ... wanted [silver, gold, bronze]' of
    a portal holding just what the config says); the failure says it all."""
    sandbox, config = _applied_then_narrowed(sandbox_factory, tmp_path)
    case = LastAnswerLost(sandbox.store)
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["apply", str(config), "--auto-approve", "--max-retries", "0", "--verify", verify]
        applied = _run(portal.url, *args)
        _no_changes(portal.url, config)
    assert case.updates == 2, applied.output
    assert applied.exit_code == 1, applied.output
    assert "failed: accountFields/tier (update): internal error" in applied.stdout, applied.stdout
    assert "not as planned" not in applied.stdout, applied.stdout
    assert "2 done (0 added, 2 changed, 0 destroyed), 1 failed, 0 skipped." in applied.stdout


def test_sigterm_between_the_two_parts_reports_the_last_not_started(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """SIGTERM while the accounts step runs (after the field's first part):
    the update in flight finishes, the one that takes the option away is
    not sent and is reported not started (exit 1, interrupted); the next
    apply converges."""
    sandbox, config = _applied_then_narrowed(sandbox_factory, tmp_path)
    report_file = tmp_path / "report.json"
    case = TermedAt(
        operation_starts("UpdateAccount", without="Field"), OptionsInUseKept(sandbox.store)
    )
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.url, "apply", str(config), "--auto-approve"]
        running = start_konvsync([*args, "--report", str(report_file)], tmp_path)
        case.pid = running.process.pid
        result = running.finish()
        updates = [c.operation for c in portal.mutations if "AccountField" in c.operation]
    assert result.exit_code == 1, result.describe()
    assert len(updates) == 1, updates
    assert "Apply interrupted" in result.stdout, result.describe()
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted", report
    statuses = [(c["address"], c["status"], c["message"]) for c in report["changes"]]
    assert statuses == [
        ("accountFields/tier", "done", None),
        ("accounts/acme", "done", None),
        ("accountFields/tier", "skipped", "not started: interrupted"),
    ], statuses
    field = sandbox.store.get("accountFields", key="tier")
    assert field is not None and field["options"] == ["silver", "gold", "bronze"], field
    with running_hostile_server(sandbox.url, OptionsInUseKept(sandbox.store)) as portal:
        again = _run(portal.url, "apply", str(config), "--auto-approve")
        assert again.exit_code == 0, again.output
        _no_changes(portal.url, config)
