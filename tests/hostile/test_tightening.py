"""An account field's constraints tightened after the accounts are written
(``apply.tightening``): ``required`` set, and a type changed away from TEXT,
in the config that gives the accounts fitting values, converge in one apply
on a portal that keeps accounts' values fitting their field (the contract
is silent on field updates), with the same output and counts as on the
sandbox's reading (which accepts any order)."""

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
from tests.conftest import CliRun, SandboxFactory
from tests.hostile.cases import TermedAt, operation_starts
from tests.hostile.harness import start_konvsync
from tests.hostile.legal_cases import RequiredRefusedWhileMissing, TypeRefusedWhileUnfit
from tests.hostile.server import Call, Case, Json, running_hostile_server
from tests.hostile.test_legal_variants import _no_changes, _run
from tests.hostile.test_narrowing import AccountEditedAfterTheField

OPTIONAL = """\
konvsync: 1
accountFields:
  - {key: region, label: Region, type: TEXT}
accounts:
  - {externalId: acme, name: Acme}
  - {externalId: beta, name: Beta}
"""
REQUIRED = """\
konvsync: 1
accountFields:
  - {key: region, label: Region, type: TEXT, required: true}
accounts:
  - {externalId: acme, name: Acme, customFields: {region: east}}
  - {externalId: beta, name: Beta, customFields: {region: west}}
"""
"""region made required, and every account given a value for it, in one config."""

ACCOUNTS_ONLY = """\
konvsync: 1
accounts:
  - {externalId: acme, name: Acme}
  - {externalId: beta, name: Beta}
"""

TEXT_SCORES = """\
konvsync: 1
accountFields:
  - {key: score, label: Score, type: TEXT}
accounts:
  - {externalId: acme, name: Acme, customFields: {score: high}}
  - {externalId: beta, name: Beta, customFields: {score: low}}
"""
NUMBER_SCORES = """\
konvsync: 1
accountFields:
  - {key: score, label: Score, type: NUMBER}
accounts:
  - {externalId: acme, name: Acme, customFields: {score: "3"}}
  - {externalId: beta, name: Beta, customFields: {score: "1"}}
"""
"""score made a NUMBER, and the accounts' words replaced by numbers, in one config."""


