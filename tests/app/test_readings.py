"""konvsync converges in ONE apply on every server the contract allows: the
same scenario, through the CLI, against the sandbox playing each reading of
the contract where it leaves a server a choice (``sandbox.readings``), and
all of them at once.

From an empty portal: apply a config with groups, account fields, accounts
with locations (one without an address), users (one with a mixed-case
e-mail, one with blank, untrimmed and decomposed-Unicode values) and invite
links (one that expires); then a second version that renames an account
field's key and a group's externalId, adds a location without an address,
and changes an account and a user (so that steps after the renames check
the portal against the plan). After each apply, ``plan --detailed-exitcode`` and
``drift`` exit 0; the export of the result plans to "No changes.".
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import schema
from tests.conftest import CliRun, SandboxFactory, invoke

FIRST = """\
konvsync: 1
variables: [DEALER_CODE]
policy:
  send_welcome_email: false
groups:
  - externalId: sales
    name: Sales
    permissions: [VIEW_ACCOUNT_USERS, MANAGE_ACCOUNT_USERS, MANAGE_ACCOUNT_DATA]
  - {externalId: service, name: Service, permissions: [VIEW_ACCOUNT_USERS, MANAGE_NEWS]}
accountFields:
  - {key: num, label: Number, type: TEXT}
  - {key: tier, label: Tier, type: SELECT, options: [gold, silver, bronze]}
  - {key: since, label: Partner since, type: DATE}
accounts:
  - externalId: acme
    name: ACME Corp
    website: https://acme.example
    userGroups: [service, sales]
    customFields: {num: A-1, tier: silver, since: "2020-02-29"}
    locations:
      - name: HQ
        phone: "+1 555 0100"
        address: {street: 1 Main St, city: Springfield, country: US}
      - name: Depot
  - externalId: beta
    name: Beta Ltd
    customFields: {num: B-2}
    locations:
      - {name: Main, address: {city: Shelbyville, postalCode: "12345"}}
users:
  - email: Jane.Doe@ACME.example
    firstName: Jane
    lastName: Doe
    title: VP Sales
    account: acme
    groups: [service, sales]
  - email: bob@beta.example
    firstName: "  Bob"
    lastName: "Ro\u0308ssler "
    title: ""
    account: beta
    groups: [service]
inviteLinks:
  - title: Spring campaign
    access: OPEN
    expiresAt: "2031-03-31T23:30:00-05:00"
    groups: [sales, service]
    allowedEmailDomains: [beta.example, acme.example]
    redirectPath: /lms
  - title: Dealers
    access: CODE
    code: ${env:DEALER_CODE}
    accountMatchField: num
    groups: [service]
"""

SECOND = (
    FIRST.replace("externalId: sales\n", "externalId: sales-east\n    renamedFrom: sales\n")
    .replace("[service, sales]", "[service, sales-east]")
    .replace("[sales, service]", "[sales-east, service]")
    .replace("{key: num,", "{key: number, renamedFrom: num,")
    .replace("num: ", "number: ")
    .replace("accountMatchField: num", "accountMatchField: number")
    .replace("website: https://acme.example", "website: https://www.acme.example")
    .replace("title: VP Sales", "title: Head of Sales")
    .replace(
        '      - {name: Main, address: {city: Shelbyville, postalCode: "12345"}}\n',
        '      - {name: Main, address: {city: Shelbyville, postalCode: "12345"}}\n'
        '      - {name: Warehouse, phone: "+1 555 0199"}\n',
    )
)

ENV = {"DEALER_CODE": "open-sesame", "INVITE_CODE_1": "open-sesame"}
"""The CODE link's code, and the variable export names for it."""

READINGS = [*readings.NAMED, readings.ALL]


def _run(sandbox: RunningSandbox, *args: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, *args], env=ENV)


def _converged(sandbox: RunningSandbox, config: Path, what: str) -> None:
    planned = _run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 0, f"{what}: plan after apply:\n{planned.output}"
    assert "No changes." in planned.stdout
    drift = _run(sandbox, "drift", str(config))
    assert drift.exit_code == 0, f"{what}: drift after apply:\n{drift.output}"


