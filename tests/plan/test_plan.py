"""``konvsync plan`` through the CLI against a sandbox with drifted data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from konvsync.app.seeding import seed_store
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import SECRET, invoke

BASE = """\
konvsync: 1
policy:
  prune: [groups]
groups:
  - {externalId: sales, name: Sales, permissions: [MANAGE_USERS, VIEW_ACCOUNT_USERS]}
  - {externalId: support, name: Support}
accountFields:
  - {key: tier, label: Tier, type: SELECT, options: [gold, silver]}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    userGroups: [sales, support]
    customFields: {tier: gold, region: east}
    locations:
      - {name: HQ, phone: "+1 555", address: {city: Springfield, country: US}}
users:
  - {email: Jane@Acme.example, firstName: Jane, lastName: Doe, title: VP, account: acme,
     groups: [sales, support]}
"""

ConfigWriter = Callable[..., Path]


def plan(sandbox: RunningSandbox, path: Path, *extra: str) -> tuple[int, str, str]:
    result = invoke(["--endpoint", sandbox.url, "plan", str(path), *extra])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def seeded(sandbox: RunningSandbox, write_config: ConfigWriter) -> RunningSandbox:
    seed_store(sandbox.store, str(write_config(BASE, "seed.yaml")))
    return sandbox


def test_unchanged_portal_gives_no_changes(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    code, out, _ = plan(seeded, write_config(BASE), "--detailed-exitcode")
    assert code == 0
    assert out.strip() == "No changes. The portal matches the configuration."


def test_no_perpetual_diffs(seeded: RunningSandbox, write_config: ConfigWriter) -> None:
    """Email case, permission order, custom field order and server-only
    fields are not changes."""
    store = seeded.store
    group = store.get("groups", key="sales")
    assert group is not None
    store.update("groups", group["id"], {"permissions": ["VIEW_ACCOUNT_USERS", "MANAGE_USERS"]})
    account = store.get("accounts", key="acme")
    assert account is not None
    store.update(
        "accounts",
        account["id"],
        {"customFields": [{"key": "region", "value": "east"}, {"key": "tier", "value": "gold"}]},
    )
    user = store.get("users", key="jane@acme.example")
    assert user is not None
    store.update("users", user["id"], {"email": "JANE@ACME.EXAMPLE"})
    reordered = BASE.replace(
        "[MANAGE_USERS, VIEW_ACCOUNT_USERS]", "[VIEW_ACCOUNT_USERS, MANAGE_USERS]"
    ).replace("{tier: gold, region: east}", "{region: east, tier: gold}")
    code, out, _ = plan(seeded, write_config(reordered), "--detailed-exitcode")
    assert code == 0, out


def test_each_action_with_its_fields(seeded: RunningSandbox, write_config: ConfigWriter) -> None:
    store = seeded.store
    store.create("groups", {"externalId": "stale", "name": "Stale"})
    account = store.get("accounts", key="acme")
    assert account is not None
    store.create("locations", {"name": "Old depot"}, parent_id=account["id"])
    drifted = (
        BASE.replace("name: ACME\n", "name: ACME Corp\n")
        .replace("tier: gold", "tier: silver")
        .replace("title: VP,", "title: null,")
        .replace('- {name: HQ, phone: "+1 555"', '- {name: HQ, phone: "+1 556"')
        + "  - {email: new@acme.example, firstName: New, lastName: User}\n"
    )
    code, out, err = plan(seeded, write_config(drifted), "--detailed-exitcode")
    assert code == 2, err
    assert '~ name              = "ACME" -> "ACME Corp"' in out
    assert '~ customFields.tier = "gold" -> "silver"' in out
    assert '~ title = "VP" -> null' in out
    assert '~ phone = "+1 555" -> "+1 556"' in out
    assert "# users/new@acme.example will be created" in out
    assert "# groups/stale will be destroyed" in out
    assert "# locations/acme/Old depot will be destroyed" in out
    assert "Plan: 1 to add, 3 to change, 2 to destroy." in out
    assert "1 new user(s) will receive a welcome e-mail" in out


def test_omitted_fields_are_not_compared(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    sparse = (
        BASE.replace("title: VP, ", "")
        .replace("    customFields: {tier: gold, region: east}\n", "")
        .replace(
            '    locations:\n      - {name: HQ, phone: "+1 555", address: {city: Springfield, '
            "country: US}}\n",
            "",
        )
    )
    assert "locations" not in sparse and "title" not in sparse
    code, out, _ = plan(seeded, write_config(sparse), "--detailed-exitcode")
    assert code == 0, out


def test_ignore_changes(seeded: RunningSandbox, write_config: ConfigWriter) -> None:
    ignoring = BASE.replace("title: VP,", "title: CEO,").replace(
        "  prune: [groups]\n", "  prune: [groups]\n  ignore_changes: {users: [title]}\n"
    )
    code, out, _ = plan(seeded, write_config(ignoring), "--detailed-exitcode")
    assert code == 0, out


def test_adoption_instead_of_duplicate(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    sandbox.store.create("groups", {"name": "Sales", "permissions": ["MANAGE_USERS"]})
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales, name: Sales, permissions: [MANAGE_USERS]}
        """)
    code, out, _ = plan(sandbox, config, "--detailed-exitcode")
    assert code == 2
    assert "(adopts the existing group grp_1 (same name, no externalId))" in out
    assert '~ externalId = null -> "sales"' in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out


