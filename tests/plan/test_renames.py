"""Renames (``renamedFrom``, ``previousEmails``) through the CLI against a
real sandbox: one update of the same object, never a delete and a create."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import CliRun, invoke

ConfigWriter = Callable[..., Path]

BEFORE = """\
    konvsync: 1
    policy: {prune: [groups, accountFields, accounts, users]}
    groups: [{externalId: sales, name: Sales}]
    accountFields: [{key: acct_no, label: Account Number, type: TEXT}]
    accounts:
      - externalId: acme
        name: ACME
        userGroups: [sales]
        customFields: {acct_no: A-1}
        locations: [{name: HQ, phone: "1"}]
    users:
      - {email: Jane@Old.example, firstName: Jane, lastName: Doe, account: acme, groups: [sales]}
    """

AFTER = """\
    konvsync: 1
    policy: {prune: [groups, accountFields, accounts, users]}
    groups: [{externalId: sales-emea, renamedFrom: sales, name: Sales}]
    accountFields: [{key: account_number, renamedFrom: acct_no, label: Account Number, type: TEXT}]
    accounts:
      - externalId: acme-corp
        renamedFrom: acme
        name: ACME
        userGroups: [sales-emea]
        customFields: {account_number: A-1}
        locations: [{name: HQ, phone: "1"}]
    users:
      - email: jane@new.example
        previousEmails: [jane@old.example]
        firstName: Jane
        lastName: Doe
        account: acme-corp
        groups: [sales-emea]
    """


def run(sandbox: RunningSandbox, *args: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, *args])


def ids(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    out = {}
    for table in ("groups", "accountFields", "accounts", "users"):
        out[table] = {row["id"]: row for row in sandbox.store.page(table, 100, None)["nodes"]}
    return out


def test_renames_apply_in_place(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    config = write_config(BEFORE)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    before = ids(sandbox)
    assert sandbox.store.welcome_emails() == ["Jane@Old.example"]
    write_config(AFTER)

    text = run(sandbox, "plan", str(config))
    assert text.exit_code == 0, text.output
    assert '~ user "jane@new.example" (was "jane@old.example") {' in text.stdout
    assert '~ group "sales-emea" (was "sales") {' in text.stdout
    assert '~ account "acme-corp" (was "acme") {' in text.stdout
    assert '~ account_field "account_number" (was "acct_no") {' in text.stdout
    assert "Plan: 0 to add, 4 to change, 0 to destroy." in text.stdout
    assert "welcome" not in text.stdout
    # References to the renamed objects (the user's groups, the account's
    # location, the custom field's name) are not changes of their own.
    assert "locations/" not in text.stdout

    data = json.loads(run(sandbox, "plan", str(config), "--format", "json").stdout)
    renamed = {c["key"]: c.get("renamed_from") for c in data["changes"]}
    assert renamed == {
        "sales-emea": "sales",
        "account_number": "acct_no",
        "acme-corp": "acme",
        "jane@new.example": "jane@old.example",
    }
    import jsonschema

    from konvsync.support.resources import json_schema

    jsonschema.validate(data, json_schema("plan.schema.json"))
    markdown = run(sandbox, "plan", str(config), "--format", "markdown").stdout
    assert '! users/jane@new.example (was "jane@old.example")' in markdown

    applied = run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 0 added, 4 changed, 0 destroyed." in applied.stdout
    after = ids(sandbox)
    for table in before:
        assert list(after[table]) == list(before[table]), table  # same IDs, nothing new
    (user,) = after["users"].values()
    assert user["email"] == "jane@new.example"
    (account,) = after["accounts"].values()
    assert account["externalId"] == "acme-corp"
    assert account["customFields"] == [{"key": "account_number", "value": "A-1"}]
    assert sandbox.store.welcome_emails() == ["Jane@Old.example"]  # no second e-mail

    again = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout


def test_saved_plan_with_a_rename_applies(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(BEFORE)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    write_config(AFTER)
    planfile = tmp_path / "renames.plan"
    assert run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
    applied = run(sandbox, "apply", str(planfile))
    assert applied.exit_code == 0, applied.output
    assert "4 changed, 0 destroyed" in applied.stdout
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0


def test_targeting_a_user_brings_the_group_rename_it_needs(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(BEFORE)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    write_config(AFTER)
    result = run(
        sandbox, "apply", str(config), "--auto-approve", "--target", "users/jane@new.example"
    )
    assert result.exit_code == 0, result.output
    # The user, its group and account, and the account's custom field.
    assert "Plan: 0 to add, 4 to change, 0 to destroy." in result.stdout


def test_old_and_new_key_both_in_the_portal_is_an_error(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    old = sandbox.store.create("groups", {"externalId": "sales", "name": "Sales"})
    new = sandbox.store.create("groups", {"externalId": "sales-emea", "name": "Sales EMEA"})
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales-emea, renamedFrom: sales, name: Sales}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1
    assert f"{config}:3:" in result.stderr
    assert "'sales'" in result.stderr and "'sales-emea'" in result.stderr
    assert old["id"] in result.stderr and new["id"] in result.stderr


def test_a_reference_to_the_key_being_renamed_away_says_to_use_the_new_key(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """The README's rename of a group, with the user still naming the old
    key: the portal has 'sales' (so "neither the configuration nor the
    portal has" it was untrue), and the plan renames it, so the reference
    can never resolve: the config problem says which key to write instead,
    in plan and in validate (with --allow-external-refs too)."""
    sandbox.store.create("groups", {"externalId": "sales", "name": "Sales"})
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales-emea, renamedFrom: sales, name: Sales EMEA}
        users:
          - {email: a@x.example, firstName: A, lastName: B, groups: [sales]}
        """)
    expected = (
        f"{config}:5:62: user 'a@x.example': groups refers to group 'sales', which the "
        f"configuration renames to 'sales-emea' (renamedFrom at {config}:3:5): refer to "
        "it by its new key"
    )
    for args in (
        ["--endpoint", sandbox.url, "plan", str(config)],
        ["validate", str(config)],
        ["validate", "--allow-external-refs", str(config)],
    ):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert expected in result.stderr.splitlines(), result.stderr
    assert [row["externalId"] for row in sandbox.store.page("groups", 100, None)["nodes"]] == [
        "sales"
    ]


