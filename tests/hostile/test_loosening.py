"""The delete of a required account field, loosened first
(``apply.tightening._loosened_first``) and sent after every step: the
loosening refused or unanswered, the field changed by another writer
between the two parts, and a SIGTERM between them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from aiohttp import web

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from konvsync.sandbox.store import Store
from tests.app.test_readings import REQUIRED_FIELD_FIRST as REQUIRED_FLAG
from tests.cli.test_ci import schema
from tests.conftest import SandboxFactory
from tests.hostile.cases import TermedAt, operation_starts
from tests.hostile.harness import Finished, start_konvsync
from tests.hostile.server import Call, Case, Json, running_hostile_server
from tests.hostile.test_tightening import _applied, _apply_through, _run

FLAG_PRUNED = """\
konvsync: 1
policy: {prune: [accountFields]}
accountFields: []
accounts:
  - {externalId: acme, name: ACME, customFields: {}}
"""


class LooseningRefused(Case):
    """Refuses (BAD_USER_INPUT) every ``updateAccountField``; with
    ``unanswered``, answers it 500 instead (it may have been applied)."""

    name = "loosening-refused"

    def __init__(self, unanswered: bool = False) -> None:
        self.unanswered = unanswered

    async def before(self, call: Call) -> web.StreamResponse | None:
        if not call.operation.startswith("UpdateAccountField"):
            return None
        if self.unanswered:
            return web.Response(status=500, text="upstream went away")
        error = {
            "message": "field in use",
            "path": ["m0"],
            "extensions": {"code": "BAD_USER_INPUT"},
        }
        return web.json_response({"data": {"m0": None}, "errors": [error]})


def test_a_refused_loosening_is_reported_as_the_planned_delete(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The portal refuses the update that makes the field optional: the
    field is not deleted, and the failure is the planned delete's (the
    action the plan showed and the user approved), not an update the plan
    never showed; the delete is not sent."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED_FLAG)
    config.write_text(FLAG_PRUNED, encoding="utf-8")
    report_file = tmp_path / "report.json"
    args = ["--auto-approve", "--report", str(report_file)]
    applied, mutations = _apply_through(sandbox, LooseningRefused(), config, *args)
    assert applied.exit_code == 1, applied.output
    assert "failed: accountFields/flag (delete): field in use (BAD_USER_INPUT)" in (
        applied.stdout
    ), applied.stdout
    assert "Apply incomplete: 0 done (0 added, 0 changed, 0 destroyed), 1 failed" in (
        applied.stdout
    ), applied.stdout
    assert [m.operation for m in mutations if "Delete" in m.operation] == [], mutations
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["summary"]["planned"] == report["summary"]["failed"] == 1, report
    assert [(c["address"], c["action"], c["status"]) for c in report["changes"]] == [
        ("accountFields/flag", "delete", "failed")
    ], report
    assert sandbox.store.get("accountFields", key="flag") is not None


def test_an_unanswered_loosening_leaves_the_delete_failed_and_unsent(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """No answer to the update that makes the field optional: the delete is
    not sent, the planned delete is the failure (exit 1, no traceback), and
    --verify full still runs."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED_FLAG)
    config.write_text(FLAG_PRUNED, encoding="utf-8")
    report_file = tmp_path / "report.json"
    args = ["--auto-approve", "--verify", "full", "--report", str(report_file)]
    case = LooseningRefused(unanswered=True)
    applied, mutations = _apply_through(sandbox, case, config, *args)
    assert applied.exit_code == 1, applied.output
    assert "failed: accountFields/flag (delete): " in applied.stdout, applied.stdout
    assert [m.operation for m in mutations if "Delete" in m.operation] == [], mutations
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert [(c["address"], c["action"], c["status"]) for c in report["changes"]] == [
        ("accountFields/flag", "delete", "failed")
    ], report
    assert sandbox.store.get("accountFields", key="flag") is not None


FLAG_PRUNED_WITH_A_NEW_ACCOUNT = FLAG_PRUNED + "  - {externalId: beta, name: Beta}\n"


class FieldEditedDuringTheAccounts(Case):
    """Another writer relabels the field when the accounts step's create
    arrives (after the field was loosened, before its delete)."""

    name = "field-edited-during-the-accounts"

    def __init__(self, store: Store) -> None:
        self.store = store

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation.startswith("CreateAccount") and "Field" not in call.operation:
            field = self.store.get("accountFields", key="flag")
            assert field is not None
            self.store.update("accountFields", field["id"], {"label": "Edited by hand"})
        return answer


