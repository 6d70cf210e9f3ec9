"""``drift --write`` edge cases through the CLI against a sandbox changed by
hand: substitutions, sensitive fields, locations, flow-style lists, lists
that empty, unmanaged objects, quoting, anchors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from konvsync import kinds
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke
from tests.drift.portal import HandEdits
from tests.drift.test_drift import applied, changed_lines, drift, plan
from tests.hostile.server import Call, Case, Json, running_hostile_server


def one_file(sandbox: RunningSandbox, tmp_path: Path, text: str) -> Path:
    config = applied(sandbox, tmp_path, {"konvsync.yaml": text})
    return config / "konvsync.yaml"


def accepted(sandbox: RunningSandbox, path: Path) -> str:
    """``drift --write`` of ``path`` (drift found: exit 2), then the text it
    wrote, which must plan clean."""
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    again = plan(sandbox, path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output
    return path.read_text()


def test_substituted_field_is_reported_and_left_as_is(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JANE_TITLE", "VP Sales")
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
variables: [JANE_TITLE]
users:
  - email: jane@acme.example
    firstName: Jane
    lastName: Doe
    title: ${env:JANE_TITLE}   # set by the pipeline
""",
    )
    HandEdits(sandbox).update_user("jane@acme.example", title="CEO", lastName="Smith")
    before = path.read_text()
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert '~ title    = "VP Sales" -> "CEO"' in result.stdout
    assert "users/jane@acme.example title: written as a ${...} substitution" in result.stdout
    assert changed_lines(before, path.read_text()) == [
        "-    lastName: Doe",
        "+    lastName: Smith",
    ]
    again = drift(sandbox, path, "--format", "json")
    assert again.exit_code == 2  # the substituted field still differs, as it should
    fields = json.loads(again.stdout)["drift"][0]["fields"]
    assert [f["path"] for f in fields] == ["title"]


def test_sensitive_field_is_never_shown_or_written(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No kind has a sensitive field yet (invite codes come later): mark one.
    users = kinds.kind("users")
    fields = tuple(dataclasses.replace(f, sensitive=f.name == "title") for f in users.fields)
    monkeypatch.setitem(kinds.KINDS_BY_NAME, "users", dataclasses.replace(users, fields=fields))
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
policy: {prune: [users]}
users:
  - {email: jane@acme.example, firstName: Jane, lastName: Doe, title: old-secret}
""",
    )
    portal = HandEdits(sandbox)
    portal.update_user("jane@acme.example", title="new-secret")
    max_user = {"email": "Max@Acme.example", "firstName": "Max", "lastName": "Poe"}
    portal.create_user(**max_user, title="max-secret")
    for fmt in ("text", "json", "markdown"):
        result = drift(sandbox, path, "--format", fmt, "--write")
        assert result.exit_code == 2, result.output
        assert "secret" not in result.output
        assert "(sensitive)" in result.output
    text = path.read_text()
    assert "new-secret" not in text and "max-secret" not in text
    assert "title: old-secret" in text
    assert "Max@Acme.example" in text  # the created user, as the portal spells it


LOCATIONS = """\
konvsync: 1
accounts:
  - externalId: acme
    name: ACME
    locations:
      - name: HQ
        phone: "+1 555 0100"
        address:
          city: Springfield
          country: US
      - {name: Lab, phone: "+1 555 0101"}
      - name: Depot    # closing in May
  - externalId: globex
    name: Globex
    locations: [{name: Main}]
"""


def test_locations_live_inside_their_account(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = one_file(sandbox, tmp_path, LOCATIONS)
    portal = HandEdits(sandbox)
    portal.update_location("acme", "HQ", address={"city": "Shelbyville", "country": "US"})
    portal.update_location("acme", "Lab", phone="+1 555 0199")
    portal.delete_location("acme", "Depot")
    portal.create_location("acme", name="Annex", phone="+1 555 0102")
    portal.delete_location("globex", "Main")
    before = path.read_text()
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert sorted(changed_lines(before, path.read_text())) == sorted(
        [
            "-          city: Springfield",
            "+          city: Shelbyville",
            '-      - {name: Lab, phone: "+1 555 0101"}',
            '+      - {name: Lab, phone: "+1 555 0199"}',
            "-      - name: Depot    # closing in May",
            "+      - {name: Annex, phone: +1 555 0102}",
            "-    locations: [{name: Main}]",
            "+    locations: []",
        ]
    )
    again = plan(sandbox, path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_flow_lists_and_lists_that_empty(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
policy: {prune: [groups, users]}
groups: [{externalId: a, name: A}, {externalId: b, name: B, permissions: [MANAGE_NEWS]}]
users:
  - {email: x@acme.example, firstName: X, lastName: Ex}
  - {email: y@acme.example, firstName: Y, lastName: Why}
""",
    )
    portal = HandEdits(sandbox)
    portal.delete_group("b")
    portal.update_group("a", name="yes")  # must be quoted, or YAML reads a boolean
    portal.create_group(externalId="c", name="C: the third")
    portal.delete_user("x@acme.example")
    portal.delete_user("y@acme.example")
    assert accepted(sandbox, path) == (
        "konvsync: 1\n"
        "policy: {prune: [groups, users]}\n"
        "groups: [{externalId: a, name: 'yes'}, {externalId: c, name: 'C: the third'}]\n"
        "users: []\n"
    )


