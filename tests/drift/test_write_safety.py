"""``drift --write`` never loses or breaks anything (issue 23, items 2, 4, 5,
6 and 10): through the CLI, against a sandbox changed by hand and, where a
read goes wrong or a file changes meanwhile, a hostile portal in front of
it. Each test reproduces a reported bug."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke
from tests.drift.portal import HandEdits
from tests.drift.test_drift import ROOT, applied, changed_lines, drift, plan
from tests.drift.test_writeback import one_file
from tests.hostile.cases import OnConnection
from tests.hostile.legal_cases import MissedAndLookedUpAsStored
from tests.hostile.server import Call, Case, running_hostile_server

USERS = "konvsync: 1\nusers:\n" + "".join(
    f"  - {{email: u{index}@acme.example, firstName: U{index}, lastName: Doe}}\n"
    for index in range(10)
)


def validates(path: Path) -> None:
    result = invoke(["validate", str(path)])
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------ item 2


def _hide_u3(connection: dict[str, Any], _call: Call) -> None:
    """As offset pages show it while someone deletes one user and creates
    another: u3 slips between two pages, the new user shows up at the end."""
    nodes = connection["nodes"]
    for index, node in enumerate(nodes):
        if node["email"] == "u3@acme.example":
            nodes[index] = {**node, "id": "usr_new", "email": "zed@acme.example"}


def test_write_keeps_an_object_the_list_read_missed(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(sandbox, tmp_path, USERS)
    before = path.read_text()
    with running_hostile_server(
        sandbox.url, OnConnection("missed", "ReadUsers", _hide_u3)
    ) as hostile:
        result = invoke(["--endpoint", hostile.url, "drift", str(path), "--write"])
        asked = hostile.operations()
    assert result.exit_code == 2, result.output
    assert path.read_text() == before
    assert "users/u3@acme.example has been deleted in the portal" in result.stdout  # as read
    assert "users/u3@acme.example: the portal's list did not show it, but asked for" in (
        result.stdout
    )
    assert any(operation.startswith("GetUser") for operation in asked)
    again = plan(sandbox, path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_write_keeps_an_object_the_list_missed_on_a_portal_that_looks_up_as_stored(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """U3@Acme.example, stored as written, is asked for by key after the
    list missed her: as the configuration spells her e-mail as well as
    lowercased, since the portal finds an e-mail only as stored. Before,
    only "u3@acme.example" was asked for, she was not found, and
    ``drift --write`` removed her from the file (the next apply would have
    deleted her with ``prune: [users]``)."""
    path = one_file(sandbox, tmp_path, USERS.replace("u3@acme.example", "U3@Acme.example"))
    before = path.read_text()
    with running_hostile_server(
        sandbox.url,
        MissedAndLookedUpAsStored(
            "U3@Acme.example", {"id": "usr_new", "email": "zed@acme.example"}
        ),
    ) as hostile:
        result = invoke(["--endpoint", hostile.url, "drift", str(path), "--write"])
    assert result.exit_code == 2, result.output
    assert path.read_text() == before
    assert "users/u3@acme.example: the portal's list did not show it, but asked for" in (
        result.stdout
    )


def test_write_refuses_to_remove_more_than_max_delete_percent(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(sandbox, tmp_path, USERS)
    portal = HandEdits(sandbox)
    for index in (1, 4, 7):
        portal.delete_user(f"u{index}@acme.example")
    before = path.read_text()
    refused = drift(sandbox, path, "--write")
    assert refused.exit_code == 3, refused.output
    assert (
        "refusing to remove 3 of 10 users (30%) from the configuration: more than "
        "max_delete_percent 25%; nothing was written"
    ) in refused.stderr
    assert "Drift: 0 changed, 3 deleted, 0 created in the portal." in refused.stdout
    assert path.read_text() == before
    allowed = drift(sandbox, path, "--write", "--allow-mass-delete")
    assert allowed.exit_code == 2, allowed.output
    assert len(changed_lines(before, path.read_text())) == 3
    assert plan(sandbox, path).exit_code == 0


def test_objects_created_in_the_portal_are_reported_not_refused(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Apply would delete them (more than max_delete_percent): drift reports
    them, and --write accepts them; neither deletes anything."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\npolicy: {prune: [groups]}\ngroups: [{externalId: keep, name: Keep}]\n",
    )
    portal = HandEdits(sandbox)
    for index in range(10):
        portal.create_group(externalId=f"new{index}", name=f"New {index}")
    result = drift(sandbox, path, "--format", "json")
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["summary"]["created"] == 10
    written = drift(sandbox, path, "--write")
    assert written.exit_code == 2, written.output
    assert len(yaml.safe_load(path.read_text())["groups"]) == 11
    assert plan(sandbox, path).exit_code == 0


# ------------------------------------------------------------ item 4


class EditsTheFileMeanwhile(Case):
    """While drift reads the portal, someone swaps two entries of the same
    length in the file (as an editor or a git checkout would)."""

    name = "edits-the-file"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def before(self, call: Call) -> None:
        if call.operation == "ReadUsers" and call.index == 0:
            lines = self.path.read_text().splitlines(keepends=True)
            lines[2], lines[3] = lines[3], lines[2]
            self.path.write_text("".join(lines))
        return None


def test_write_refuses_a_file_changed_since_it_was_read(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(sandbox, tmp_path, USERS)
    HandEdits(sandbox).update_user("u0@acme.example", lastName="Smith")
    with running_hostile_server(sandbox.url, EditsTheFileMeanwhile(path)) as hostile:
        result = invoke(["--endpoint", hostile.url, "drift", str(path), "--write"])
    assert result.exit_code == 3, result.output
    assert f"{path} changed since drift read it; nothing was written" in result.stderr
    swapped = USERS.splitlines(keepends=True)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    assert path.read_text() == "".join(swapped)  # the other writer's file, untouched
    validates(path)


def test_write_keeps_mode_and_hard_links(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = one_file(sandbox, tmp_path, USERS)
    path.chmod(0o640)
    linked = tmp_path / "elsewhere.yaml"
    os.link(path, linked)
    HandEdits(sandbox).update_user("u0@acme.example", lastName="Smith")
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "lastName: Smith" in path.read_text()
    assert linked.read_text() == path.read_text()  # still one file under two names
    assert path.stat().st_ino == linked.stat().st_ino
    assert path.stat().st_mode & 0o777 == 0o640
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


# ------------------------------------------------------------ item 5

MERGED = """\
konvsync: 1
users:
  - &jane
    email: jane@acme.example
    firstName: Jane
    lastName: Doe
    title: VP
  - <<: *jane
    email: john@acme.example
    firstName: John