def test_a_reference_to_an_old_key_outside_the_scope_names_that_object(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A configuration renames only objects in its scope. Its group was
    renamed (the renamedFrom stays, doing nothing, as the README allows) and
    the scope narrowed to the new keys; another team now owns a group of the
    old key, which this configuration's user is in. The reference names that
    other group: validate and plan refused it as a key "the configuration
    renames" away, telling to refer to 'emea-sales' instead (another group).
    validate cannot see the portal; plan says what is wrong: the renamedFrom
    names a key the portal has outside the scope."""
    store = sandbox.store
    store.create("groups", {"externalId": "emea-sales", "name": "Sales EMEA"})
    store.create("groups", {"externalId": "sales-east", "name": "Team B's"})
    config = write_config("""\
        konvsync: 1
        policy:
          scope: {groups: ["emea-*"], users: ["*@x.example"]}
        groups:
          - {externalId: emea-sales, renamedFrom: sales-east, name: Sales EMEA}
        users:
          - {email: a@x.example, firstName: A, lastName: B, groups: [sales-east]}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    result = invoke(["--endpoint", sandbox.url, "plan", str(config)])
    assert result.exit_code == 1, result.output
    assert "refer to it by its new key" not in result.stderr, result.stderr
    assert "(renamedFrom 'sales-east'): the portal has both, 'sales-east' outside" in (
        result.stderr
    )
    config.write_text(config.read_text().replace(", renamedFrom: sales-east", ""))
    result = invoke(["--endpoint", sandbox.url, "apply", "--auto-approve", str(config)])
    assert result.exit_code == 0, result.output
    user = store.get("users", key="a@x.example")
    assert user is not None
    east = store.get("groups", key="sales-east")
    assert east is not None and list(user["groups"]) == [east["_pk"]]


def test_rename_field_that_stays_does_nothing(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: sales-emea, renamedFrom: sales, name: Sales}]
        users: [{email: a@x.example, previousEmails: [b@x.example], firstName: A, lastName: B}]
        """)
    first = run(sandbox, "apply", str(config), "--auto-approve")
    assert first.exit_code == 0, first.output
    assert "2 added" in first.stdout  # nothing to rename: created
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0


def test_a_blank_previous_key_is_invalid_and_a_lookalike_one_names_its_object(
    write_config: ConfigWriter,
) -> None:
    """A blank ``renamedFrom`` (or ``previousEmails`` item) was taken for no
    rename at all, without a word; a look-alike one was warned of under its
    own text, as if it were the object's key (``group '  '``)."""
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales, name: Sales, renamedFrom: "  "}
          - {externalId: apac, name: APAC, renamedFrom: "s\u0430les"}
        users:
          - {email: a@b.example, firstName: A, lastName: B, previousEmails: ["", x@y.example]}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    assert f"{config}:3:" in result.stderr
    assert "groups.[0].renamedFrom: '  ' is blank" in result.stderr
    assert "users.[0].previousEmails.[0]: '' is blank" in result.stderr
    assert (
        "warning: group 'apac': its renamedFrom 's\u0430les' holds U+0430 CYRILLIC SMALL LETTER A"
    ) in result.stderr


def test_previous_key_defined_in_the_config_is_invalid(write_config: ConfigWriter) -> None:
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales, name: Sales}
          - {externalId: sales-emea, renamedFrom: sales, name: Sales EMEA}
          - {externalId: sales-apac, renamedFrom: sales-old, name: Sales APAC}
          - {externalId: sales-us, renamedFrom: sales-old, name: Sales US}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    assert f"{config}:4:" in result.stderr and "also defines" in result.stderr
    assert f"{config}:6:" in result.stderr and "as group 'sales-apac' does" in result.stderr