def test_unmanaged_objects_only_with_include_unmanaged(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
groups:
  - externalId: sales
    name: Sales
users:
  - email: jane@acme.example   # the boss
    firstName: Jane
    lastName: Doe
    groups: [sales]
""",
    )
    portal = HandEdits(sandbox)
    sales = portal.group_id("sales")
    portal.create_user(email="Max@Acme.example", firstName="Max", lastName="Poe", groupIds=[sales])
    quiet = drift(sandbox, path)
    assert quiet.exit_code == 0 and "No drift." in quiet.stdout, quiet.output
    before = path.read_text()
    assert drift(sandbox, path, "--write").exit_code == 0
    assert path.read_text() == before
    result = drift(sandbox, path, "--include-unmanaged", "--write")
    assert result.exit_code == 2, result.output
    assert "has been created in the portal (not managed" in result.stdout
    assert changed_lines(before, path.read_text()) == [
        "+  - email: Max@Acme.example",
        "+    firstName: Max",
        "+    lastName: Poe",
        "+    groups:",
        "+    - sales",
    ]
    assert drift(sandbox, path, "--include-unmanaged").exit_code == 0


def test_target_and_anchor(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
groups:
  - externalId: sales
    name: &team Team
  - externalId: support
    name: *team
users:
  - {email: jane@acme.example, firstName: Jane, lastName: Doe}
""",
    )
    portal = HandEdits(sandbox)
    portal.update_group("sales", name="Sales")
    portal.update_user("jane@acme.example", firstName="Janet")
    targeted = drift(sandbox, path, "--target", "groups", "--format", "json")
    assert targeted.exit_code == 2
    assert [d["kind"] for d in json.loads(targeted.stdout)["drift"]] == ["groups"]
    before = path.read_text()
    result = drift(sandbox, path, "--write", "--target", "groups")
    assert "groups/sales name: shared through an anchor, left as written" in result.stdout
    assert path.read_text() == before


def test_ignore_changes_and_protect_are_not_drift(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
policy:
  prune: [groups]
  protect: {groups: [admins]}
  ignore_changes: {users: [title]}
groups: [{externalId: sales, name: Sales}]
users:
  - {email: jane@acme.example, firstName: Jane, lastName: Doe, title: VP}
""",
    )
    portal = HandEdits(sandbox)
    portal.create_group(externalId="admins", name="Admins")
    portal.update_user("jane@acme.example", title="CEO")
    result = drift(sandbox, path, "--include-unmanaged")
    assert result.exit_code == 0, result.output
    assert "No drift." in result.stdout


def test_accounts_deleted_and_created_with_their_locations(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\r\n"
        "policy: {prune: [accounts]}\r\n"
        "accounts:\r\n"
        "  - externalId: acme\r\n"
        "    name: ACME\r\n"
        "    locations:\r\n"
        "      - {name: HQ}\r\n"
        "  - externalId: globex   # merged into acme\r\n"
        "    name: Globex\r\n"
        "    locations:\r\n"
        "      - {name: Main}\r\n",
    )
    portal = HandEdits(sandbox)
    portal.delete_account("globex")
    portal.run(
        'mutation { createAccount(input: {externalId: "initech", name: "Initech", '
        'website: "https://initech.example"}) { id } }'
    )
    portal.create_location("initech", name="Plant", address={"city": "Austin"})
    data = json.loads(drift(sandbox, path, "--format", "json").stdout)
    assert {(d["category"], d["key"]) for d in data["drift"]} == {
        ("deleted", "globex"),
        ("created", "initech"),
    }
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert path.read_bytes().decode() == (
        "konvsync: 1\r\n"
        "policy: {prune: [accounts]}\r\n"
        "accounts:\r\n"
        "  - externalId: acme\r\n"
        "    name: ACME\r\n"
        "    locations:\r\n"
        "      - {name: HQ}\r\n"
        "  - externalId: initech\r\n"
        "    name: Initech\r\n"
        "    website: https://initech.example\r\n"
        "    locations:\r\n"
        "    - name: Plant\r\n"
        "      address:\r\n"
        "        city: Austin\r\n"
    )
    again = plan(sandbox, path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_reference_to_an_object_without_a_key_is_not_written(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
accounts: [{externalId: acme, name: ACME}]
users:
  - {email: jane@acme.example, firstName: Jane, lastName: Doe, account: acme}
""",
    )
    portal = HandEdits(sandbox)
    keyless = portal.run('mutation { createAccount(input: {name: "No Key"}) { id } }')
    portal.update_user("jane@acme.example", accountId=keyless["createAccount"]["id"])
    before = path.read_text()
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "users/jane@acme.example account: the portal's value refers to accounts" in (
        result.stdout
    )
    assert path.read_text() == before