def _applied(
    sandbox_factory: SandboxFactory, tmp_path: Path, first: str
) -> tuple[RunningSandbox, Path]:
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(first, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    return sandbox, config


def _apply_through(
    sandbox: RunningSandbox, case: Case, config: Path, *args: str, saved: bool = False
) -> tuple[CliRun, list[Call]]:
    """``apply`` of ``config`` (or of the plan saved from it first, with
    ``saved``) through a hostile portal playing ``case``; its mutations."""
    with running_hostile_server(sandbox.url, case) as portal:
        target = str(config)
        if saved:
            target = str(config.with_name("plan.json"))
            assert _run(portal.url, "plan", str(config), "--out", target).exit_code == 0
        applied = _run(portal.url, "apply", target, *args)
        mutations = list(portal.mutations)
        assert "Traceback" not in applied.output
        return applied, mutations


@pytest.mark.parametrize("portal", ["strict", "sandbox"])
@pytest.mark.parametrize("saved", [False, True], ids=["config", "saved-plan"])
def test_required_set_while_accounts_get_values_converges_in_one_apply(
    portal: str, saved: bool, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The field's step sends no ``required`` (there is nothing else to
    change: the field waits), the accounts get their values, and one update
    after every step makes it required: one apply, counted as planned, on
    the strict portal and on the sandbox alike, from the config or a saved
    plan."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    config.write_text(REQUIRED, encoding="utf-8")
    case = RequiredRefusedWhileMissing(sandbox.store) if portal == "strict" else Case()
    report_file = tmp_path / "report.json"
    args = ["--auto-approve", "--report", str(report_file)]
    applied, mutations = _apply_through(sandbox, case, config, *args, saved=saved)
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 0 added, 3 changed, 0 destroyed." in applied.stdout
    assert getattr(case, "refused", 0) == 0
    assert [m.operation.split("Batch")[0] for m in mutations] == [
        "UpdateAccount",
        "UpdateAccountField",
    ], mutations
    assert [m.variables["input_0"] for m in mutations[1:]] == [{"required": True}]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["summary"]["done"] == 3, report
    assert [c["address"] for c in report["changes"]] == [
        "accounts/acme",
        "accounts/beta",
        "accountFields/region",
    ], report
    with running_hostile_server(sandbox.url, RequiredRefusedWhileMissing(sandbox.store)) as p:
        _no_changes(p.url, config)


@pytest.mark.parametrize("portal", ["strict", "sandbox"])
def test_a_new_required_field_is_made_required_after_the_accounts_get_values(
    portal: str, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A field created required while accounts exist: created without
    ``required``, the accounts get their values, then it is made required;
    counted as one create, and the next plan is clean."""
    sandbox, config = _applied(sandbox_factory, tmp_path, ACCOUNTS_ONLY)
    config.write_text(REQUIRED, encoding="utf-8")
    case = RequiredRefusedWhileMissing(sandbox.store) if portal == "strict" else Case()
    args = ["--auto-approve", "--verify", "full"]
    applied, mutations = _apply_through(sandbox, case, config, *args)
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 1 added, 2 changed, 0 destroyed." in applied.stdout
    assert getattr(case, "refused", 0) == 0
    fields = [m.variables["input_0"] for m in mutations if "AccountField" in m.operation]
    assert [f.get("required") for f in fields] == [False, True], fields
    with running_hostile_server(sandbox.url, RequiredRefusedWhileMissing(sandbox.store)) as p:
        _no_changes(p.url, config)


def _account_without_region(store: Store) -> None:
    store.create("accounts", {"externalId": "other", "name": "Other"})


def test_an_account_left_without_a_value_fails_the_last_update_on_its_own(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """An account the config leaves alone has no value: the strict portal
    refuses the update that makes the field required, which fails on its
    own (exit 1, the portal's error); the accounts got their values."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    _account_without_region(sandbox.store)
    config.write_text(REQUIRED, encoding="utf-8")
    case = RequiredRefusedWhileMissing(sandbox.store)
    applied, _mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert applied.exit_code == 1, applied.output
    assert (
        "failed: accountFields/region (update): accounts without a value for 'region': other "
        "(BAD_USER_INPUT)"
    ) in applied.stdout, applied.stdout
    assert "Apply incomplete: 2 done (0 added, 2 changed, 0 destroyed), 1 failed" in (
        applied.stdout
    ), applied.stdout
    account = sandbox.store.get("accounts", key="acme")
    assert account is not None and account["customFields"] == [{"key": "region", "value": "east"}]


def test_a_stop_before_the_field_is_made_required_reports_it_not_started(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The run stops after the field's first part (its label): the part
    that makes it required is reported not started (summary and --report),
    and the field is not required; the next apply converges."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    config.write_text(REQUIRED.replace("label: Region,", "label: Area,"), encoding="utf-8")
    report_file = tmp_path / "report.json"
    strict = RequiredRefusedWhileMissing(sandbox.store)
    case = AccountEditedAfterTheField(sandbox.store, strict)
    args = ["--auto-approve", "--report", str(report_file)]
    applied, _mutations = _apply_through(sandbox, case, config, *args)
    assert applied.exit_code == 1, applied.output
    field = sandbox.store.get("accountFields", key="region")
    assert field is not None and field["label"] == "Area" and not field["required"], field
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    statuses = [(c["address"], c["status"]) for c in report["changes"]]
    assert statuses.count(("accountFields/region", "done")) == 1, statuses
    assert statuses[-1] == ("accountFields/region", "skipped"), statuses
    assert report["changes"][-1]["message"].startswith("not started: the portal changed"), report
    config.write_text(
        REQUIRED.replace("label: Region,", "label: Area,").replace(
            "name: Acme,", "name: Edited by hand,"
        ),
        encoding="utf-8",
    )
    again, _mutations = _apply_through(
        sandbox, RequiredRefusedWhileMissing(sandbox.store), config, "--auto-approve"
    )
    assert again.exit_code == 0, again.output
    with running_hostile_server(sandbox.url, RequiredRefusedWhileMissing(sandbox.store)) as p:
        _no_changes(p.url, config)


@pytest.mark.parametrize("portal", ["strict", "sandbox"])
def test_a_type_changed_away_from_text_is_changed_after_the_accounts(
    portal: str, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """TEXT to NUMBER, and the accounts' words replaced by numbers: every
    value fits TEXT, so the accounts go first and the type after every
    step; one apply on the strict portal and on the sandbox alike."""
    sandbox, config = _applied(sandbox_factory, tmp_path, TEXT_SCORES)
    config.write_text(NUMBER_SCORES, encoding="utf-8")
    case = TypeRefusedWhileUnfit(sandbox.store) if portal == "strict" else Case()
    args = ["--auto-approve", "--verify", "full"]
    applied, mutations = _apply_through(sandbox, case, config, *args)
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 0 added, 3 changed, 0 destroyed." in applied.stdout
    assert getattr(case, "refused", 0) == 0
    fields = [m.variables["input_0"] for m in mutations if "AccountField" in m.operation]
    assert fields == [{"type": "NUMBER"}], fields
    with running_hostile_server(sandbox.url, TypeRefusedWhileUnfit(sandbox.store)) as p:
        _no_changes(p.url, config)


TEXT_FLAG = """\
konvsync: 1
accountFields:
  - {key: flag, label: Flag, type: TEXT}
accounts:
  - {externalId: acme, name: Acme, customFields: {flag: "%s"}}
"""
TYPED_FLAG = TEXT_FLAG.replace("type: TEXT", "type: %s")


@pytest.mark.parametrize("portal", ["strict", "sandbox"])
@pytest.mark.parametrize(
    ("text", "field_type", "value"),
    [("True", "BOOLEAN", "true"), ("2026-12-07T00:00:00Z", "DATE", "2026-12-07")],
)
def test_text_values_the_new_type_reads_alike_are_written_before_the_type_is_tightened(
    portal: str,
    text: str,
    field_type: str,
    value: str,
    sandbox_factory: SandboxFactory,
    tmp_path: Path,
) -> None:
    """TEXT "True" (a date-time at midnight), retyped to BOOLEAN (DATE) with
    "true" (the date) for its value: read as the new type they are the same
    value, but the portal holds the text, which a strict portal's BOOLEAN
    (DATE) does not take. The account is written first, as the config
    writes it, and the type after: one apply, then no changes. Before, the
    text was taken for the config's value, the account was not written, and
    the strict portal refused the type on every apply (exit 1)."""
    sandbox, config = _applied(sandbox_factory, tmp_path, TEXT_FLAG % text)
    config.write_text(TYPED_FLAG % (field_type, value), encoding="utf-8")
    case = TypeRefusedWhileUnfit(sandbox.store) if portal == "strict" else Case()
    applied, _mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout
    assert getattr(case, "refused", 0) == 0
    with running_hostile_server(sandbox.url, TypeRefusedWhileUnfit(sandbox.store)) as p:
        _no_changes(p.url, config)
    account = sandbox.store.get("accounts", key="acme")
    assert account is not None
    assert account["customFields"] == [{"key": "flag", "value": value}], account


NUMBER_TO_DATE = (
    NUMBER_SCORES.replace("type: NUMBER", "type: DATE")
    .replace('score: "3"', "score: 2026-01-03")
    .replace('score: "1"', "score: 2026-01-01")
)


def test_a_type_no_order_of_one_apply_reaches_is_a_plan_warning(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """NUMBER to DATE with dates for values: the numbers do not fit DATE and
    the dates do not fit NUMBER, so a strict portal refuses the field before
    the accounts and the accounts before the field. plan says so, naming
    the field and the accounts, and how to do it in two applies."""
    sandbox, config = _applied(sandbox_factory, tmp_path, NUMBER_SCORES)
    config.write_text(NUMBER_TO_DATE, encoding="utf-8")
    planned = _run(sandbox.url, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    warnings = [line for line in planned.stdout.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1, planned.stdout
    warning = warnings[0]
    assert "accountFields/score" in warning, warning
    assert "NUMBER to DATE" in warning and "acme, beta" in warning, warning
    assert "two applies" in warning, warning
    as_json = _run(sandbox.url, "plan", str(config), "--format", "json")
    data = json.loads(as_json.stdout)
    assert any("accountFields/score" in w for w in data["warnings"]), data["warnings"]


class ReportReadAtTheFieldUpdate(RequiredRefusedWhileMissing):
    """The strict portal, which reads the in-progress ``--report`` file when
    the field's update (its only one: nothing else waits for it) arrives."""

    name = "report-read-at-the-field-update"

    def __init__(self, store: Store, report_file: Path) -> None:
        super().__init__(store)
        self.report_file = report_file
        self.seen: dict[str, Any] | None = None

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation.startswith("UpdateAccountField"):
            self.seen = json.loads(self.report_file.read_text(encoding="utf-8"))
        return await super().before(call)


def test_the_waiting_field_update_is_pending_in_the_report_while_sent(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The update that makes the field required, sent after every step, is
    listed ``pending`` in the in-progress report right before it goes out
    (a report left by a killed run says it may or may not have been
    applied), and done once in the final report."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    config.write_text(REQUIRED, encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = ReportReadAtTheFieldUpdate(sandbox.store, report_file)
    args = ["--auto-approve", "--report", str(report_file)]
    applied, _mutations = _apply_through(sandbox, case, config, *args)
    assert applied.exit_code == 0, applied.output
    assert case.seen is not None, "the field's update never arrived"
    jsonschema.validate(case.seen, schema("apply-report.schema.json"))
    assert case.seen["status"] == "in_progress", case.seen
    pending = [c["address"] for c in case.seen["changes"] if c["status"] == "pending"]
    assert pending == ["accountFields/region"], case.seen
    final = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(final, schema("apply-report.schema.json"))
    assert final["summary"]["pending"] == 0 and final["summary"]["done"] == 3, final


def test_sigterm_before_the_waiting_field_update_reports_it_not_started(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """SIGTERM while the accounts step runs: the field, whose change waited
    whole for the end of the run, is reported not started (exit 1,
    interrupted), not left out, and is not required; the next apply
    converges."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    config.write_text(REQUIRED, encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = TermedAt(
        operation_starts("UpdateAccount", without="Field"),
        RequiredRefusedWhileMissing(sandbox.store),
    )
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.url, "apply", str(config), "--auto-approve"]
        running = start_konvsync([*args, "--report", str(report_file)], tmp_path)
        case.pid = running.process.pid
        result = running.finish()
        fields = [c.operation for c in portal.mutations if "AccountField" in c.operation]
    assert result.exit_code == 1, result.describe()
    assert fields == [], fields
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted", report
    statuses = [(c["address"], c["status"], c["message"]) for c in report["changes"]]
    assert statuses == [
        ("accounts/acme", "done", None),
        ("accounts/beta", "done", None),
        ("accountFields/region", "skipped", "not started: interrupted"),
    ], statuses
    field = sandbox.store.get("accountFields", key="region")
    assert field is not None and not field["required"], field
    again, _mutations = _apply_through(
        sandbox, RequiredRefusedWhileMissing(sandbox.store), config, "--auto-approve"
    )
    assert again.exit_code == 0, again.output
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in again.stdout


THREE_OPTIONAL = """\
konvsync: 1
accountFields:
  - {key: f1, label: F1, type: TEXT}
  - {key: f2, label: F2, type: TEXT}
  - {key: f3, label: F3, type: TEXT}
accounts:
  - {externalId: acme, name: Acme}
"""
THREE_REQUIRED = """\
konvsync: 1
accountFields:
  - {key: f1, label: F1, type: TEXT, required: true}
  - {key: f2, label: F2, type: TEXT, required: true}
  - {key: f3, label: F3, type: TEXT, required: true}
accounts:
  - {externalId: acme, name: Acme, customFields: {f1: a, f2: b, f3: c}}
"""


def test_sigterm_while_the_last_updates_go_out_sends_no_more_of_them(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Three fields made required after the accounts get their values, one
    update a request: SIGTERM when the first arrives. It finishes; the
    other two are not sent (they were, every one, before) and are reported
    not started; the next apply sends them."""
    sandbox, config = _applied(sandbox_factory, tmp_path, THREE_OPTIONAL)
    config.write_text(THREE_REQUIRED, encoding="utf-8")
    report_file = tmp_path / "report.json"
    case = TermedAt(
        operation_starts("UpdateAccountField"), RequiredRefusedWhileMissing(sandbox.store)
    )
    with running_hostile_server(sandbox.url, case) as portal:
        args = ["--endpoint", portal.url, "apply", str(config), "--auto-approve"]
        tuning = ["--batch-size", "1", "--parallelism", "1", "--report", str(report_file)]
        running = start_konvsync([*args, *tuning], tmp_path)
        case.pid = running.process.pid
        result = running.finish()
        fields = [c for c in portal.mutations if c.operation.startswith("UpdateAccountField")]
    assert result.exit_code == 1, result.describe()
    assert len(fields) == 1, [c.operation for c in fields]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted", report
    statuses = sorted(c["status"] for c in report["changes"] if "accountFields" in c["address"])
    assert statuses == ["done", "skipped", "skipped"], report["changes"]
    required = [f["key"] for f in sandbox.store.objects("accountFields") if f["required"]]
    assert len(required) == 1, required
    again, _mutations = _apply_through(
        sandbox, RequiredRefusedWhileMissing(sandbox.store), config, "--auto-approve"
    )
    assert again.exit_code == 0, again.output
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in again.stdout


def test_the_field_targeted_alone_fails_on_its_own_while_accounts_lack_values(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """``--target`` of the field alone: the accounts keep no values, so the
    strict portal refuses the update that makes it required; the planned
    change is the failure (1 failed, not an extra result). Targeting the
    accounts first, then the field, converges."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    config.write_text(REQUIRED, encoding="utf-8")
    case = RequiredRefusedWhileMissing(sandbox.store)
    field_only = ["--auto-approve", "--target", "accountFields/region"]
    applied, _mutations = _apply_through(sandbox, case, config, *field_only)
    assert applied.exit_code == 1, applied.output
    assert "Apply incomplete: 0 done (0 added, 0 changed, 0 destroyed), 1 failed, 0 skipped." in (
        applied.stdout
    ), applied.stdout
    accounts = ["--auto-approve", "--target", "accounts"]
    first, _mutations = _apply_through(sandbox, case, config, *accounts)
    assert first.exit_code == 0, first.output
    then, _mutations = _apply_through(sandbox, case, config, *field_only)
    assert then.exit_code == 0, then.output
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in then.stdout
    with running_hostile_server(sandbox.url, RequiredRefusedWhileMissing(sandbox.store)) as p:
        _no_changes(p.url, config)


class FieldEditedDuringTheAccounts(RequiredRefusedWhileMissing):
    """The strict portal, and another writer relabels the field when the
    accounts step's update arrives (before the field's waiting update)."""

    name = "field-edited-during-the-accounts"

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation.startswith("UpdateAccount") and "Field" not in call.operation:
            field = self.store.get("accountFields", key="region")
            assert field is not None
            self.store.update("accountFields", field["id"], {"label": "Edited by hand"})
        return answer


def test_a_field_edited_under_the_run_is_not_sent_when_its_update_waited(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The field's change waited whole for the end of the run; another
    writer changed the field meanwhile: it is checked against the portal
    as every step's changes are, and not sent (exit 1, what moved named),
    instead of overwriting the hand edit unseen."""
    sandbox, config = _applied(sandbox_factory, tmp_path, OPTIONAL)
    config.write_text(REQUIRED, encoding="utf-8")
    case = FieldEditedDuringTheAccounts(sandbox.store)
    applied, mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert applied.exit_code == 1, applied.output
    assert [m for m in mutations if "AccountField" in m.operation] == [], mutations
    assert "failed: accountFields/region (update): not sent: " in applied.stdout, applied.stdout
    assert "2 done (0 added, 2 changed, 0 destroyed), 1 failed" in applied.stdout, applied.stdout


class FieldEditedAfterThePlan(Case):
    """Another writer relabels the field right after apply's plan read it."""

    name = "field-edited-after-the-plan"

    def __init__(self, store: Store) -> None:
        self.store = store

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "ReadAccountFields" and call.index == 0:
            field = self.store.get("accountFields", key="region")
            assert field is not None
            self.store.update("accountFields", field["id"], {"label": "Edited by hand"})
        return answer


def test_a_waiting_update_of_a_field_edited_after_the_plan_is_a_stale_plan(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Nothing but the field's waiting update to send, and the field moved
    since the plan: a stale plan (exit 3), nothing written."""
    sandbox, config = _applied(sandbox_factory, tmp_path, REQUIRED.replace("required: true", ""))
    config.write_text(REQUIRED, encoding="utf-8")
    case = FieldEditedAfterThePlan(sandbox.store)
    applied, mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert applied.exit_code == 3, applied.output
    assert "stale plan: accountFields/region" in applied.stderr, applied.output
    assert mutations == [], mutations


TEXT_TO_SELECT = (
    TEXT_SCORES.replace("type: TEXT}", "type: SELECT, options: [gold, silver]}")
    .replace("score: high", "score: gold")
    .replace("score: low", "score: silver")
)


@pytest.mark.parametrize("portal", ["strict", "sandbox"])
def test_a_text_field_made_a_select_gets_its_options_with_its_type(
    portal: str, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """TEXT to SELECT with options, the accounts moved to them: the accounts
    first (their new values fit TEXT), then one update with the type and
    the options (a TEXT field is never sent options of its own)."""
    sandbox, config = _applied(sandbox_factory, tmp_path, TEXT_SCORES)
    config.write_text(TEXT_TO_SELECT, encoding="utf-8")
    case = TypeRefusedWhileUnfit(sandbox.store) if portal == "strict" else Case()
    applied, mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 0 added, 3 changed, 0 destroyed." in applied.stdout
    assert getattr(case, "refused", 0) == 0
    fields = [m.variables["input_0"] for m in mutations if "AccountField" in m.operation]
    assert fields == [{"type": "SELECT", "options": ["gold", "silver"]}], fields
    with running_hostile_server(sandbox.url, TypeRefusedWhileUnfit(sandbox.store)) as p:
        _no_changes(p.url, config)


def test_the_two_applies_the_type_warning_gives_converge_on_a_strict_portal(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """What the warning says works where one apply cannot: the strict portal
    refuses NUMBER to DATE while the numbers are held (exit 1); the values
    cleared (null) in one apply, the type and the dates in the next, with no
    warning left, converge."""
    sandbox, config = _applied(sandbox_factory, tmp_path, NUMBER_SCORES)
    case = TypeRefusedWhileUnfit(sandbox.store)
    config.write_text(NUMBER_TO_DATE, encoding="utf-8")
    at_once, _mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert at_once.exit_code == 1, at_once.output
    assert "values of acme, beta do not fit DATE (BAD_USER_INPUT)" in at_once.stdout
    cleared = NUMBER_SCORES.replace('"3"', "null").replace('"1"', "null")
    config.write_text(cleared, encoding="utf-8")
    first, _mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert first.exit_code == 0, first.output
    config.write_text(NUMBER_TO_DATE, encoding="utf-8")
    second, _mutations = _apply_through(sandbox, case, config, "--auto-approve")
    assert second.exit_code == 0, second.output
    assert "Warning" not in second.stdout, second.stdout
    with running_hostile_server(sandbox.url, TypeRefusedWhileUnfit(sandbox.store)) as p:
        _no_changes(p.url, config)