"""


def test_write_never_edits_a_value_another_object_merges(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(sandbox, tmp_path, MERGED)
    portal = HandEdits(sandbox)
    portal.update_user("jane@acme.example", title="CEO")
    portal.update_user("john@acme.example", lastName="Smith")
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert path.read_text() == MERGED
    assert "users/jane@acme.example title: shared through an anchor, left as written" in (
        result.stdout
    )
    assert "users/john@acme.example lastName: inherited through a YAML merge key" in result.stdout
    left = json.loads(drift(sandbox, path, "--format", "json").stdout)["drift"]
    assert sorted((d["key"], [f["path"] for f in d["fields"]]) for d in left) == [
        ("jane@acme.example", ["title"]),
        ("john@acme.example", ["lastName"]),
    ]


def test_write_keeps_an_object_whose_anchor_another_uses(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(sandbox, tmp_path, MERGED)
    HandEdits(sandbox).delete_user("jane@acme.example")
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "users/jane@acme.example: holds an anchor other objects use" in result.stdout
    assert path.read_text() == MERGED
    validates(path)


# ------------------------------------------------------------ item 6


def test_unmanaged_objects_the_config_would_reject_are_written_as_comments(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n"
        "users:\n  - {email: jane@acme.example, firstName: Jane, lastName: Doe}\n",
    )
    store = sandbox.store
    store.create("users", {"email": "sp ace@acme.example", "firstName": "S", "lastName": "P"})
    other = store.create("groups", {"externalId": "other", "name": "Other"})
    store.create(
        "users",
        {"email": "max@acme.example", "firstName": "Max", "lastName": "Poe"}
        | {"groupIds": [other["id"]]},
    )
    store.create(
        "users", {"email": "eve@acme.example", "firstName": "Eve\u202e", "lastName": "\x1b[31m"}
    )
    # --target users: the group 'other' is not added, and max refers to it.
    args = ("--write", "--include-unmanaged", "--target", "users", "--format", "json")
    result = drift(sandbox, path, *args)
    assert result.exit_code == 2, result.output
    validates(path)
    data = json.loads(result.stdout)
    jsonschema.validate(data, json.loads((ROOT / "schemas" / "drift.schema.json").read_text()))
    kept = {k["address"]: k["reason"] for k in data["written"]["kept"]}
    assert "written as a comment" in kept["users/sp ace@acme.example"]
    assert (
        "refers to group 'other', which the configuration does not define"
        in (kept["users/max@acme.example"])
    )
    text = path.read_text()
    assert "# user 'sp ace@acme.example' is not valid konvsync YAML as it is" in text
    assert "# - email: max@acme.example" in text
    assert 'firstName: "Eve\\u202e"' in text and 'lastName: "\\e[31m"' in text
    assert "\u202e" not in text and "\x1b" not in text
    validates(path)
    users = yaml.safe_load(text)["users"]
    assert [u["email"] for u in users] == ["jane@acme.example", "eve@acme.example"]


def test_an_unmanaged_account_with_a_value_its_field_no_longer_takes_is_a_comment(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A field retyped after an account got a value (the portal checks
    values when they are written): accepting that account as it is would
    leave a config konvsync rejects, so it is written as a comment, as export
    writes it, and the rest is accepted. Found by
    tests/fuzz/test_fuzz_converge.py."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields: [{key: score, label: Score, type: TEXT}]\n"
        "accounts:\n  - {externalId: acme, name: ACME}\n",
    )
    store = sandbox.store
    field = store.get("accountFields", key="score")
    assert field is not None
    store.create(
        "accounts",
        {"externalId": "beta", "name": "Beta", "customFields": [{"key": "score", "value": "hi"}]},
    )
    store.create("accounts", {"externalId": "gamma", "name": "Gamma"})
    store.update("accountFields", field["id"], {"type": "BOOLEAN"})
    result = drift(sandbox, path, "--write", "--include-unmanaged")
    assert result.exit_code == 2, result.output
    validates(path)
    text = path.read_text()
    assert "# - externalId: beta" in text
    assert (
        "# account 'beta' is not valid konvsync YAML as it is (customFields 'score': 'hi' "
        "does not fit its BOOLEAN field):"
    ) in text
    written = yaml.safe_load(text)
    assert written["accountFields"][0]["type"] == "BOOLEAN"
    assert [a["externalId"] for a in written["accounts"]] == ["acme", "gamma"]
    assert "accounts/beta: the configuration would reject it (customFields 'score'" in (
        result.stdout
    )
    assert plan(sandbox, path).exit_code == 0


def test_the_kept_unfit_account_is_listed_in_the_json_report(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields: [{key: tier, label: Tier, type: SELECT, options: [a, b]}]\n"
        "accounts:\n  - {externalId: acme, name: ACME}\n",
    )
    store = sandbox.store
    field = store.get("accountFields", key="tier")
    assert field is not None
    store.create(
        "accounts",
        {"externalId": "beta", "name": "Beta", "customFields": [{"key": "tier", "value": "b"}]},
    )
    store.update("accountFields", field["id"], {"options": ["a", "c"]})
    result = drift(sandbox, path, "--write", "--include-unmanaged", "--format", "json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, json.loads((ROOT / "schemas" / "drift.schema.json").read_text()))
    kept = {(k["address"], k["path"]): k["reason"] for k in data["written"]["kept"]}
    assert kept == {
        ("accounts/beta", None): "the configuration would reject it (customFields 'tier': "
        "'b' does not fit its SELECT field): written as a comment"
    }
    validates(path)
    assert yaml.safe_load(path.read_text())["accountFields"][0]["options"] == ["a", "c"]
    assert plan(sandbox, path).exit_code == 0


def test_a_retype_the_configured_accounts_values_do_not_fit_is_left_as_written(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The managed variant: an account the configuration lists holds a value
    the field, retyped in the portal since, does not take. Accepting the
    type would leave a configuration konvsync rejects (and refuse the whole
    write); the type is left as written, with the reason, and the rest of
    the drift is accepted."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields: [{key: score, label: Score, type: TEXT}]\n"
        "accounts:\n  - {externalId: acme, name: ACME, customFields: {score: hi}}\n"
        "groups: [{externalId: sales, name: Sales}]\n",
    )
    store = sandbox.store
    field = store.get("accountFields", key="score")
    assert field is not None
    store.update("accountFields", field["id"], {"type": "BOOLEAN", "label": "Points"})
    HandEdits(sandbox).update_group("sales", name="Sales Team")
    result = drift(sandbox, path, "--write", "--format", "json")
    assert result.exit_code == 2, result.output
    validates(path)
    data = json.loads(result.stdout)
    jsonschema.validate(data, json.loads((ROOT / "schemas" / "drift.schema.json").read_text()))
    kept = {(k["address"], k["path"]): k["reason"] for k in data["written"]["kept"]}
    assert kept == {
        ("accountFields/score", "type"): "the configuration would then reject accounts/acme "
        "(customFields 'score': 'hi' does not fit its BOOLEAN field); left as written "
        "(correct that in the portal and run drift --write again, or apply to revert it)"
    }
    written = yaml.safe_load(path.read_text())
    assert written["accountFields"] == [{"key": "score", "label": "Points", "type": "TEXT"}]
    assert written["groups"] == [{"externalId": "sales", "name": "Sales Team"}]
    left = json.loads(drift(sandbox, path, "--format", "json").stdout)["drift"]
    assert [(d["key"], [f["path"] for f in d["fields"]]) for d in left] == [("score", ["type"])]
    assert plan(sandbox, path).exit_code == 2  # apply would set the type back to TEXT


def test_a_retype_a_value_written_as_a_yaml_number_or_boolean_needs_is_left_as_written(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``qty: 1_000`` is the number 1000 to YAML, which a NUMBER field takes;
    ``ok: yes`` is true, which a BOOLEAN field takes. Retyped to TEXT in the
    portal, the values fit ("1000", "true"), but the configuration spelled
    so is rejected (quote it to send the text as written): accepting the
    types refused the whole write (exit 1, nothing written, the group's
    new name lost too). The types are left as written, with the reason;
    the rest is accepted."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields:\n  - {key: qty, label: Qty, type: NUMBER}\n"
        "  - {key: ok, label: OK, type: BOOLEAN}\n"
        "accounts:\n  - {externalId: acme, name: ACME, customFields: {qty: 1_000, ok: yes}}\n"
        "  - {externalId: beta, name: Beta, customFields: {qty: 5, ok: true}}\n"
        "groups: [{externalId: sales, name: Sales}]\n",
    )
    store = sandbox.store
    for key in ("qty", "ok"):
        field = store.get("accountFields", key=key)
        assert field is not None
        store.update("accountFields", field["id"], {"type": "TEXT"})
    HandEdits(sandbox).update_group("sales", name="Sales Team")
    result = drift(sandbox, path, "--write", "--format", "json")
    assert result.exit_code == 2, result.output
    validates(path)
    data = json.loads(result.stdout)
    kept = {(k["address"], k["path"]): k["reason"] for k in data["written"]["kept"]}
    assert kept == {
        ("accountFields/qty", "type"): "the configuration would then reject accounts/acme "
        "(customFields 'qty': written 1_000, which YAML reads as the number 1000: a TEXT "
        "field takes it only quoted); left as written (correct that in the portal and run "
        "drift --write again, or apply to revert it)",
        ("accountFields/ok", "type"): "the configuration would then reject accounts/acme "
        "(customFields 'ok': written yes, which YAML reads as true: a TEXT field takes it "
        "only quoted); left as written (correct that in the portal and run drift --write "
        "again, or apply to revert it)",
    }
    written = yaml.safe_load(path.read_text())
    assert [f["type"] for f in written["accountFields"]] == ["NUMBER", "BOOLEAN"]
    assert written["groups"] == [{"externalId": "sales", "name": "Sales Team"}]


def test_an_account_whose_portal_value_fits_the_retype_takes_both(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The account's value changed in the portal before the retype: its new
    value fits the new type, and both are accepted."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields: [{key: score, label: Score, type: TEXT}]\n"
        "accounts:\n  - {externalId: acme, name: ACME, customFields: {score: hi}}\n",
    )
    HandEdits(sandbox).update_account("acme", customFields=[{"key": "score", "value": "true"}])
    store = sandbox.store
    field = store.get("accountFields", key="score")
    assert field is not None
    store.update("accountFields", field["id"], {"type": "BOOLEAN"})
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "Left as written" not in result.stdout, result.stdout
    validates(path)
    written = yaml.safe_load(path.read_text())
    assert written["accountFields"][0]["type"] == "BOOLEAN"
    assert written["accounts"][0]["customFields"] == {"score": "true"}
    again = plan(sandbox, path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_a_changed_value_its_field_as_left_as_written_does_not_take_is_left_too(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The portal's options were widened, one account given the new option,
    then narrowed while another kept one it dropped: the options are left as
    written (the other account's value), so the new option is left too."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields: [{key: tier, label: Tier, type: SELECT, options: [a, b]}]\n"
        "accounts:\n  - {externalId: acme, name: ACME, customFields: {tier: a}}\n"
        "  - {externalId: beta, name: Beta, customFields: {tier: b}}\n",
    )
    store = sandbox.store
    field = store.get("accountFields", key="tier")
    assert field is not None
    store.update("accountFields", field["id"], {"options": ["a", "b", "c"]})
    HandEdits(sandbox).update_account("acme", customFields=[{"key": "tier", "value": "c"}])
    store.update("accountFields", field["id"], {"options": ["a", "c"]})
    result = drift(sandbox, path, "--write", "--format", "json")
    assert result.exit_code == 2, result.output
    validates(path)
    kept = {
        (k["address"], k["path"]): k["reason"] for k in json.loads(result.stdout)["written"]["kept"]
    }
    assert kept == {
        ("accountFields/tier", "options"): "the configuration would then reject accounts/beta "
        "(customFields 'tier': 'b' does not fit its SELECT field); left as written (correct "
        "that in the portal and run drift --write again, or apply to revert it)",
        ("accounts/acme", "customFields"): "the configuration would reject the portal's value "
        "(customFields 'tier': 'c' does not fit its SELECT field)",
    }


LINKS = """\
konvsync: 1
accountFields:
  - {key: region, label: Region, type: TEXT}
  - {key: tier, label: Tier, type: TEXT}
