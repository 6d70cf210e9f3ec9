"""``policy.scope`` offline: ``validate`` refuses a configuration that lists
what it does not own (at the object's file:line:col), an empty scope, a
scope on a child kind or a reference kind; warns when a pruned kind has no
scope while others do; ``konvsync schema`` describes every form."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke
from tests.published_schemas import validated

ConfigWriter = Callable[..., Path]


def test_an_object_outside_its_own_scope_fails_validate(write_config: ConfigWriter) -> None:
    config = write_config("""\
        konvsync: 1
        policy:
          scope:
            accounts: ["dealer-*"]
            users: {account: ["dealer-*"], exclude: ["boss@*"]}
            groups: {externalId: ["dealer-*"], exclude: [dealer-admins]}
        groups:
          - {externalId: dealer-sales, name: Sales}
          - {externalId: dealer-admins, name: Admins}
        accounts:
          - {externalId: dealer-1, name: One, userGroups: [staff]}
          - {externalId: dist-9, name: Nine}
        users:
          - {email: ann@x.example, firstName: A, lastName: L, account: dealer-1, groups: [staff]}
          - {email: bob@x.example, firstName: B, lastName: R, account: dist-9}
          - {email: cy@x.example, firstName: C, lastName: Y}
          - {email: BOSS@x.example, firstName: B, lastName: O, account: dealer-1}
        """)
    result = invoke(["validate", str(config), "--allow-external-refs"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == [
        f"{config}:9:18: groups 'dealer-admins' is outside policy.scope.groups "
        "{externalId: ['dealer-*'], exclude: ['dealer-admins']} (its externalId matches "
        "exclude 'dealer-admins'): a configuration lists only what it owns",
        f"{config}:12:18: accounts 'dist-9' is outside policy.scope.accounts ['dealer-*']: "
        "a configuration lists only what it owns",
        f"{config}:15:64: users 'bob@x.example' is outside policy.scope.users "
        "{account: ['dealer-*'], exclude: ['boss@*']} (its account 'dist-9' matches none of "
        "['dealer-*']): a configuration lists only what it owns",
        f"{config}:16:5: users 'cy@x.example' is outside policy.scope.users "
        "{account: ['dealer-*'], exclude: ['boss@*']} (it has no account): a configuration "
        "lists only what it owns",
        f"{config}:17:13: users 'boss@x.example' is outside policy.scope.users "
        "{account: ['dealer-*'], exclude: ['boss@*']} (its email matches exclude 'boss@*'): "
        "a configuration lists only what it owns",
        "Error: configuration invalid: 5 problems",
    ]
    # References to objects outside the scope (the shared staff group) are allowed.
    assert "staff" not in result.stderr


def test_references_outside_the_scope_need_no_allow_external_refs(
    write_config: ConfigWriter,
) -> None:
    """An object outside the scope can only be in the portal (the
    configuration may not list it): a reference to one validates offline
    without --allow-external-refs, as an export --scope is written. A key
    the scope owns must still be defined, and a scope that needs the
    referring object's fields (users by account) cannot tell."""
    config = write_config("""\
        konvsync: 1
        policy:
          scope:
            groups: ["dealer-*"]
            accountFields: {exclude: [shared-*]}
            users: {account: ["dealer-*"]}
        accounts:
          - {externalId: dealer-1, name: One, userGroups: [staff], customFields: {shared-no: "7"}}
        users:
          - {email: a@x.example, firstName: A, lastName: B, account: dealer-1, groups: [staff]}
        inviteLinks:
          - {title: Join, access: OPEN, account: hq, groups: [staff, dealer-typo]}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{config}:12:42: invite link 'Join': account refers to account 'hq', which the "
        "configuration does not define (--allow-external-refs if it exists in the portal)",
        f"{config}:12:62: invite link 'Join': groups refers to group 'dealer-typo', which the "
        "configuration does not define (--allow-external-refs if it exists in the portal)",
        "Error: configuration invalid: 2 problems",
    ]


def test_globs_compare_as_the_key_does(write_config: ConfigWriter) -> None:
    config = write_config("""\
        konvsync: 1
        policy: {scope: {users: ["*@Dealer.EXAMPLE", "x?@[ab].example"], accounts: ["Dealer-*"]}}
        accounts:
          - {externalId: dealer-1, name: One}
        users:
          - {email: Ann@DEALER.example, firstName: A, lastName: L}
          - {email: xy@a.example, firstName: X, lastName: Y}
          - {email: xyz@a.example, firstName: X, lastName: Z}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    # E-mail globs are case-insensitive as e-mails are; externalId globs are not.
    assert "accounts 'dealer-1' is outside policy.scope.accounts ['Dealer-*']" in result.stderr
    assert "xyz@a.example" in result.stderr
    assert "ann@dealer.example" not in result.stderr and "xy@a.example'" not in result.stderr


def test_globs_compare_in_one_unicode_form_as_keys_do(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A glob typed with a decomposed "é" owns the key written (or stored)
    with the composed one, as the two forms of a key are one key: it was
    "accounts 'café' is outside policy.scope.accounts ['café']"."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    config = write_config(f"""\
        konvsync: 1
        policy:
          prune: [accounts]
          scope: {{accounts: ["{decomposed}-*"], users: ["{decomposed}@*"]}}
        accounts:
          - {{externalId: "{composed}-1", name: One}}
        users:
          - {{email: "{composed}@x.example", firstName: A, lastName: B}}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    sandbox.store.create("accounts", {"externalId": f"{composed}-2", "name": "Two"})
    planned = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", "json"])
    assert planned.exit_code == 0, planned.output
    changes = {(c["action"], c["key"]) for c in validated(planned.stdout, "plan")["changes"]}
    assert ("delete", f"{composed}-2") in changes  # in scope: owned, so pruned


def test_globs_compare_without_surrounding_whitespace_as_keys_do(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Keys compare without surrounding whitespace (a portal may store
    ``"hq "`` as sent); a glob must too. ``exclude: ["hq "]``, the key
    copied as the portal shows it, matched no key, so the plan pruned the
    very account it keeps out; a glob of only spaces still matches nothing."""
    for key in ("hq ", "dealer-1", "dealer-2"):
        sandbox.store.create("accounts", {"externalId": key, "name": key})
    config = write_config("""\
        konvsync: 1
        policy:
          prune: [accounts]
          scope: {accounts: {exclude: ["hq ", " dealer-2"]}}
        accounts:
          - {externalId: dealer-1, name: dealer-1}
        """)
    planned = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", "json"])
    assert planned.exit_code == 0, planned.output
    assert validated(planned.stdout, "plan")["changes"] == []
    spaces = write_config(
        'konvsync: 1\npolicy: {prune: [accounts], scope: {accounts: ["  "]}}\naccounts: []\n',
        "spaces.yaml",
    )
    planned = invoke(["--endpoint", sandbox.url, "plan", str(spaces), "--format", "json"])
    assert planned.exit_code == 0, planned.output
    assert validated(planned.stdout, "plan")["changes"] == []


def test_a_reference_is_matched_as_the_key_it_names_compares(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A reference written with surrounding spaces or decomposed ("cafe"
    and a combining accent) names the key it compares as, as the account's
    own key does: the users are inside ``account: ["dealer-1", "café"]``.
    Before, validate refused them ("its account 'café' matches none of
    ['dealer-1', 'café']"), while the portal's side matched them."""
    config = write_config("""\
        konvsync: 1
        policy:
          scope:
            accounts: ["dealer-1", "caf\\u00e9"]
            users: {account: ["dealer-1", "caf\\u00e9"]}
        accounts:
          - {externalId: "dealer-1 ", name: D}
          - {externalId: "cafe\\u0301", name: C}
        users:
          - {email: a@x.example, firstName: A, lastName: B, account: "dealer-1 "}
          - {email: b@x.example, firstName: A, lastName: B, account: "cafe\\u0301"}
        """)
    checked = invoke(["validate", str(config)])
    assert checked.exit_code == 0, checked.output
    applied = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    planned = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", "json"])
    assert planned.exit_code == 0, planned.output
    assert validated(planned.stdout, "plan")["changes"] == []


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("{accounts: []}", "3:21: policy.scope.accounts: is empty: a scope owns what its globs"),
        ("{users: {account: []}}", "3:28: policy.scope.users.account: is empty"),
        ("{users: {}}", "3:18: policy.scope.users: is empty"),
        ("{accounts: ['']}", "policy.scope.accounts.[0]: '' should be non-empty"),
        (
            "{locations: [x]}",
            "policy.scope.locations: locations follow the scope of their account: scope "
            "accounts instead",
        ),
        ("{lmsModules: [x]}", "cannot be listed, pruned, protected, ignored or scoped"),
        ("{users: {title: [x]}}", "policy.scope.users.title: unknown key"),
        ("{users: {groups: [x]}}", "policy.scope.users.groups: unknown key"),
        # An empty entry's advice never asks for what is refused next (``[]``).
        (
            "{users: {account: }}",
            "3:28: policy.scope.users.account: is empty (nothing after 'account:'): list its "
            "globs, or remove the key\n",
        ),
        (
            "{accounts: {exclude: }}",
            "3:31: policy.scope.accounts.exclude: is empty (nothing after 'exclude:'): list its "
            "globs, or remove the key\n",
        ),
        (
            "{accounts: {exclude: []}}",
            "3:31: policy.scope.accounts.exclude: is empty: an exclude without globs keeps "
            "nothing out (give one or more globs, or remove the key)\n",
        ),
    ],
)
def test_scopes_that_are_not_allowed(write_config: ConfigWriter, scope: str, message: str) -> None:
    config = write_config(f"konvsync: 1\npolicy:\n  scope: {scope}\n")
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert "[]" not in result.stderr or "[]" in scope, result.stderr


def test_pruning_a_kind_the_scope_leaves_out_warns(write_config: ConfigWriter) -> None:
    config = write_config("""\
        konvsync: 1
        policy:
          prune: [accounts, users]
          scope: {accounts: ["dealer-*"]}
        accounts: []
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"{config}:3:10: warning: policy.prune names users but policy.scope does not: every "
        "one of the portal's users this configuration does not list is deleted, also those "
        'other configurations own (add policy.scope.users; ["*"] owns them all)\n'
    )


def test_pruning_a_kind_no_scope_may_name_gives_no_scope_advice(
    write_config: ConfigWriter,
) -> None:
    """``prune: [locations]`` is a schema problem; the warning beside it
    advised ``policy.scope.locations``, itself an error."""
    config = write_config("""\
        konvsync: 1
        policy:
          prune: [locations, lmsModules]
          scope: {accounts: ["dealer-*"]}
        accounts: []
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    assert "policy.scope.locations" not in result.stderr, result.stderr
    assert "policy.scope.lmsModules" not in result.stderr, result.stderr
    assert "'locations' is not one of groups" in result.stderr


def test_the_schema_describes_every_form() -> None:
    result = invoke(["schema"])
    scope = json.loads(result.stdout)["properties"]["policy"]["properties"]["scope"]
    users = scope["properties"]["users"]
    assert users["type"] == ["array", "object"]
    assert set(users["properties"]) == {"email", "account", "exclude"}
    assert set(scope["properties"]["inviteLinks"]["properties"]) == {
        "title",
        "account",
        "accountMatchField",
        "exclude",
    }
    assert "locations" in scope["properties"] and "lmsModules" not in scope["properties"]


def test_a_glob_using_an_unset_variable_is_not_checked_offline(
    write_config: ConfigWriter,
) -> None:
    """A glob written with ``${env:TEAM}`` is unknown while TEAM is unset:
    validate warns that the value was not checked, as for every other such
    value. It also failed (exit 1), saying the configuration's own objects
    were outside the glob as written ('${env:TEAM}-*'), although they are
    inside it once TEAM is set."""
    config = write_config("""\
        konvsync: 1
        variables: [TEAM]
        policy:
          scope:
            accounts: ["${env:TEAM}-*"]
            users: {account: ["${env:TEAM}-*"]}
        accounts:
          - {externalId: dealer-1, name: One}
        users:
          - {email: ann@x.example, firstName: A, lastName: L, account: dealer-1}
        """)
    unset = invoke(["validate", str(config)], env={"TEAM": None})
    assert unset.exit_code == 0, unset.output
    assert f"{config}:5:16: warning: environment variable TEAM is not set" in unset.stderr
    assert "outside policy.scope" not in unset.output
    planned = invoke(["--endpoint", "http://127.0.0.1:9", "plan", str(config)], env={"TEAM": None})
    assert planned.exit_code == 1  # plan needs it: said once, at its place
    assert f"{config}:5:16: environment variable TEAM is not set" in planned.stderr
    assert "outside policy.scope" not in planned.output
    assert invoke(["validate", str(config)], env={"TEAM": "dealer"}).exit_code == 0
    other = invoke(["validate", str(config)], env={"TEAM": "dist"})
    assert other.exit_code == 1
    assert f"{config}:8:18: accounts 'dealer-1' is outside policy.scope.accounts" in other.stderr