def test_adoption_keeps_the_key_and_accepts_the_rest(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "konvsync.yaml"
    path.write_text(
        "konvsync: 1\ngroups:\n  - externalId: legacy\n    name: Legacy\n"
        "    permissions: [MANAGE_NEWS]\n"
    )
    HandEdits(sandbox).create_group(name="Legacy", permissions=["VIEW_ACCOUNT_USERS"])
    before = path.read_text()
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "groups/legacy externalId: adopts the existing group" in result.stdout
    assert changed_lines(before, path.read_text()) == [
        "-    permissions: [MANAGE_NEWS]",
        "+    permissions: [VIEW_ACCOUNT_USERS]",
    ]
    left = json.loads(drift(sandbox, path, "--format", "json").stdout)["drift"]
    assert [f["path"] for f in left[0]["fields"]] == ["externalId"]


def test_a_rename_not_yet_applied_keeps_the_new_key_and_accepts_the_rest(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A renamedFrom not applied yet: drift shows the portal's old title,
    and ``drift --write`` stopped (exit 1, "would add inviteLinks/Dealers,
    which it did not mean to; nothing was written"), the rest it could
    accept included. The key is the configuration's rename, which apply
    makes: it is left as written, as an adoption's is."""
    portal = HandEdits(sandbox)
    portal.run(
        'mutation { createInviteLink(input: {title: "Dealers", access: OPEN, '
        'redirectPath: "/news"}) { id } }'
    )
    portal.create_group(externalId="old", name="Old")
    path = tmp_path / "konvsync.yaml"
    path.write_text(
        "konvsync: 1\ngroups:\n  - {externalId: new, renamedFrom: old, name: Old}\n"
        "inviteLinks:\n  - title: Dealer sign-up\n    renamedFrom: Dealers\n"
        "    access: OPEN\n    redirectPath: /lms\n"
    )
    before = path.read_text()
    # The report says whose change the key is (it read as a hand edit of it).
    shown = drift(sandbox, path)
    assert shown.exit_code == 2, shown.output
    assert (
        "# groups/new has changed in the portal (the configuration renames it from 'old' "
        "(renamedFrom), not applied yet, changed "
    ) in shown.stdout, shown.stdout
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "inviteLinks/Dealer sign-up title: renamed from 'Dealers' (renamedFrom)" in (
        result.stdout
    ), result.stdout
    assert "groups/new externalId: renamed from 'old' (renamedFrom)" in result.stdout
    assert changed_lines(before, path.read_text()) == [
        "-    redirectPath: /lms",
        "+    redirectPath: /news",
    ]
    applied = invoke(["--endpoint", sandbox.url, "apply", str(path), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert drift(sandbox, path).exit_code == 0


class BlankFirstName(Case):
    """Read answers give one user a blank ``firstName`` (the contract's
    ``String!`` allows "   "), which konvsync reads as no value."""

    name = "blank-first-name"

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "ReadUsers":
            for node in answer["data"]["users"]["nodes"]:
                if node["email"] == "ann@acme.example":
                    node["firstName"] = "   "
        return answer


def test_a_portal_value_the_configuration_would_reject_is_left_as_written(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A required field the portal holds blank (null for konvsync) would have
    been written as ``firstName: null``: drift --write refused everything
    ("would leave the configuration invalid", exit 1, no report shown). That
    field is left as written and reported; the rest is accepted."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
users:
  - {email: ann@acme.example, firstName: Ann, lastName: One}
  - {email: bob@acme.example, firstName: Bob, lastName: Two, title: Rep}
""",
    )
    HandEdits(sandbox).update_user("bob@acme.example", title="Lead")
    before = path.read_text()
    with running_hostile_server(sandbox.url, BlankFirstName()) as portal:
        result = invoke(["--endpoint", portal.endpoint(), "drift", str(path), "--write"])
    assert result.exit_code == 2, result.output
    assert (
        "users/ann@acme.example firstName: the configuration would reject the portal's value"
        in result.stdout
    ), result.output
    assert changed_lines(before, path.read_text()) == [
        "-  - {email: bob@acme.example, firstName: Bob, lastName: Two, title: Rep}",
        "+  - {email: bob@acme.example, firstName: Bob, lastName: Two, title: Lead}",
    ]


def test_an_item_removed_from_a_flow_list_written_one_per_line_takes_its_line(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A flow list written one item a line, each with its comment: removing
    the last item joined the line before to its line, so the removed item's
    comment ended up on the one kept (``{... fx1 ...},  # two``)."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
groups: [
  {externalId: fx0, name: X0},  # zero
  {externalId: fx1, name: X1},  # one
  {externalId: fx2, name: X2},  # two
]
""",
    )
    portal = HandEdits(sandbox)
    portal.delete_group("fx2")
    portal.delete_group("fx0")
    written = accepted(sandbox, path)
    assert written == "konvsync: 1\ngroups: [\n  {externalId: fx1, name: X1},  # one\n]\n"


def test_a_literal_written_with_an_escaped_dollar_is_accepted_escaped(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``$${`` writes a literal ``${``: such a value is no substitution, yet
    drift --write left it as written ("written as a ${...} substitution")."""
    path = one_file(
        sandbox,
        tmp_path,
        'konvsync: 1\ngroups:\n  - externalId: lit\n    name: "Price $${USD}"  # literal\n',
    )
    HandEdits(sandbox).update_group("lit", name="Price ${EUR}")
    result = drift(sandbox, path, "--write")
    assert result.exit_code == 2, result.output
    assert "Left as written" not in result.stdout, result.stdout
    assert path.read_text() == (
        'konvsync: 1\ngroups:\n  - externalId: lit\n    name: "Price $${EUR}"  # literal\n'
    )
    again = plan(sandbox, path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_a_removed_item_takes_the_comment_lines_just_above_it(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The comment written just above an item is that item's: removing the
    item left it behind, standing above the next one as if it were its own.
    A comment under the list's key, above the first item, is the list's."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
users:
  # the dealers' staff
  - {email: a@acme.example, firstName: A, lastName: Ay}
  # Bob left in May
  # (his accounts went to Carl)
  - email: bob@acme.example
    firstName: Bob
    lastName: Bee

  # Carl: the new contact
  - {email: carl@acme.example, firstName: Carl, lastName: Cee}
""",
    )
    portal = HandEdits(sandbox)
    portal.delete_user("bob@acme.example")
    portal.delete_user("a@acme.example")
    assert accepted(sandbox, path) == (
        "konvsync: 1\n"
        "users:\n"
        "  # the dealers' staff\n"
        "\n"
        "  # Carl: the new contact\n"
        "  - {email: carl@acme.example, firstName: Carl, lastName: Cee}\n"
    )


def test_the_last_items_of_a_flow_list_removed_together(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Removing the last two items of a flow list made overlapping edits (the
    comma before each), and --write refused: "overlapping edits; nothing was
    written"."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\n"
        "groups: [{externalId: qa, name: A}, {externalId: qb, name: B}, "
        "{externalId: qc, name: C}]\n"
        "users:\n"
        "  - {email: q@acme.example, firstName: Q, lastName: Cue, groups: [qa, qb, qc]}\n",
    )
    portal = HandEdits(sandbox)
    portal.delete_group("qb")
    portal.delete_group("qc")
    assert accepted(sandbox, path) == (
        "konvsync: 1\n"
        "groups: [{externalId: qa, name: A}]\n"
        "users:\n"
        "  - {email: q@acme.example, firstName: Q, lastName: Cue, groups: [qa]}\n"
    )