inviteLinks:
  - {title: Dealers, access: OPEN, active: false, accountMatchField: region}
"""


def test_invite_links_matching_on_a_field_retyped_since(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """An invite link may match only on a TEXT, NUMBER or SELECT field: a
    link the configuration lists keeps its field's type as written; one
    created in the portal is written as a comment, as export writes it."""
    path = one_file(sandbox, tmp_path, LINKS)
    store = sandbox.store
    region = store.get("accountFields", key="region")
    tier = store.get("accountFields", key="tier")
    assert region is not None and tier is not None
    store.create(
        "inviteLinks",
        {"title": "Partners", "access": "OPEN", "active": False, "accountMatchFieldId": tier["id"]},
    )
    store.update("accountFields", region["id"], {"type": "DATE"})
    store.update("accountFields", tier["id"], {"type": "BOOLEAN"})
    result = drift(sandbox, path, "--write", "--include-unmanaged", "--format", "json")
    assert result.exit_code == 2, result.output
    validates(path)
    data = json.loads(result.stdout)
    kept = {(k["address"], k["path"]): k["reason"] for k in data["written"]["kept"]}
    assert kept == {
        ("accountFields/region", "type"): "the configuration would then reject "
        "inviteLinks/Dealers (invite link 'Dealers': accountMatchField refers to account field "
        "'region', whose type is DATE; it must be TEXT, NUMBER, SELECT); left as written "
        "(correct that in the portal and run drift --write again, or apply to revert it)",
        ("inviteLinks/Partners", None): "the configuration would reject it (invite link "
        "'Partners': accountMatchField refers to account field 'tier', whose type is BOOLEAN; "
        "it must be TEXT, NUMBER, SELECT): written as a comment",
    }
    text = path.read_text()
    assert "# - title: Partners" in text
    written = yaml.safe_load(text)
    assert [f["type"] for f in written["accountFields"]] == ["TEXT", "BOOLEAN"]
    assert [link["title"] for link in written["inviteLinks"]] == ["Dealers"]
    assert plan(sandbox, path).exit_code == 2  # apply would set region's type back


# ------------------------------------------------------------ item 10


def test_write_a_file_with_cr_line_endings(sandbox: RunningSandbox, tmp_path: Path) -> None:
    text = "konvsync: 1\rpolicy: {prune: [groups]}\rgroups:\r  - externalId: sales\r"
    path = one_file(sandbox, tmp_path, text + "    name: Sales   # the team\r")
    portal = HandEdits(sandbox)
    portal.update_group("sales", name="Sales Team")
    portal.create_group(externalId="support", name="Support")
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output
    assert path.read_bytes().decode() == (
        text + "    name: Sales Team   # the team\r  - externalId: support\r    name: Support\r"
    )
    assert plan(sandbox, path).exit_code == 0


def test_write_a_value_with_a_tab_before_its_comment(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\ngroups:\n  - externalId: sales\n    name: Sales\t# the team\n",
    )
    HandEdits(sandbox).update_group("sales", name="Sales Team")
    before = path.read_text()
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "Left as written" not in result.stdout
    assert changed_lines(before, path.read_text()) == [
        "-    name: Sales\t# the team",
        "+    name: Sales Team\t# the team",
    ]
    assert plan(sandbox, path).exit_code == 0


# ------------------------------------------------------------ issue 26, item 8

BASE = """\
konvsync: 1
policy: {prune: [groups]}
groups:
  - externalId: sales
    name: Sales
    permissions: [VIEW_ACCOUNT_USERS]
  - externalId: support
    name: Support