def _apply(sandbox: RunningSandbox, config: Path, what: str) -> CliRun:
    report = config.parent / "report.json"
    applied = _run(sandbox, "apply", str(config), "--auto-approve", "--report", str(report))
    assert applied.exit_code == 0, f"{what}:\n{applied.output}"
    assert "Apply complete!" in applied.stdout
    assert "another writer" not in applied.output
    assert "Traceback" not in applied.output
    data = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema("apply-report.schema.json"))
    assert data["status"] == "complete", data
    return applied


@pytest.mark.parametrize("reading", READINGS)
def test_one_apply_converges_on_every_reading(
    reading: str, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(
        readings=readings.named([reading], seed=7),
        page_cap=2 if reading == readings.ALL else None,
    )
    config = tmp_path / "konvsync.yaml"
    config.write_text(FIRST, encoding="utf-8")
    created = _apply(sandbox, config, f"{reading}: first apply")
    assert "Resources: 14 added, 0 changed, 0 destroyed." in created.stdout
    _converged(sandbox, config, f"{reading}: first version")

    config.write_text(SECOND, encoding="utf-8")
    changed = _apply(sandbox, config, f"{reading}: second apply")
    summary = "Resources: 1 added, 4 changed, 0 destroyed."
    if reading in ("values-stay", readings.ALL):  # both accounts' values moved by konvsync
        summary = "Resources: 1 added, 6 changed, 0 destroyed."
        assert "konvsync filed them under the new key" in changed.stdout
    assert summary in changed.stdout, changed.stdout
    _converged(sandbox, config, f"{reading}: second version")

    exported = tmp_path / "exported"
    export = _run(sandbox, "export", "--out", str(exported))
    assert export.exit_code == 0, export.output
    again = _run(sandbox, "plan", str(exported), "--detailed-exitcode")
    assert again.exit_code == 0, f"{reading}: plan of the export:\n{again.output}"
    assert "No changes." in again.stdout
    for account in ("acme", "beta"):
        stored = sandbox.store.get("accounts", key=account)
        assert stored is not None
        assert {entry["key"] for entry in stored["customFields"]} <= {"number", "tier", "since"}


def test_the_scenario_is_what_the_docstring_says() -> None:
    """The second version renames what it should (a typo in a replace()
    above would leave a weaker scenario passing)."""
    assert "renamedFrom: sales" in SECOND and "renamedFrom: num" in SECOND
    assert SECOND.count("number: ") == 2 and "accountMatchField: number" in SECOND
    assert "[service, sales-east]" in SECOND and "{name: Warehouse" in SECOND
    assert "www.acme" in SECOND and "Head of Sales" in SECOND
    assert textwrap.dedent(SECOND) == SECOND


FIELDS_ONLY = """\
konvsync: 1
accountFields:
  - {key: number, renamedFrom: num, label: Number, type: TEXT}
"""


@pytest.mark.parametrize("reading", [None, "values-stay"])
@pytest.mark.parametrize("saved", [False, True], ids=["config", "saved-plan"])
def test_values_move_with_a_renamed_field_the_config_lists_alone(
    reading: str | None, saved: bool, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The accounts are not in the config: apply still reads the ones that
    hold values under the old key and, where the portal left them there,
    files them under the new one (from a config or a saved plan)."""
    sandbox = sandbox_factory(readings=readings.named([reading] if reading else []))
    config = tmp_path / "konvsync.yaml"
    config.write_text(FIRST, encoding="utf-8")
    _apply(sandbox, config, "setup")
    config.write_text(FIELDS_ONLY, encoding="utf-8")
    planned = _run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert "accounts' customFields under 'num' move to 'number' with it" in planned.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in planned.stdout
    if saved:
        planfile = tmp_path / "rename.plan"
        assert _run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
        applied = _run(sandbox, "apply", str(planfile))
    else:
        applied = _run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    moved = "Resources: 0 added, 3 changed" if reading else "Resources: 0 added, 1 changed"
    assert moved in applied.stdout, applied.stdout
    values = {
        account: {
            e["key"]: e["value"] for e in sandbox.store.get("accounts", key=account)["customFields"]
        }
        for account in ("acme", "beta")
    }
    assert values["acme"]["number"] == "A-1" and "num" not in values["acme"]
    assert values["beta"] == {"number": "B-2"}
    _converged(sandbox, config, f"{reading}: fields only")


def test_values_an_interrupted_rename_left_behind_are_moved_by_the_next_plan(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The rename was made, but the apply stopped before it moved the values
    the portal kept under the old key: the next plan moves them (merged into
    an account's own update, or an update of its own), and converges."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    store = sandbox.store
    field = store.create("accountFields", {"key": "num", "label": "Number", "type": "TEXT"})
    for key, value in (("acme", "A-1"), ("beta", "B-2")):
        store.create(
            "accounts",
            {
                "externalId": key,
                "name": key.upper(),
                "customFields": [{"key": "num", "value": value}],
            },
        )
    store.update("accountFields", field["id"], {"key": "number"})
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        FIELDS_ONLY + "accounts:\n  - {externalId: acme, name: ACME Corp}\n", encoding="utf-8"
    )
    planned = _run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in planned.stdout
    assert '~ name         = "ACME" -> "ACME Corp"' in planned.stdout
    assert "(the portal kept its values under the old key 'num' (now 'number')" in planned.stdout
    assert planned.stdout.count('~ customFields = {"num": ') == 2
    _apply(sandbox, config, "moving what was left behind")
    for key, value in (("acme", "A-1"), ("beta", "B-2")):
        stored = store.get("accounts", key=key)
        assert stored is not None and stored["customFields"] == [{"key": "number", "value": value}]
    _converged(sandbox, config, "after moving what was left behind")


PRUNED_FIELD_FIRST = """\
konvsync: 1
accountFields:
  - {key: num, label: Number, type: BOOLEAN}
  - {key: other, label: Other, type: TEXT}
accounts:
  - {externalId: acme, name: ACME, customFields: {num: "true", other: x}}
"""
PRUNED_FIELD_SECOND = """\
konvsync: 1
policy: {prune: [accountFields]}
accountFields:
  - {key: other, label: Other, type: TEXT}
accounts:
  - {externalId: acme, name: ACME, customFields: {other: x}}
"""


def test_a_pruned_account_field_leaves_no_values_behind_in_one_apply(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The plan keeps the account's value under a field it deletes (the
    field may be required until it goes) and trusts the delete to take the
    values with it; a portal that leaves them (``values-stay``) shows them
    to the next plan as a change. Found by tests/fuzz/test_fuzz_converge.py."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    _converges_in_one_apply(sandbox, tmp_path, PRUNED_FIELD_FIRST, PRUNED_FIELD_SECOND)
    stored = sandbox.store.get("accounts", key="acme")
    assert stored is not None and stored["customFields"] == [{"key": "other", "value": "x"}]


PRUNED_BESIDE_OTHER_CHANGES_FIRST = """\
konvsync: 1
accountFields:
  - {key: flag, label: Flag, type: BOOLEAN, required: true}
  - {key: other, label: Other, type: TEXT}
accounts:
  - {externalId: acme, name: ACME, customFields: {flag: "true", other: x}}
  - {externalId: beta, name: Beta, customFields: {flag: "false"}}
  - {externalId: gamma, name: Gamma, customFields: {flag: "true"}}
"""
PRUNED_BESIDE_OTHER_CHANGES_SECOND = """\
konvsync: 1
policy: {prune: [accountFields, accounts]}
accountFields:
  - {key: other, label: Other, type: TEXT}
accounts:
  - {externalId: acme, name: ACME Corp, customFields: {other: y}}
  - {externalId: gamma, name: Gamma}
  - {externalId: delta, name: Delta}
"""


@pytest.mark.parametrize("reading", [None, "values-stay"])
@pytest.mark.parametrize("saved", [False, True], ids=["config", "saved-plan"])
def test_a_pruned_required_field_leaves_no_values_beside_other_changes(
    reading: str | None, saved: bool, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The pruned field is required until it goes (loosened first, deleted
    last); one account holding a value under it is updated by the same
    plan, another is deleted by it, a third is listed without customFields.
    The plan says the values go with the field; where the portal keeps them,
    apply clears them right after the delete (a warning says so, each clear
    counts as changed and says why in the report), and sends nothing more
    where the portal dropped them: one apply either way, from the config or
    a saved plan."""
    sandbox = sandbox_factory(readings=readings.named([reading] if reading else []))
    config = tmp_path / "konvsync.yaml"
    config.write_text(PRUNED_BESIDE_OTHER_CHANGES_FIRST, encoding="utf-8")
    _apply(sandbox, config, "setup")
    config.write_text(PRUNED_BESIDE_OTHER_CHANGES_SECOND, encoding="utf-8")
    planned = _run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert (
        "# accountFields/flag will be destroyed (the customFields values of 2 accounts under "
        "'flag' go with it; apply clears any the portal keeps)"
    ) in planned.stdout, planned.stdout
    assert "Plan: 1 to add, 1 to change, 2 to destroy." in planned.stdout
    report_file = tmp_path / "report.json"
    if saved:
        planfile = tmp_path / "prune.plan"
        assert _run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
        applied = _run(sandbox, "apply", str(planfile), "--report", str(report_file))
    else:
        args = ["--auto-approve", "--report", str(report_file)]
        applied = _run(sandbox, "apply", str(config), *args)
    assert applied.exit_code == 0, applied.output
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    statuses = sorted((c["address"], c["action"], c["status"]) for c in report["changes"])
    planned_statuses = [
        ("accountFields/flag", "delete", "done"),
        ("accounts/acme", "update", "done"),
        ("accounts/beta", "delete", "done"),
        ("accounts/delta", "create", "done"),
    ]
    if reading:
        assert "Resources: 1 added, 3 changed, 2 destroyed." in applied.stdout, applied.stdout
        assert (
            "Warning: the portal kept the values of 2 accounts under the deleted account "
            "field 'flag'; konvsync cleared them (counted as changed)"
        ) in applied.stdout
        assert statuses == sorted(
            [
                *planned_statuses,
                ("accounts/acme", "update", "done"),
                ("accounts/gamma", "update", "done"),
            ]
        ), statuses
        cleared = [c for c in report["changes"] if c["address"] == "accounts/gamma"]
        assert cleared[0]["message"] == (
            "the portal kept its values under the deleted key 'flag'; cleared"
        )
        assert (report["summary"]["planned"], report["summary"]["done"]) == (4, 6)
    else:
        assert "Resources: 1 added, 1 changed, 2 destroyed." in applied.stdout, applied.stdout
        assert "konvsync cleared" not in applied.output
        assert statuses == planned_statuses, statuses
        assert (report["summary"]["planned"], report["summary"]["done"]) == (4, 4)
    assert report["status"] == "complete", report
    values = {
        account: {
            e["key"]: e["value"] for e in sandbox.store.get("accounts", key=account)["customFields"]
        }
        for account in ("acme", "gamma", "delta")
    }
    assert values == {"acme": {"other": "y"}, "gamma": {}, "delta": {}}, values
    assert sandbox.store.get("accounts", key="beta") is None
    _converged(sandbox, config, f"{reading}: pruned beside other changes")


@pytest.mark.parametrize("reading", [None, "values-stay"])
def test_a_field_pruned_by_a_config_without_accounts_leaves_no_values_behind(
    reading: str | None, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The config prunes account fields and lists no accounts: the plan
    reads the accounts all the same (they hold the field's values), says
    the values go with the field, and apply clears those the portal keeps
    (and nothing where it dropped them)."""
    sandbox = sandbox_factory(readings=readings.named([reading] if reading else []))
    config = tmp_path / "konvsync.yaml"
    config.write_text(PRUNED_FIELD_FIRST, encoding="utf-8")
    _apply(sandbox, config, "setup")
    config.write_text(
        "konvsync: 1\npolicy: {prune: [accountFields]}\n"
        "accountFields: [{key: other, label: Other, type: TEXT}]\n",
        encoding="utf-8",
    )
    applied = _apply(sandbox, config, "the prune")
    assert (
        "(the customFields values of 1 account under 'num' go with it; apply clears any the "
        "portal keeps)"
    ) in applied.stdout, applied.stdout
    changed = 1 if reading else 0
    assert f"Resources: 0 added, {changed} changed, 1 destroyed." in applied.stdout
    stored = sandbox.store.get("accounts", key="acme")
    assert stored is not None and stored["customFields"] == [{"key": "other", "value": "x"}]
    _converged(sandbox, config, f"{reading}: pruned without accounts")


def test_a_field_delete_counts_the_values_of_an_account_without_a_key(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """An account without an externalId holds a value under the pruned
    field's key, beside one with a key: the plan's note counts both, as
    apply clears both where the portal keeps them (it said 1 account)."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    store = sandbox.store
    store.create("accountFields", {"key": "other", "label": "Other", "type": "TEXT"})
    store.create("accountFields", {"key": "num", "label": "Number", "type": "TEXT"})
    for key in ("acme", None):
        values = [{"key": "num", "value": "1"}]
        store.create("accounts", {"externalId": key, "name": f"{key}", "customFields": values})
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\npolicy: {prune: [accountFields]}\n"
        "accountFields: [{key: other, label: Other, type: TEXT}]\n",
        encoding="utf-8",
    )
    applied = _apply(sandbox, config, "the prune")
    assert (
        "(the customFields values of 2 accounts under 'num' go with it; apply clears any the "
        "portal keeps)"
    ) in applied.stdout, applied.stdout
    assert "Resources: 0 added, 2 changed, 1 destroyed." in applied.stdout, applied.stdout
    assert [a["customFields"] for a in store.objects("accounts")] == [[], []]
    _converged(sandbox, config, "after the prune")


def test_a_targeted_delete_of_a_field_clears_the_values_the_portal_kept(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """``--target accountFields/num``: the plan is the delete alone, and the
    values the portal kept under its key are cleared all the same (they are
    the field's, not another change's): the next whole plan has nothing."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    config = tmp_path / "konvsync.yaml"
    config.write_text(PRUNED_FIELD_FIRST, encoding="utf-8")
    _apply(sandbox, config, "setup")
    config.write_text(PRUNED_FIELD_SECOND, encoding="utf-8")
    args = ["--target", "accountFields/num", "--auto-approve"]
    applied = _run(sandbox, "apply", str(config), *args)
    assert applied.exit_code == 0, applied.output
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in applied.stdout
    assert "Resources: 0 added, 1 changed, 1 destroyed." in applied.stdout, applied.stdout
    _converged(sandbox, config, "after the targeted delete")


def _num_deleted_its_values_kept(
    sandbox_factory: SandboxFactory, nums: dict[str, str]
) -> RunningSandbox:
    """A portal that keeps values under a deleted field's key
    (``values-stay``): account fields ``other`` and ``num``, an account for
    each key of ``nums`` with that ``num`` value and ``other: x``, then
    ``num`` deleted (by an apply stopped before it cleared them, or by hand)."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    store = sandbox.store
    store.create("accountFields", {"key": "other", "label": "Other", "type": "TEXT"})
    field = store.create("accountFields", {"key": "num", "label": "Number", "type": "TEXT"})
    for key, num in nums.items():
        values = [{"key": "num", "value": num}, {"key": "other", "value": "x"}]
        store.create("accounts", {"externalId": key, "name": key, "customFields": values})
    store.delete("accountFields", field["id"])
    return sandbox


def test_values_an_interrupted_prune_left_behind_are_cleared_by_the_next_plan(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The field was deleted, but the apply stopped before it cleared the
    values the portal kept under its key: the next plan clears them, for an
    account whose customFields the config gives (its own update), one that
    does not give them and one it does not list (an update of their own),
    each saying why, and converges."""
    sandbox = _num_deleted_its_values_kept(
        sandbox_factory, {"acme": "acme-1", "beta": "beta-1", "gamma": "gamma-1"}
    )
    store = sandbox.store
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\npolicy: {prune: [accountFields]}\n"
        "accountFields: [{key: other, label: Other, type: TEXT}]\n"
        "accounts:\n  - {externalId: acme, name: acme, customFields: {other: x}}\n"
        "  - {externalId: beta, name: beta}\n",
        encoding="utf-8",
    )
    planned = _run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert "Plan: 0 to add, 3 to change, 0 to destroy." in planned.stdout, planned.stdout
    assert planned.stdout.count("(the portal kept its values under the deleted key 'num'; ") == 3
    _apply(sandbox, config, "clearing what was left behind")
    for key in ("acme", "beta", "gamma"):
        stored = store.get("accounts", key=key)
        assert stored is not None and stored["customFields"] == [{"key": "other", "value": "x"}]
    _converged(sandbox, config, "after clearing what was left behind")


def test_a_value_the_config_gives_under_a_key_it_creates_anew_is_set(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The portal kept the values of a deleted field; the config creates a
    field with its key again and gives one account a value under it: that
    account is set to the config's value (not cleared, to be set by the
    next apply), the one it gives no value is cleared, and one apply
    converges."""
    sandbox = _num_deleted_its_values_kept(sandbox_factory, {"acme": "old", "beta": "old"})
    store = sandbox.store
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\npolicy: {prune: [accountFields]}\n"
        "accountFields:\n  - {key: other, label: Other, type: TEXT}\n"
        "  - {key: num, label: Number, type: TEXT}\n"
        "accounts:\n  - {externalId: acme, name: acme, customFields: {other: x, num: new}}\n"
        "  - {externalId: beta, name: beta, customFields: {other: x}}\n",
        encoding="utf-8",
    )
    planned = _run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert 'customFields.num = "old" -> "new"' in planned.stdout, planned.stdout
    assert planned.stdout.count("(the portal kept its values under the deleted key 'num'; ") == 1
    _apply(sandbox, config, "the field created anew")
    values = {
        key: {e["key"]: e["value"] for e in store.get("accounts", key=key)["customFields"]}
        for key in ("acme", "beta")
    }
    assert values == {"acme": {"num": "new", "other": "x"}, "beta": {"other": "x"}}, values
    _converged(sandbox, config, "after the field created anew")


def _converges_in_one_apply(sandbox: RunningSandbox, folder: Path, first: str, second: str) -> None:
    """``first`` applied, then ``second``, which converges in one apply."""
    config = folder / "konvsync.yaml"
    config.write_text(first, encoding="utf-8")
    _apply(sandbox, config, "setup")
    config.write_text(second, encoding="utf-8")
    planned = _run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    _apply(sandbox, config, "the second version")
    _converged(sandbox, config, "the second version")


REQUIRED_FIELD_FIRST = """\
konvsync: 1
accountFields:
  - {key: flag, label: Flag, type: BOOLEAN, required: true}
accounts:
  - {externalId: acme, name: ACME, customFields: {flag: "true"}}
"""
REQUIRED_FIELD_PRUNED = """\
konvsync: 1
policy: {prune: [accountFields]}
accountFields: []
accounts:
  - {externalId: acme, name: ACME, customFields: {}}
  - {externalId: beta, name: Beta}
"""


def test_an_account_is_created_in_the_apply_that_prunes_a_required_field(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The plan passes (a field it deletes needs no value), but deletes come
    last: the portal still held the field, required, when the account was
    created, and refused it. The field is loosened in its own step now, and
    deleted last (apply.tightening). Found by tests/fuzz/test_fuzz_converge.py."""
    _converges_in_one_apply(
        sandbox_factory(), tmp_path, REQUIRED_FIELD_FIRST, REQUIRED_FIELD_PRUNED
    )


def test_a_required_field_pruned_is_loosened_first_and_counted_as_its_delete(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The delete of a required field goes in two parts (``required: false``
    in the field's own step, the delete after every step), reported as the
    one delete the plan shows."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(REQUIRED_FIELD_FIRST, encoding="utf-8")
    _apply(sandbox, config, "setup")
    config.write_text(REQUIRED_FIELD_PRUNED, encoding="utf-8")
    applied = _apply(sandbox, config, "the pruned field")
    assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in applied.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["planned"] == report["summary"]["done"] == 2
    assert sorted((c["address"], c["action"], c["status"]) for c in report["changes"]) == [
        ("accountFields/flag", "delete", "done"),
        ("accounts/beta", "create", "done"),
    ]
    assert sandbox.store.get("accountFields", key="flag") is None


RENAMED_WITH_A_DELETED_HOLDER_FIRST = """\
konvsync: 1
accountFields: [{key: score, label: Score, type: TEXT}]
accounts:
  - {externalId: acme, name: ACME, customFields: {score: "1"}}
  - {externalId: beta, name: Beta, customFields: {score: "2"}}
"""
RENAMED_WITH_A_DELETED_HOLDER_SECOND = """\
konvsync: 1
policy: {prune: [accounts]}
accountFields: [{key: since, renamedFrom: score, label: Score, type: TEXT}]
accounts:
  - {externalId: beta, name: Beta, customFields: {since: "2"}}
"""


def test_values_left_under_a_renamed_key_are_not_filed_for_an_account_the_plan_deletes(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A portal that keeps values under an account field's old key: apply
    filed them under the new key for every account holding them, the one
    the same plan deletes too, then reported that update "missing in the
    portal after the apply" (Apply incomplete). Found by
    tests/fuzz/test_fuzz_converge.py."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    _converges_in_one_apply(
        sandbox, tmp_path, RENAMED_WITH_A_DELETED_HOLDER_FIRST, RENAMED_WITH_A_DELETED_HOLDER_SECOND
    )