def test_a_field_edited_after_its_loosening_is_not_deleted_unseen(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The delete goes after every step; another writer changed the field
    meanwhile: the delete is checked against the portal as a delete in a
    step is (right before it is sent), and not sent (exit 1, what moved
    named), instead of deleting what changed since the plan unseen."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED_FLAG)
    config.write_text(FLAG_PRUNED_WITH_A_NEW_ACCOUNT, encoding="utf-8")
    case = FieldEditedDuringTheAccounts(sandbox.store)
    applied, mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert [m.operation for m in mutations if "Delete" in m.operation] == [], mutations
    assert applied.exit_code == 1, applied.output
    assert "failed: accountFields/flag (delete): not sent: " in applied.stdout, applied.stdout
    field = sandbox.store.get("accountFields", key="flag")
    assert field is not None and field["label"] == "Edited by hand", field


def test_a_loosened_field_unchanged_since_is_deleted(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The same run with no other writer: loosened, the account created,
    the field deleted; one delete counted."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED_FLAG)
    config.write_text(FLAG_PRUNED_WITH_A_NEW_ACCOUNT, encoding="utf-8")
    applied, _mutations = _apply_through(sandbox, Case(), config, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in applied.stdout
    assert sandbox.store.get("accountFields", key="flag") is None


def test_sigterm_between_the_loosening_and_the_delete_reports_the_delete_not_started(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """SIGTERM after the field was loosened: the delete is not sent and is
    reported not started (exit 1, interrupted) beside the loosening done;
    the field stands, optional, and the next apply deletes it."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED_FLAG)
    config.write_text(FLAG_PRUNED_WITH_A_NEW_ACCOUNT, encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = TermedAt(operation_starts("CreateAccount", without="Field"))
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.url, "apply", str(config), "--auto-approve"]
        running = start_konvsync([*args, "--report", str(report_file)], tmp_path)
        case.pid = running.process.pid
        result = running.finish()
        deletes = [c.operation for c in portal.mutations if "Delete" in c.operation]
    assert result.exit_code == 1, result.describe()
    assert deletes == [], deletes
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted", report
    statuses = [(c["address"], c["action"], c["status"]) for c in report["changes"]]
    assert statuses == [
        ("accountFields/flag", "update", "done"),
        ("accounts/beta", "create", "done"),
        ("accountFields/flag", "delete", "skipped"),
    ], statuses
    field = sandbox.store.get("accountFields", key="flag")
    assert field is not None and not field["required"], field
    again, _mutations = _apply_through(sandbox, Case(), config, "--auto-approve")
    assert again.exit_code == 0, again.output
    assert "Apply complete! Resources: 0 added, 0 changed, 1 destroyed." in again.stdout


class ReportReadAtTheDelete(Case):
    """Reads the in-progress ``--report`` file when the field's delete arrives."""

    name = "report-read-at-the-delete"

    def __init__(self, report_file: Path) -> None:
        self.report_file = report_file
        self.seen: dict[str, Any] | None = None

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation.startswith("DeleteAccountField"):
            self.seen = json.loads(self.report_file.read_text(encoding="utf-8"))
        return None


def test_the_delete_after_the_loosening_is_pending_in_the_report_while_sent(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Right before the delete goes out, the in-progress report lists it
    ``pending`` (a killed run's report says it may have been applied); the
    final report counts the one delete, done."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED_FLAG)
    config.write_text(FLAG_PRUNED_WITH_A_NEW_ACCOUNT, encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = ReportReadAtTheDelete(report_file)
    args = ["--auto-approve", "--report", str(report_file)]
    applied, _mutations = _apply_through(sandbox, case, config, *args)
    assert applied.exit_code == 0, applied.output
    assert case.seen is not None, "the delete never arrived"
    jsonschema.validate(case.seen, schema("apply-report.schema.json"))
    assert case.seen["status"] == "in_progress", case.seen
    pending = [
        (c["address"], c["action"]) for c in case.seen["changes"] if c["status"] == "pending"
    ]
    assert pending == [("accountFields/flag", "delete")], case.seen
    final = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(final, schema("apply-report.schema.json"))
    summary = final["summary"]
    assert (summary["planned"], summary["done"], summary["destroyed"], summary["pending"]) == (
        2,
        2,
        1,
        0,
    ), final


def test_sigterm_at_the_delete_leaves_the_values_kept_to_the_next_apply(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A portal that keeps a deleted field's values (``values-stay``), and
    SIGTERM as the field's delete goes out: the delete is done, nothing is
    written after it (the values it kept are not cleared: exit 1,
    interrupted), and the next apply clears them, for an account the config
    lists without customFields, and converges."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    config = tmp_path / "konvsync.yaml"
    config.write_text(REQUIRED_FLAG, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(FLAG_PRUNED.replace(", customFields: {}", ""), encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = TermedAt(operation_starts("DeleteAccountField"))
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.url, "apply", str(config), "--auto-approve"]
        running = start_konvsync([*args, "--report", str(report_file)], tmp_path)
        case.pid = running.process.pid
        result = running.finish()
        operations = [c.operation for c in portal.mutations]
    assert result.exit_code == 1, result.describe()
    assert operations[-1].startswith("DeleteAccountField"), operations
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted", report
    statuses = [(c["address"], c["action"], c["status"]) for c in report["changes"]]
    assert statuses == [("accountFields/flag", "delete", "done")], statuses
    stored = sandbox.store.get("accounts", key="acme")
    assert stored is not None and stored["customFields"] == [{"key": "flag", "value": "true"}]
    planned = _run(sandbox.url, "plan", str(config))
    assert "(the portal kept its values under the deleted key 'flag'; cleared)" in (
        planned.stdout
    ), planned.stdout
    again, _mutations = _apply_through(sandbox, Case(), config, "--auto-approve")
    assert again.exit_code == 0, again.output
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in again.stdout
    stored = sandbox.store.get("accounts", key="acme")
    assert stored is not None and stored["customFields"] == [], stored
    planned = _run(sandbox.url, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output


THREE_HOLDING = """\
konvsync: 1
accountFields:
  - {key: num, label: Number, type: TEXT}
accounts:
  - {externalId: acme, name: Acme, customFields: {num: "1"}}
  - {externalId: beta, name: Beta, customFields: {num: "2"}}
  - {externalId: gamma, name: Gamma, customFields: {num: "3"}}
"""
NUM_PRUNED = "konvsync: 1\npolicy: {prune: [accountFields]}\naccountFields: []\n"


def _applied_with_values_kept(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> tuple[RunningSandbox, Path]:
    """THREE_HOLDING applied on a portal that keeps values under a key
    renamed or deleted (``values-stay``)."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    config = tmp_path / "konvsync.yaml"
    config.write_text(THREE_HOLDING, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    return sandbox, config


def _termed_at_the_first_account_update(
    sandbox: RunningSandbox, config: Path, second: str, tmp_path: Path
) -> tuple[Finished, dict[str, Any]]:
    """``second`` applied, one update a request, with SIGTERM as the first
    account update arrives: exit 1, that update alone sent, and the
    interrupted report (checked against its schema)."""
    config.write_text(second, encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = TermedAt(operation_starts("UpdateAccountBatch"))
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.url, "apply", str(config), "--auto-approve"]
        tuning = ["--batch-size", "1", "--parallelism", "1", "--report", str(report_file)]
        running = start_konvsync([*args, *tuning], tmp_path)
        case.pid = running.process.pid
        result = running.finish()
        updates = [c for c in portal.mutations if c.operation.startswith("UpdateAccountBatch")]
    assert result.exit_code == 1, result.describe()
    assert len(updates) == 1, updates
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted", report
    return result, report


def _converges_on_the_next_apply(sandbox: RunningSandbox, config: Path) -> None:
    """The next apply sends the two updates the stopped one did not."""
    again, _mutations = _apply_through(sandbox, Case(), config, "--auto-approve")
    assert again.exit_code == 0, again.output
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in again.stdout


def test_sigterm_while_the_kept_values_are_cleared_says_how_many_were(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Three accounts keep values under the deleted field's key; SIGTERM as
    the first clearing arrives (one update a request): it is done, the other
    two are not sent, and the warning says one of the three was cleared
    (it said "cleared them" of all three)."""
    sandbox, config = _applied_with_values_kept(sandbox_factory, tmp_path)
    result, report = _termed_at_the_first_account_update(sandbox, config, NUM_PRUNED, tmp_path)
    statuses = sorted((c["action"], c["status"]) for c in report["changes"])
    assert statuses == [
        ("delete", "done"),
        ("update", "done"),
        ("update", "skipped"),
        ("update", "skipped"),
    ], statuses
    warning = (
        "the portal kept the values of 3 accounts under the deleted account field 'num'; "
        "konvsync cleared 1 of them (counted as changed); the next plan clears the rest"
    )
    assert f"Warning: {warning}" in result.stdout, result.stdout
    assert "konvsync cleared them" not in result.stdout
    _converges_on_the_next_apply(sandbox, config)


NUM_RENAMED = """\
konvsync: 1
accountFields:
  - {key: number, renamedFrom: num, label: Number, type: TEXT}
accounts:
  - {externalId: acme, name: Acme, customFields: {number: "1"}}
  - {externalId: beta, name: Beta, customFields: {number: "2"}}
  - {externalId: gamma, name: Gamma, customFields: {number: "3"}}
"""


def test_sigterm_while_values_left_under_an_old_key_are_moved_sends_no_more(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The field renamed, on a portal that leaves the values under the old
    key: apply files them under the new one, one account an update. SIGTERM
    as the first arrives: the other two were still sent; they are not now,
    and are reported not sent. The next apply moves them."""
    sandbox, config = _applied_with_values_kept(sandbox_factory, tmp_path)
    _result, report = _termed_at_the_first_account_update(sandbox, config, NUM_RENAMED, tmp_path)
    accounts = sorted(c["status"] for c in report["changes"] if c["kind"] == "accounts")
    assert accounts == ["done", "skipped", "skipped"], report["changes"]
    _converges_on_the_next_apply(sandbox, config)