users:
  - email: jane@acme.example
    firstName: Jane
    lastName: Doe
    title: VP
"""
STAGING = """\
groups:
  - externalId: sales
    name: Sales (staging)   # staging's own name
users:
  - email: jane@acme.example
    title: Tester
"""


def test_drift_of_a_base_and_an_overlay_writes_each_value_where_it_comes_from(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    base, overlay = tmp_path / "base", tmp_path / "overlays" / "staging"
    for folder, text in ((base, BASE), (overlay, STAGING)):
        folder.mkdir(parents=True)
        (folder / "portal.yaml").write_text(text)
    paths = [str(base), str(overlay)]
    applied = invoke(["--endpoint", sandbox.url, "apply", *paths, "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    portal = HandEdits(sandbox)
    portal.update_group("sales", name="Sales Team", permissions=["MANAGE_NEWS"])
    portal.update_user("jane@acme.example", title="CEO", lastName="Smith")
    portal.create_group(externalId="marketing", name="Marketing")
    portal.delete_group("support")
    result = invoke(["--endpoint", sandbox.url, "drift", *paths, "--write"])
    assert result.exit_code == 2, result.output
    assert changed_lines(BASE, (base / "portal.yaml").read_text()) == [
        "-    permissions: [VIEW_ACCOUNT_USERS]",
        "+    permissions: [MANAGE_NEWS]",
        "-    lastName: Doe",
        "+    lastName: Smith",
    ]
    assert changed_lines(STAGING, (overlay / "portal.yaml").read_text()) == [
        "-    name: Sales (staging)   # staging's own name",
        "+    name: Sales Team   # staging's own name",
        "+  - externalId: marketing",
        "+    name: Marketing",
        "-    title: Tester",
        "+    title: CEO",
    ]
    assert "groups/support: written in an earlier config path" in result.stdout
    left = invoke(["--endpoint", sandbox.url, "drift", *paths, "--format", "json"])
    assert [(d["category"], d["key"]) for d in json.loads(left.stdout)["drift"]] == [
        ("deleted", "support")
    ]


def test_a_write_refused_for_a_changed_file_still_shows_the_drift(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """README: exit 3, "--write refused as below; the report is still shown".
    A file changed meanwhile is one of those refusals, but only the error
    line was printed: the drift that was read was lost."""
    path = one_file(sandbox, tmp_path, USERS)
    HandEdits(sandbox).update_user("u0@acme.example", lastName="Smith")
    with running_hostile_server(sandbox.url, EditsTheFileMeanwhile(path)) as hostile:
        result = invoke(["--endpoint", hostile.url, "drift", str(path), "--write"])
    assert result.exit_code == 3, result.output
    assert '~ lastName = "Doe" -> "Smith"' in result.stdout, result.output
    assert result.stderr.endswith(
        f"{path} changed since drift read it; nothing was written (run drift --write again)\n"
    ), result.output


# ------------------------------------------------------------ files the user made read-only


def test_write_refuses_a_read_only_file(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A file made read-only (``chmod a-w``) is not rewritten behind the
    user's back: replacing it by a rename needs only the folder's permission
    (and root may write anything), so its mode is what says no."""
    path = one_file(sandbox, tmp_path, USERS)
    HandEdits(sandbox).update_user("u0@acme.example", lastName="Smith")
    path.chmod(0o444)
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 1, result.output
    assert f"cannot write {path}: the file is read-only; nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert '~ lastName = "Doe" -> "Smith"' in result.stdout  # the drift read is still shown
    as_json = drift(sandbox, path, "--write", "--format", "json")  # checked against its schema
    assert as_json.exit_code == 1, as_json.output
    shown = json.loads(as_json.stdout)
    assert shown["summary"]["changed"] == 1 and shown["written"] is None
    assert path.read_text() == USERS
    assert path.stat().st_mode & 0o777 == 0o444
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_write_refuses_a_read_only_folder(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """The edited file is written as a new file in its folder, renamed over
    the old: a folder made read-only refuses, as it would for any user but root."""
    path = one_file(sandbox, tmp_path, USERS)
    HandEdits(sandbox).update_user("u0@acme.example", lastName="Smith")
    path.parent.chmod(0o555)
    try:
        result = drift(sandbox, path, "--write")
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    finally:
        path.parent.chmod(0o755)
    assert result.exit_code == 1, result.output
    assert f"cannot write {path}: its folder is read-only; nothing was written" in result.stderr
    assert path.read_text() == USERS


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away"
)
def test_write_keeps_the_file_owner(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """``drift --write`` run as root (a CI container writing a checkout
    mounted from the host) replaced the file by a new one, root's: the
    host's user could no longer edit their own config. The file keeps its
    owner, group and mode, as ``sed -i`` keeps them."""
    path = one_file(sandbox, tmp_path, USERS)
    HandEdits(sandbox).update_user("u0@acme.example", lastName="Smith")
    os.chown(path, 4321, 4322)
    path.chmod(0o640)
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "lastName: Smith" in path.read_text()
    info = path.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (4321, 4322, 0o640)


def test_a_read_only_file_refuses_the_whole_write(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Of two files to write, the second is read-only: neither is written, and
    the first's new text, staged beside it, does not stay as a temporary file."""
    groups = "groups:\n" + "".join(f"  - {{externalId: g{i}, name: G{i}}}\n" for i in range(3))
    config = applied(sandbox, tmp_path, {"a.yaml": USERS, "b.yaml": groups})
    portal = HandEdits(sandbox)
    portal.update_user("u0@acme.example", lastName="Smith")
    portal.update_group("g0", name="Renamed")
    (config / "b.yaml").chmod(0o444)
    result = drift(sandbox, config, "--write")
    assert result.exit_code == 1, result.output
    assert "b.yaml: the file is read-only; nothing was written" in result.stderr
    assert (config / "a.yaml").read_text() == USERS
    assert (config / "b.yaml").read_text() == groups
    assert sorted(p.name for p in config.iterdir()) == ["a.yaml", "b.yaml"]


# ------------------------------------------------------------ files shared through a link

OWN = """\
konvsync: 1
policy:
  prune: [groups]
groups:
  - {externalId: own, name: Own}
"""
SHARED = """\
groups:
  - {externalId: shared1, name: Shared 1}
  - {externalId: shared2, name: Shared 2}
accounts:
  - externalId: acme
    name: ACME
    locations: [{name: HQ}]
"""


def test_write_removes_nothing_from_and_adds_nothing_to_a_file_shared_through_a_link(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``teams -> ../shared-teams``, a folder that staging's and production's
    configs both link to: a group deleted by hand in one portal was removed
    from the shared file, and a group created there was added to it, so the
    other portal's next apply deleted (prune) and created them too. As for a
    file of an earlier config path: the object is left as written, and the
    new one goes to a file of the folder's own."""
    portal, shared = tmp_path / "portal", tmp_path / "shared-teams"
    portal.mkdir()
    shared.mkdir()
    (portal / "konvsync.yaml").write_text(OWN)
    (shared / "groups.yaml").write_text(SHARED)
    (portal / "teams").symlink_to("../shared-teams", target_is_directory=True)
    applied = invoke(["--endpoint", sandbox.url, "apply", str(portal), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    edits = HandEdits(sandbox)
    edits.delete_group("shared1")
    edits.create_group(externalId="zeta", name="Zeta")
    edits.update_group("shared2", name="Shared Two")
    edits.create_location("acme", name="Branch")
    result = invoke(["--endpoint", sandbox.url, "drift", str(portal), "--write"])
    assert result.exit_code == 2, result.output
    assert (
        f"groups/shared1: written in {portal / 'teams' / 'groups.yaml'}, which a link leads "
        "to from outside the config folder" in result.stdout
    ), result.stdout
    assert (
        f"locations/acme/Branch: its account's locations are written in "
        f"{portal / 'teams' / 'groups.yaml'}, which a link leads to" in result.stdout
    ), result.stdout
    assert changed_lines(SHARED, (shared / "groups.yaml").read_text()) == [
        "-  - {externalId: shared2, name: Shared 2}",
        "+  - {externalId: shared2, name: Shared Two}",
    ]
    assert changed_lines(OWN, (portal / "konvsync.yaml").read_text()) == [
        "+  - {externalId: zeta, name: Zeta}",
    ]


ACCOUNT_BASE = """\
konvsync: 1
policy: {prune: [accounts]}
accounts:
  - externalId: acme
    name: ACME
    locations:
      - {name: HQ}
"""


@pytest.mark.parametrize(
    "listed",
    ["", "    locations:\n      - {name: HQ}\n      - {name: Annex}\n", "    locations: []\n"],
    ids=["base-lists", "overlay-lists", "overlay-lists-none"],
)
def test_a_location_created_in_the_portal_goes_where_the_last_path_lists_them(
    sandbox: RunningSandbox, tmp_path: Path, listed: str
) -> None:
    """A location created by hand in staging's portal, under an account the
    base defines: it was added to the base's list (shared with production,
    whose next apply created it there), though new objects go to the last
    path; and where the staging overlay gives the account's locations, it
    was left out ("cannot find the object at staging.yaml:6:9 in the file":
    it was looked for in the base). The overlay's list takes it; the base's
    is left as written."""
    staging = "accounts:\n  - externalId: acme\n    name: ACME staging\n" + listed
    base, overlay = tmp_path / "base", tmp_path / "staging"
    for folder, text in ((base, ACCOUNT_BASE), (overlay, staging)):
        folder.mkdir()
        (folder / "portal.yaml").write_text(text)
    paths = [str(base), str(overlay)]
    applied = invoke(["--endpoint", sandbox.url, "apply", *paths, "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    HandEdits(sandbox).create_location("acme", name="Branch")
    result = invoke(["--endpoint", sandbox.url, "drift", *paths, "--write"])
    assert result.exit_code == 2, result.output
    assert (base / "portal.yaml").read_text() == ACCOUNT_BASE
    if listed:
        written = (overlay / "portal.yaml").read_text()
        assert yaml.safe_load(written)["accounts"][0]["locations"][-1] == {"name": "Branch"}
        assert [line for line in changed_lines(staging, written) if line[0] == "-"] in (
            [],
            ["-    locations: []"],
        ), written
        again = invoke(["--endpoint", sandbox.url, "plan", *paths, "--detailed-exitcode"])
        assert again.exit_code == 0, again.output
    else:
        assert (overlay / "portal.yaml").read_text() == staging
        assert (
            "locations/acme/Branch: its account's locations are written in an earlier config "
            "path, which other environments may share; left out" in result.stdout
        ), result.stdout


def test_a_new_object_is_left_out_when_every_file_is_shared_through_a_link(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A folder whose only file links out of it (``konvsync.yaml ->
    ../shared/konvsync.yaml``): a group created by hand has no file of the
    folder's own to go to, and is left out, saying why."""
    portal, shared = tmp_path / "portal", tmp_path / "shared"
    portal.mkdir()
    shared.mkdir()
    (shared / "konvsync.yaml").write_text(OWN)
    (portal / "konvsync.yaml").symlink_to("../shared/konvsync.yaml")
    applied = invoke(["--endpoint", sandbox.url, "apply", str(portal), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    HandEdits(sandbox).create_group(externalId="zeta", name="Zeta")
    result = invoke(["--endpoint", sandbox.url, "drift", str(portal), "--write"])
    assert result.exit_code == 2, result.output
    assert (shared / "konvsync.yaml").read_text() == OWN
    assert (
        "groups/zeta: every file of the config path is reached through a link that leads out "
        "of its folder" in result.stdout
    ), result.stdout