def test_what_refers_to_an_adopted_object_is_not_updated_to_refer_to_it_again(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Users and accounts in a keyless group refer to the very group the
    config adopts: the plan sets the group's key and changes nothing else
    (it planned an update of every member, writing the same group IDs, which
    could trip max_update_percent)."""
    store = sandbox.store
    group = store.create("groups", {"name": "Sales", "permissions": ["MANAGE_USERS"]})
    account = store.create(
        "accounts", {"externalId": "acme", "name": "ACME", "userGroupIds": [group["id"]]}
    )
    for i in range(12):
        store.create(
            "users",
            {
                "email": f"u{i}@acme.example",
                "firstName": "U",
                "lastName": str(i),
                "accountId": account["id"],
                "groupIds": [group["id"]],
            },
        )
    users = "".join(
        f"  - {{email: u{i}@acme.example, firstName: U, lastName: '{i}', account: acme,"
        " groups: [sales]}\n"
        for i in range(12)
    )
    config = write_config(
        "konvsync: 1\n"
        "policy: {max_update_percent: 50}\n"
        "groups:\n"
        "  - {externalId: sales, name: Sales, permissions: [MANAGE_USERS]}\n"
        "accounts:\n"
        "  - {externalId: acme, name: ACME, userGroups: [sales]}\n"
        "users:\n" + users
    )
    code, out, err = plan(sandbox, config, "--detailed-exitcode")
    assert code == 2, out + err
    assert "(adopts the existing group grp_1 (same name, no externalId))" in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out, out
    applied = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert plan(sandbox, config, "--detailed-exitcode")[0] == 0


def test_a_saved_plan_that_adopts_a_group_applies_what_refers_to_it(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A saved plan that adopts a keyless group and creates a user in it is
    not stale: the group the user refers to is the one the plan gives that
    key (it was refused as 'refers to group 'sales', which the portal no
    longer has' on every run, so a saved plan could never adopt)."""
    group = sandbox.store.create("groups", {"name": "Sales"})
    config = write_config("""\
        konvsync: 1
        policy: {send_welcome_email: false}
        groups:
          - {externalId: sales, name: Sales}
        users:
          - {email: new@acme.example, firstName: New, lastName: User, groups: [sales]}
        """)
    planfile = tmp_path / "adopt.plan"
    code, out, err = plan(sandbox, config, "--out", str(planfile))
    assert code == 0, out + err
    assert "(adopts the existing group grp_1 (same name, no externalId))" in out
    applied = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert applied.exit_code == 0, applied.output
    assert "Resources: 1 added, 1 changed, 0 destroyed." in applied.stdout
    user = sandbox.store.get("users", key="new@acme.example")
    assert user is not None and list(user["groups"]) == [group["_pk"]]
    assert plan(sandbox, config, "--detailed-exitcode")[0] == 0


def test_a_target_brings_the_adoption_of_a_group_it_refers_to(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """``--target`` on a user in a group the plan adopts (a keyless group
    given its externalId) brings the adoption along, as it brings a create
    or a rename the target needs: left out, the user's create failed with
    'cannot resolve reference groups/sales' on every run, and a saved plan
    of an invite link in that group was refused as stale."""
    group = sandbox.store.create("groups", {"name": "Sales"})
    config = write_config("""\
        konvsync: 1
        policy: {send_welcome_email: false}
        groups:
          - {externalId: sales, name: Sales}
        users:
          - {email: new@acme.example, firstName: New, lastName: User, groups: [sales]}
        inviteLinks:
          - {title: Join, access: OPEN, groups: [sales]}
        """)
    planfile = tmp_path / "link.plan"
    code, out, err = plan(sandbox, config, "--target", "inviteLinks/Join", "--out", str(planfile))
    assert code == 0, out + err
    assert "(adopts the existing group grp_1 (same name, no externalId))" in out
    applied = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert applied.exit_code == 0, applied.output
    assert "Resources: 1 added, 1 changed, 0 destroyed." in applied.stdout
    applied = invoke(
        ["--endpoint", sandbox.url, "apply", str(config), "--auto-approve", "--target", "users"]
    )
    assert applied.exit_code == 0, applied.output
    assert "Resources: 1 added, 0 changed, 0 destroyed." in applied.stdout
    user = sandbox.store.get("users", key="new@acme.example")
    assert user is not None and list(user["groups"]) == [group["_pk"]]
    assert plan(sandbox, config, "--detailed-exitcode")[0] == 0


def test_account_delete_shows_its_locations(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        policy: {prune: [accounts]}
        accounts: []
        """)
    code, out, _ = plan(seeded, config, "--detailed-exitcode")
    assert code == 2
    assert "# accounts/acme will be destroyed" in out
    assert "# locations/acme/HQ will be destroyed (deleted with account acme)" in out


def test_a_protected_location_keeps_its_pruned_account(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Deleting an account deletes its locations: one that holds a
    protected location is not pruned (nor is that location deleted)."""
    config = write_config("""\
        konvsync: 1
        policy: {prune: [accounts], protect: {locations: [acme/HQ]}}
        accounts: []
        """)
    code, out, _ = plan(seeded, config, "--detailed-exitcode")
    assert code == 0, out
    assert "No changes." in out
    drift = invoke(["--endpoint", seeded.url, "drift", str(config)])
    assert drift.exit_code == 0, drift.output


def test_protected_objects_are_never_deleted(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        policy: {prune: [groups], protect: {groups: [sales]}}
        groups:
          - {externalId: support, name: Support}
        """)
    code, out, _ = plan(seeded, config)
    assert code == 0
    assert "groups/sales" not in out
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in out or "No changes" in out


def test_mass_delete_is_refused_and_nothing_written(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    for i in range(12):
        sandbox.store.create("groups", {"externalId": f"g{i}", "name": f"G{i}"})
    config = write_config("""\
        konvsync: 1
        policy: {prune: [groups]}
        groups:
          - {externalId: g0, name: G0}
          - {externalId: g1, name: G1}
        """)
    out_file = tmp_path / "plan.json"
    code, _, err = plan(sandbox, config, "--out", str(out_file), "--detailed-exitcode")
    assert code == 3
    assert "refusing to delete 10 of 12 groups (83.3%): more than max_delete_percent 25%" in err
    assert not out_file.exists()
    allowed = plan(sandbox, config, "--allow-mass-delete", "--detailed-exitcode")
    assert allowed[0] == 2
    raised = write_config(
        config.read_text().replace("{prune: [groups]}", "{prune: [groups], max_delete_percent: 90}")
    )
    assert plan(sandbox, raised, "--detailed-exitcode")[0] == 2


def test_portal_guard(seeded: RunningSandbox, write_config: ConfigWriter) -> None:
    config = write_config(BASE.replace("konvsync: 1\n", "konvsync: 1\nportal: Other Portal\n"))
    code, _, err = plan(seeded, config)
    assert code == 3
    assert (
        "portal guard: the config is for 'Other Portal' but the endpoint serves "
        "'Konvsync Sandbox'" in err
    )
    right = write_config(BASE.replace("konvsync: 1\n", "konvsync: 1\nportal: Konvsync Sandbox\n"))
    assert plan(seeded, right)[0] == 0


def test_broken_config_exits_1(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    code, _, err = plan(
        sandbox, write_config("konvsync: 1\ngroups: [{name: x}]\n"), "--detailed-exitcode"
    )
    assert code == 1
    assert "'externalId' is a required property" in err


def test_reference_found_nowhere_names_file_and_line(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        users:
          - {email: a@x.example, firstName: A, lastName: B, account: acme}
          - {email: b@x.example, firstName: B, lastName: C, account: nowhere}
        """)
    code, _, err = plan(seeded, config)
    assert code == 1
    assert (
        f"{config}:4:62: user 'b@x.example': account refers to account 'nowhere', which "
        "neither the configuration nor the portal has" in err
    )
    assert "a@x.example" not in err  # acme exists in the portal


def test_a_plan_never_prunes_what_the_configuration_refers_to(
    seeded: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A user that stays in the account 'acme' and the group 'sales' while
    the configuration no longer lists them and prunes their kinds: deleting
    them would detach the user (the next plan could not even resolve its
    references). It is a problem at each reference, nothing is planned or
    written, and protecting or listing them plans again."""
    config = write_config("""\
        konvsync: 1
        policy:
          prune: [groups, accounts]
        users:
          - {email: Jane@Acme.example, firstName: Jane, lastName: Doe, title: VP, account: acme,
             groups: [sales, support]}
        """)
    plan_file = tmp_path / "saved.plan"
    code, out, err = plan(seeded, config, "--out", str(plan_file))
    assert code == 1, out + err
    assert err.splitlines() == [
        f"{config}:5:84: user 'jane@acme.example': account refers to account 'acme', which "
        "this plan deletes (policy.prune, and the configuration does not list it): list it, "
        "protect it (policy.protect) or remove the reference",
        f"{config}:6:15: user 'jane@acme.example': groups refers to group 'sales', which this "
        "plan deletes (policy.prune, and the configuration does not list it): list it, "
        "protect it (policy.protect) or remove the reference",
        f"{config}:6:22: user 'jane@acme.example': groups refers to group 'support', which "
        "this plan deletes (policy.prune, and the configuration does not list it): list it, "
        "protect it (policy.protect) or remove the reference",
        "Error: configuration invalid: 3 problems",
    ]
    assert not plan_file.exists()
    assert seeded.store.get("accounts", key="acme") is not None
    # a --target that leaves the deletes out plans; one that takes one in does not
    code, out, err = plan(seeded, config, "--target", "users")
    assert code == 0, out + err
    code, out, err = plan(seeded, config, "--target", "accounts/acme")
    assert code == 1 and "account refers to account 'acme', which this plan deletes" in err
    protected = config.read_text().replace(
        "prune: [groups, accounts]",
        "prune: [groups, accounts]\n  protect: {groups: [sales, support], accounts: [acme]}",
    )
    code, out, err = plan(seeded, write_config(protected), "--detailed-exitcode")
    assert (code, err) == (0, ""), out + err


def test_a_reference_in_the_wrong_case_suggests_the_portals_key(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    """The portal's 'acme' is the one suggestion for 'ACME' (difflib alone
    finds nothing: it compares case)."""
    config = write_config("""\
        konvsync: 1
        users:
          - {email: b@x.example, firstName: B, lastName: C, account: ACME}
        """)
    code, _, err = plan(seeded, config)
    assert code == 1
    assert (
        f"{config}:3:62: user 'b@x.example': account refers to account 'ACME', which "
        "neither the configuration nor the portal has; did you mean 'acme'?" in err
    ), err


def test_target_limits_the_plan_and_keeps_dependencies(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(BASE)
    code, out, _ = plan(sandbox, config, "--target", "users/JANE@acme.example")
    assert code == 0
    assert "# users/jane@acme.example will be created" in out
    assert "# accounts/acme will be created" in out
    assert "# groups/sales will be created" in out
    # The account's custom fields are created first too (it could not be created without).
    assert "# accountFields/tier will be created" in out
    assert "# accountFields/region will be created" in out
    assert "Plan: 6 to add" in out  # and nothing else (the support group is needed too)
    assert "--target limits this plan" in out
    bad = invoke(["--endpoint", sandbox.url, "plan", str(config), "--target", "widgets"])
    assert bad.exit_code == 1 and "unknown kind 'widgets'" in bad.stderr


def test_a_target_names_a_location_in_either_unicode_form(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Keys compare in form NFC; a location's --target (account/name) did
    not: typed with a decomposed "é", it named nothing."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    config = write_config(f"""\
        konvsync: 1
        accounts:
          - {{externalId: "{composed}", name: Cafe, locations: [{{name: "{composed} HQ"}}]}}
        """)
    target = f"locations/{decomposed}/{decomposed} HQ"
    code, out, err = plan(sandbox, config, "--target", target)
    assert code == 0, err
    assert f"# locations/{composed}/{composed} HQ will be created" in out


def test_json_output_validates_against_its_schema(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    drifted = BASE.replace("name: ACME\n", "name: ACME Corp\n")
    code, out, _ = plan(seeded, write_config(drifted), "--format", "json")
    assert code == 0
    data = json.loads(out)
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["format_version"] == "2"
    assert data["summary"] == {"add": 0, "change": 1, "destroy": 0}
    assert data["changes"][0]["fields"] == [
        {"path": "name", "before": "ACME", "after": "ACME Corp"}
    ]


def test_saved_plan_file_has_digests_and_no_secrets(
    seeded: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    drifted = BASE.replace("name: ACME\n", "name: ACME Corp\n")
    out_file = tmp_path / "plans" / "plan.json"
    code, _, err = plan(seeded, write_config(drifted), "--out", str(out_file))
    assert code == 0
    assert f"Saved the plan to {out_file}" in err
    text = out_file.read_text()
    document = json.loads(text)
    assert document["planfile"] == "konvsync-plan/4"
    assert document["config_digest"].startswith("sha256:")
    assert set(document["remote_digests"]) == {'["accounts", "acme"]'}
    assert SECRET not in text
    for token in seeded.state.authority._issued:
        assert token not in text


def test_one_remote_object_is_adopted_once(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    sandbox.store.create("groups", {"name": "Sales"})
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales-a, name: Sales}
          - {externalId: sales-b, name: Sales}
        """)
    code, out, _ = plan(sandbox, config)
    assert code == 0
    assert out.count("adopts the existing group grp_1") == 1
    assert "Plan: 1 to add, 1 to change, 0 to destroy." in out


def test_ambiguous_adoption_is_an_error_naming_both_ids(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    first = sandbox.store.create("groups", {"name": "Legacy Group"})
    second = sandbox.store.create("groups", {"name": "Legacy Group"})
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: sales, name: Sales}
          - {externalId: legacy, name: Legacy Group}
        """)
    code, _, err = plan(sandbox, config)
    assert code == 1
    assert "konvsync.yaml:4:5: group 'legacy' would adopt" in err
    assert f"(IDs {first['id']}, {second['id']})" in err
    assert "Traceback" not in err
    applied = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert applied.exit_code == 1
    assert f"IDs {first['id']}, {second['id']}" in applied.stderr
    assert sandbox.store.count("groups") == 2  # nothing written, not even 'sales'


def test_kinds_a_block_list_prunes_are_read(
    seeded: RunningSandbox, write_config: ConfigWriter
) -> None:
    """``prune`` written as a block list: the account fields it prunes are
    read (what to read follows from the loaded config), and the accounts
    that hold values under their keys (apply clears those a portal keeps
    after the delete)."""
    config = write_config("""\
        konvsync: 1
        policy:
          max_delete_percent: 100
          prune:
            - accountFields
        groups:
          - {externalId: sales, name: Sales, permissions: [MANAGE_USERS, VIEW_ACCOUNT_USERS]}
        """)
    before = seeded.state.requests["/api"]
    code, out, err = plan(seeded, config, "--detailed-exitcode")
    assert code == 2, err
    assert "# accountFields/tier will be destroyed" in out
    assert "# accountFields/region will be destroyed" in out
    assert "groups/" not in out
    # viewer, groups, account fields, then accounts: one page each, nothing read twice
    assert seeded.state.requests["/api"] - before == 4


def test_a_config_problem_wins_over_an_unreachable_portal(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config("""\
        konvsync: 1
        endpoint: http://127.0.0.1:9
        users:
          - {email: a@b.example, firstName: A, lastNme: B}
        """)
    result = invoke(["plan", str(config)])
    assert result.exit_code == 1
    assert "unknown key" in result.stderr and "lastNme" in result.stderr
    assert "cannot" not in result.stderr.lower()


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_a_config_problem_wins_while_connecting_as_it_loads(
    command: str, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """With --endpoint the token request goes out while the config loads:
    a problem in the config is still what is reported."""
    config = write_config("""\
        konvsync: 1
        users:
          - {email: a@b.example, firstName: A, lastNme: B}
        """)
    extra = ["--auto-approve"] if command == "apply" else []
    result = invoke(["--endpoint", "http://127.0.0.1:9", command, str(config), *extra])
    assert result.exit_code == 1, result.output
    assert f"{config}:3:" in result.stderr and "lastNme" in result.stderr
    assert "127.0.0.1:9" not in result.stderr


def test_an_empty_portal_is_read_once(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    config = write_config(BASE)
    before = sandbox.state.requests["/api"]
    code, _out, err = plan(sandbox, config, "--detailed-exitcode")
    assert code == 2, err
    # viewer + one (empty) page of groups, accountFields, accounts and users
    assert sandbox.state.requests["/api"] - before == 5


def test_a_plan_that_deletes_beside_a_file_not_read_says_so_again(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A group listed only in a file konvsync does not read (saved as
    ``groups.yaml.bak``) is not in the config, and with ``prune`` it is
    deleted. The file was named in a warning; the plan now also says that
    it deletes while a file was not read. A file read through a link (its
    objects are in the config) does not count."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "konvsync: 1\ngroups:\n"
        + "".join(f"  - {{externalId: {key}, name: {key}}}\n" for key in "abc"),
        encoding="utf-8",
    )
    seed_store(sandbox.store, str(seed))
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "konvsync.yaml").write_text(
        "konvsync: 1\npolicy:\n  prune: [groups]\n  max_delete_percent: 100\n"
        "groups:\n  - {externalId: a, name: a}\n",
        encoding="utf-8",
    )
    (portal / "groups.yaml.bak").write_text(
        "groups:\n  - {externalId: b, name: b}\n", encoding="utf-8"
    )
    code, out, _ = plan(sandbox, portal)
    assert code == 0 and "groups/b will be destroyed" in out, out
    assert (
        "Warning: this plan deletes 2 objects while 1 file of the configuration was not read "
        "(named above): an object listed only there is deleted" in out
    ), out
    (portal / "groups.yaml.bak").rename(portal / "groups.yaml")
    (portal / "again.yaml").symlink_to(portal / "groups.yaml")  # read once, through groups.yaml
    code, out, _ = plan(sandbox, portal)
    assert code == 0 and "groups/c will be destroyed" in out, out
    assert "groups/b will be destroyed" not in out, out
    assert "not read (named above)" not in out, out