def test_a_rename_applies_even_when_the_key_field_is_ignored(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    user = sandbox.store.create(
        "users", {"email": "old@x.example", "firstName": "A", "lastName": "B"}
    )
    config = write_config("""\
        konvsync: 1
        policy: {ignore_changes: {users: [email, firstName]}}
        users:
          - {email: new@x.example, previousEmails: [old@x.example], firstName: Z, lastName: B}
        """)
    result = run(sandbox, "apply", str(config), "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "1 changed" in result.stdout and "firstName" not in result.stdout
    (row,) = sandbox.store.page("users", 100, None)["nodes"]
    assert (row["id"], row["email"], row["firstName"]) == (user["id"], "new@x.example", "A")


def test_targeting_an_account_by_the_key_it_is_renamed_from(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """``--target accounts/<old key>`` while the config renames that account
    targets it (and its locations), under either key."""
    config = write_config(BEFORE)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    write_config(AFTER.replace('phone: "1"', 'phone: "2"'))
    for target in ("accounts/acme", "accounts/acme-corp"):
        plan = run(sandbox, "plan", str(config), "--target", target)
        assert plan.exit_code == 0, (target, plan.output)
        assert '~ account "acme-corp" (was "acme") {' in plan.stdout
        assert "# locations/acme-corp/HQ will be updated in-place" in plan.stdout
        assert "users/" not in plan.stdout  # not targeted; the renames it needs are
        assert "Plan: 0 to add, 4 to change, 0 to destroy." in plan.stdout
    location = run(sandbox, "plan", str(config), "--target", "locations/acme/HQ")
    assert location.exit_code == 0, location.output
    assert "# locations/acme-corp/HQ will be updated in-place" in location.stdout


def test_an_invite_link_renamed_keeps_its_url(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """An invite link is keyed by its title, and its URL is the portal's:
    a new title was a delete and a create, a new URL, and every copy of the
    old one handed out stopped working. ``renamedFrom`` updates the title of
    that same link (an OPEN one too: it is not a second OPEN link)."""
    config = write_config("""\
        konvsync: 1
        policy: {prune: [inviteLinks]}
        inviteLinks:
          - {title: Dealers, access: OPEN}
          - {title: Partners, access: CODE, code: Sesame-4711}
        """)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    before = {row["id"]: row["url"] for row in sandbox.store.page("inviteLinks", 10, None)["nodes"]}
    write_config("""\
        konvsync: 1
        policy: {prune: [inviteLinks]}
        inviteLinks:
          - {title: Dealer sign-up, renamedFrom: Dealers, access: OPEN}
          - {title: Partner sign-up, renamedFrom: Partners, access: CODE, code: Sesame-4711}
        """)
    planned = run(sandbox, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert '~ invite_link "Dealer sign-up" (was "Dealers") {' in planned.stdout
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in planned.stdout
    applied = run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    after = sandbox.store.page("inviteLinks", 10, None)["nodes"]
    assert {row["id"]: row["url"] for row in after} == before
    assert sorted(row["title"] for row in after) == ["Dealer sign-up", "Partner sign-up"]
    again = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_an_invite_link_renamed_from_a_title_two_links_share_stops(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Titles are not unique in the portal: which of two links a rename
    means is anyone's guess, so the plan stops and changes neither."""
    for _ in range(2):
        sandbox.store.create("inviteLinks", {"title": "Dealers", "access": "CODE", "code": "C-1"})
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: Dealer sign-up, renamedFrom: Dealers, access: CODE, code: C-1}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    assert (
        "the portal has two inviteLinks with the title 'Dealers' (IDs inv_1, inv_2), and "
        "invite link 'Dealer sign-up' is renamed from it (renamedFrom)"
    ) in result.stderr
    assert [row["title"] for row in sandbox.store.page("inviteLinks", 10, None)["nodes"]] == [
        "Dealers",
        "Dealers",
    ]


def test_an_invite_link_renamed_from_a_title_only_outside_the_scope_stops(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A configuration renames only links in its scope. Renaming 'legacy'
    (outside ``policy.scope``) to 'dealer-join' planned a create, a new
    URL, without a word, where a group or an account renamed so stops the
    plan. Titles are not unique, so once the scope holds a link of the new
    title (the rename is done; renamedFrom may stay) one of the old title
    outside is another's, and the plan goes on."""
    store = sandbox.store
    store.create("inviteLinks", {"title": "legacy", "access": "CODE", "code": "C-1"})
    config = write_config("""\
        konvsync: 1
        policy: {prune: [inviteLinks], scope: {inviteLinks: ["dealer-*"]}}
        inviteLinks:
          - {title: dealer-join, renamedFrom: legacy, access: OPEN}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    assert (
        "invite link 'dealer-join' (renamedFrom 'legacy'): the portal has it outside "
        "policy.scope.inviteLinks ['dealer-*'] (ID inv_1; its key 'legacy' matches none of "
        "['dealer-*'])"
    ) in result.stderr, result.stderr
    store.create("inviteLinks", {"title": "dealer-join", "access": "OPEN"})
    result = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert result.exit_code == 0 and "No changes." in result.stdout, result.output
