"""konvsync against portals that honour the contract where it is silent in
ways the sandbox does not play (``tests/hostile/legal_cases.py``): each
converges in one apply (apply, then plan says "No changes.") or is refused
with one clear line, never a lost value or a change planned on every run."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from konvsync.app.seeding import seed_store
from konvsync.sandbox.readings import named
from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import schema
from tests.conftest import CliRun, SandboxFactory, invoke
from tests.hostile.cases import OnConnection, connection_of, nodes_of
from tests.hostile.harness import (
    after_plan,
    apply_args,
    assert_contract_message,
    hostile_portal,
    one_error_line,
    portal_yaml,
    run_konvsync,
    start_konvsync,
    write_desired,
)
from tests.hostile.legal_cases import (
    ContentUnlisted,
    EmailsLookedUpAsStored,
    EmptyPagesBetween,
    FieldsNotAskedFor,
    IdsReused,
    IdsUniquePerType,
    LookupsAnswerNotFound,
    LookupsByEveryArgument,
    MutationsPerSecond,
    NestedInputPatched,
    OptionsInUseKept,
    ValuesDroppedOnRename,
    ValuesInOwnForm,
)
from tests.hostile.server import Call, Case, Json, running_hostile_server


def _run(endpoint: str, *args: str) -> CliRun:
    return invoke(["--endpoint", endpoint, *args])


def _no_changes(endpoint: str, config: Path) -> None:
    planned = _run(endpoint, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 0, f"plan after apply:\n{planned.output}"
    assert "No changes." in planned.stdout


def _values(sandbox: RunningSandbox) -> dict[str, dict[str, str]]:
    return {
        account["externalId"]: {e["key"]: e["value"] for e in account["customFields"]}
        for account in sandbox.store.page("accounts", 100, None)["nodes"]
    }


FIELD_AND_ACCOUNTS = """\
konvsync: 1
accountFields:
  - {key: num, label: Number, type: TEXT}
  - {key: tier, label: Tier, type: SELECT, options: [gold, silver]}
accounts:
  - {externalId: acme, name: Acme, customFields: {num: A-1, tier: gold}}
  - {externalId: beta, name: Beta, customFields: {num: B-1}}
  - {externalId: gamma, name: Gamma}
"""

RENAMED = """\
konvsync: 1
accountFields:
  - {key: number, renamedFrom: num, label: Number, type: TEXT}
accounts:
  - {externalId: acme, name: Acme Corp, customFields: {number: A-1, tier: gold}}
"""


def test_values_a_portal_drops_with_a_field_rename_are_filed_again(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The contract does not say what renaming an account field's key does
    to the accounts' values; a portal may drop them. apply files them again
    under the new key right after the rename (the accounts the config lists
    and those it leaves alone), so nothing is lost and the next plan is
    clean. Before, apply said "Apply complete!" with every value gone."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(FIELD_AND_ACCOUNTS, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(RENAMED, encoding="utf-8")
    case = ValuesDroppedOnRename(sandbox.store)
    report = tmp_path / "report.json"
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve", "--report", str(report))
        assert case.dropped == 2, "the portal was to drop the values of acme and beta"
        assert applied.exit_code == 0, applied.output
        assert (
            "Warning: the portal dropped the values of 2 accounts of account field 'num' "
            "(now 'number'); konvsync filed them under the new key (counted as changed)"
            in applied.stdout
        ), applied.stdout
        assert "Resources: 0 added, 4 changed, 0 destroyed." in applied.stdout
        data = json.loads(report.read_text(encoding="utf-8"))
        jsonschema.validate(data, schema("apply-report.schema.json"))
        assert data["status"] == "complete", data
        assert _values(sandbox) == {
            "acme": {"number": "A-1", "tier": "gold"},
            "beta": {"number": "B-1"},
            "gamma": {},
        }
        _no_changes(portal.url, config)


ADDRESSED = """\
konvsync: 1
accounts:
  - externalId: acme
    name: Acme
    locations:
      - {name: HQ, phone: "+1 555 0100", address: {street: 1 Main St, city: Springfield}}
      - {name: Depot, address: {street: 9 Dock Rd, city: Shelbyville, country: US}}
"""

READDRESSED = """\
konvsync: 1
accounts:
  - externalId: acme
    name: Acme
    locations:
      - {name: HQ, address: {city: Capital City, country: US}}
      - {name: Depot, phone: "+1 555 0199", address: {street: 9 Dock Rd, city: Shelbyville}}
"""


def test_address_parts_left_out_are_cleared_on_a_portal_that_patches_the_address(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Update inputs are patches (the contract); a portal may read the
    nested ``address`` input as one too, keeping parts it omits. A part the
    config leaves out of an address is empty (the kind says so), so apply
    sends it as null: the address converges on either reading. Before, the
    street stayed, and every apply failed with "kept address"."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(ADDRESSED, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(READDRESSED, encoding="utf-8")
    case = NestedInputPatched(sandbox.store)
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert applied.exit_code == 0, applied.output
        assert "Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout
        assert case.kept == [], f"the portal kept parts konvsync left out: {case.kept}"
        _no_changes(portal.url, config)
    stored = sandbox.store.page("locations", 100, None)["nodes"]
    addresses = {location["name"]: location["address"] for location in stored}
    assert {k: v for k, v in addresses["HQ"].items() if v} == {
        "city": "Capital City",
        "country": "US",
    }
    assert {k: v for k, v in addresses["Depot"].items() if v} == {
        "street": "9 Dock Rd",
        "city": "Shelbyville",
    }


def _one_key_twice(connection: dict[str, Any], _call: Call) -> None:
    """The first account lists its first custom field's key again, without
    a value (as a portal listing every field might, besides the value)."""
    for account in nodes_of(connection):
        values = account.get("customFields") or []
        if values:
            account["customFields"] = [*values, {"key": values[0]["key"], "value": None}]
            return


def test_an_account_answered_with_one_custom_field_twice_stops_before_any_write(
    tmp_path: Path,
) -> None:
    """Which of the two values the account holds is anyone's guess: taking
    the last planned an update of the value on every run. It is a contract
    error naming the account and the key, and nothing is sent."""
    case = OnConnection("custom-field-twice", "ReadAccounts", _one_key_twice)
    line = _accounts_read_stops_apply(tmp_path, case)
    assert "account acc_1 lists customFields 'account_number' twice" in line, line


def _accounts_read_stops_apply(tmp_path: Path, case: OnConnection) -> str:
    """Apply the desired config through ``case``: the read of the accounts
    breaks the contract, nothing is sent; the one error line."""
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        mutations = portal.mutations
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert mutations == [], result.describe()
    line = one_error_line(result)
    assert_contract_message(line, "ReadAccounts")
    return line


@pytest.mark.parametrize("count", [2, 20])
def test_pages_without_nodes_between_the_pages_are_followed(tmp_path: Path, count: int) -> None:
    """A page may hold fewer nodes than asked, none included, however many
    (a portal that filters rows after paging them answers many): ``count``
    empty pages before each of the three pages of users (63 pages for 30
    users with 20) are followed to the end, not taken for a chain of pages
    that does not end, and the plan is the one an honest portal gets."""
    config = write_desired(tmp_path)
    case = EmptyPagesBetween("ReadUsers", count=count)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(["--endpoint", portal.endpoint(), "plan", str(config)], tmp_path)
        reads = portal.operations().count("ReadUsers")
    assert case.empty_pages == 3 * count, result.describe()
    assert reads == 3 * count + 3, result.describe()
    assert result.exit_code == 0, result.describe()
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in result.stdout, result.describe()


class TitlesStoredUpperCase(Case):
    """A portal that stores (and answers) a user's title in upper case: the
    update's answer shows another value than was sent."""

    name = "titles-stored-upper-case"

    def answer(self, call: Call, answer: Json) -> Json:
        data = answer.get("data") if call.operation.startswith("UpdateUser") else None
        for node in (data or {}).values():
            if isinstance(node, dict) and isinstance(node.get("title"), str):
                node["title"] = node["title"].upper()
        return answer


def test_an_answer_that_kept_another_value_is_no_reason_to_run_again(tmp_path: Path) -> None:
    """The portal answered the update with another value than was sent: the
    next apply sends the same and meets the same, so the summary says to
    correct the configuration or the portal, not "Run apply again"; the
    report gives the change konvsync's code NOT_AS_SENT."""
    config = write_desired(tmp_path)
    report_file = tmp_path / "report.json"
    with hostile_portal(tmp_path, TitlesStoredUpperCase()) as portal:
        args = [*apply_args(portal.endpoint(), config), "--report", str(report_file)]
        result = run_konvsync(args, tmp_path)
    summary = after_plan(result)
    assert result.exit_code == 1, result.describe()
    assert "the portal accepted" in summary and 'title = "LEAD"' in summary, summary
    assert "Run apply again" not in summary, summary
    assert "reasons another run meets again (NOT_AS_SENT)" in summary, summary
    report = json.loads(report_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema("apply-report.schema.json"))
    failed = [c for c in report["changes"] if c["status"] == "failed"]
    assert [c["error"]["code"] for c in failed] == ["NOT_AS_SENT"], report


OPTIONS = """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: SELECT, options: [bronze, silver]}
accounts:
  - {externalId: acme, name: Acme, customFields: {tier: bronze}}
"""
OPTIONS_REPLACED = OPTIONS.replace("[bronze, silver]", "[silver, gold]").replace(
    "tier: bronze", "tier: gold"
)
"""bronze replaced by gold, and acme moved to it, in one config."""


def test_an_option_replaced_while_accounts_move_off_it_converges_on_a_strict_portal(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A portal that refuses to take away an option an account still holds:
    the field's update keeps the option taken away (the accounts step comes
    after it, and the account's new value must be an option by then), and a
    last update takes it away once the accounts moved off it. One apply, and
    the next plan is clean."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(OPTIONS, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(OPTIONS_REPLACED, encoding="utf-8")
    case = OptionsInUseKept(sandbox.store)
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        updates = [
            c.variables for c in portal.mutations if c.operation.startswith("UpdateAccountField")
        ]
        assert "Traceback" not in applied.output
        assert applied.exit_code == 0, applied.output
        assert case.refused == 0
        _no_changes(portal.url, config)
    # The field's own step keeps the option taken away; the last update takes it away.
    assert [u["input_0"]["options"] for u in updates] == [
        ["silver", "gold", "bronze"],
        ["silver", "gold"],
    ]
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout


def test_an_option_another_account_still_holds_is_a_failure_of_its_own(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """An account the config leaves alone still holds the option taken away:
    the strict portal refuses the last update, which fails on its own (exit
    1, BAD_USER_INPUT: another run meets it again); the rest is done."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(OPTIONS, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    sandbox.store.create(
        "accounts",
        {
            "externalId": "other",
            "name": "Other",
            "customFields": [{"key": "tier", "value": "bronze"}],
        },
    )
    config.write_text(OPTIONS_REPLACED, encoding="utf-8")
    case = OptionsInUseKept(sandbox.store)
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 1, applied.output
    assert "failed: accountFields/tier (update): option 'bronze' is in use (BAD_USER_INPUT)" in (
        applied.stdout
    ), applied.stdout
    assert "Apply incomplete: 2 done (0 added, 2 changed, 0 destroyed), 1 failed" in (
        applied.stdout
    ), applied.stdout
    account = sandbox.store.get("accounts", key="acme")
    assert account is not None and account["customFields"] == [{"key": "tier", "value": "gold"}]


def _one_location_in_two_accounts(connection: dict[str, Any], _call: Call) -> None:
    """The second account lists the first one's Depot (same ID) instead of
    its own, under another name: a read that overlapped a move, say."""
    nodes = nodes_of(connection)
    depot = next(loc for loc in nodes[0]["locations"] if loc["name"] == "Depot")
    others = [loc for loc in nodes[1]["locations"] if loc["name"] != "Depot"]
    nodes[1]["locations"] = [*others, {**depot, "name": "Depot 2"}]


def test_a_location_answered_in_two_accounts_stops_before_any_write(tmp_path: Path) -> None:
    """One location (one ID) in two accounts is no state the contract knows;
    taken as two, the plan deleted the second account's "Depot 2" by its ID,
    which is the first account's Depot the config keeps. It is a contract
    error naming the location's ID and both accounts, and nothing is sent."""
    case = OnConnection("location-in-two-accounts", "ReadAccounts", _one_location_in_two_accounts)
    line = _accounts_read_stops_apply(tmp_path, case)
    assert "location loc_2 is listed in account acc_1 and in account acc_2" in line, line


class EmailsLowercasedPerCharacter(Case):
    """A portal that stores e-mails lowercased letter by letter (as SQL
    ``lower()`` does: every capital sigma becomes the small sigma, never the
    final sigma Python writes at the end of a word, and "İ" becomes "i", not "i"
    with a combining dot): the contract lets it store an e-mail lowercased,
    without saying how."""

    name = "emails-lowercased-per-character"

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "ReadUsers":
            for user in nodes_of(connection_of(answer) or {}):
                user["email"] = "".join(
                    "i" if char == "İ" else char.lower() for char in user["email"]
                )
        return answer


GREEK_USER = """\
konvsync: 1
policy: {prune: [users], max_delete_percent: 100}
users:
  - {email: ΟΔΥΣΣΕΑΣ@example.test, firstName: Odysseas, lastName: Laertiou}
  - {email: İLKAY@example.test, firstName: Ilkay, lastName: Demir}
"""


def test_an_email_the_portal_lowercased_another_way_is_the_same_user(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The users applied are read back as "οδυσσεασ@example.test" and
    "ilkay@example.test" where Python's lowercasing says "οδυσσεας@..." and
    "i̇lkay@...": the same users, no change (not a create of a second one
    and a delete of the one that is there)."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(GREEK_USER, encoding="utf-8")
    sandbox = sandbox_factory()
    applied = _run(sandbox.url, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    case = EmailsLowercasedPerCharacter()
    with running_hostile_server(sandbox.url, case) as portal:
        result = run_konvsync(
            ["--endpoint", portal.endpoint(), "plan", str(config), "--detailed-exitcode"], tmp_path
        )
    assert result.exit_code == 0, result.describe()
    assert "No changes." in result.stdout, result.describe()


def _number(remote_id: str) -> str:
    return remote_id.partition("_")[2]


GROUP_AND_FIELD = """\
konvsync: 1
policy: {prune: [groups], max_delete_percent: 100}
groups:
  - {externalId: g-a, name: A}
  - {externalId: g-b, name: B}
accountFields:
  - {key: num, label: Number, type: TEXT}
accounts:
  - {externalId: acme, name: Acme, customFields: {num: A-1}}
"""
FIELD_RENAMED_GROUP_PRUNED = """\
konvsync: 1
policy: {prune: [groups], max_delete_percent: 100}
groups:
  - {externalId: g-b, name: B}
accountFields:
  - {key: number, renamedFrom: num, label: Number, type: TEXT}
accounts:
  - {externalId: acme, name: Acme, customFields: {number: A-1}}
"""


def test_values_left_under_a_renamed_key_move_beside_a_delete_of_another_type_with_that_id(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """IDs may be unique within their type only: the group pruned and the
    account holding values are both "1". The portal leaves the values under
    the account field's old key; apply files them under the new one, as it
    does with IDs unique across types. Before, the account was taken for
    one the plan deletes (its values go with it): "Apply complete!", and
    the next plan showed customFields {"num": "A-1"} -> {"number": "A-1"}."""
    sandbox = sandbox_factory(readings=named(["values-stay"]))
    config = tmp_path / "konvsync.yaml"
    config.write_text(GROUP_AND_FIELD, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    group, account = (
        sandbox.store.get("groups", key="g-a"),
        sandbox.store.get("accounts", key="acme"),
    )
    assert group is not None and account is not None
    assert _number(group["id"]) == _number(account["id"]), "the case needs one ID for both"
    config.write_text(FIELD_RENAMED_GROUP_PRUNED, encoding="utf-8")
    with running_hostile_server(sandbox.url, IdsUniquePerType()) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert applied.exit_code == 0, applied.output
        assert "under the old key of account field 'num' (now 'number')" in applied.stdout, (
            applied.stdout
        )
        _no_changes(portal.url, config)
    assert _values(sandbox) == {"acme": {"number": "A-1"}}


KEYLESS_ADOPTED = """\
konvsync: 1
policy: {send_welcome_email: false}
groups:
  - {externalId: sales, name: Sales}
accounts:
  - {externalId: acme, name: Acme}
users:
  - {email: jane@acme.example, firstName: Jane, lastName: Doe, title: CEO, account: acme,
     groups: [sales]}
"""


def test_objects_of_two_types_adopted_with_one_id_are_not_taken_for_each_other(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A keyless group and a keyless account, both "1" (IDs unique within
    their type), are adopted by name in the apply that also updates a user
    of both. The check before the users step reads the user's group and
    account by the keys the adoptions gave them. Before, the account's
    adoption stood for the group's too (one placeholder "<id 1>"): the user
    "changed in the portal since the plan", not sent, exit 1."""
    sandbox = sandbox_factory()
    group = sandbox.store.create("groups", {"name": "Sales", "permissions": []})
    account = sandbox.store.create("accounts", {"name": "Acme"})
    assert _number(group["id"]) == _number(account["id"]), "the case needs one ID for both"
    sandbox.store.create(
        "users",
        {
            "email": "jane@acme.example",
            "firstName": "Jane",
            "lastName": "Doe",
            "title": "VP",
            "accountId": account["id"],
            "groupIds": [group["id"]],
        },
    )
    config = tmp_path / "konvsync.yaml"
    config.write_text(KEYLESS_ADOPTED, encoding="utf-8")
    with running_hostile_server(sandbox.url, IdsUniquePerType()) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert applied.exit_code == 0, applied.output
        assert "Apply complete! Resources: 0 added, 3 changed, 0 destroyed." in applied.stdout
        _no_changes(portal.url, config)


PARTNER_GROUP = """\
konvsync: 1
groups:
  - {externalId: acme, name: Acme partners}
accounts:
  - externalId: acme
    name: Acme
    locations:
      - {name: HQ}
"""


def test_twins_in_an_account_that_shares_its_id_with_an_adopted_group_stop_nothing(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Two locations named HQ in a keyless account the config leaves alone
    stop no plan. That account is "1", as is the keyless group the plan
    adopts under the key "acme" (IDs unique within their type), and the
    config lists the locations of its own account "acme". Before, the
    group's adoption gave the other account the key "acme" too, and plan
    refused: "the configuration lists the locations of account 'acme'"."""
    sandbox = sandbox_factory()
    group = sandbox.store.create("groups", {"name": "Acme partners", "permissions": []})
    other = sandbox.store.create("accounts", {"name": "Other Co"})
    assert _number(group["id"]) == _number(other["id"]), "the case needs one ID for both"
    for _ in range(2):
        sandbox.store.create("locations", {"name": "HQ"}, parent_id=other["id"])
    config = tmp_path / "konvsync.yaml"
    config.write_text(PARTNER_GROUP, encoding="utf-8")
    with running_hostile_server(sandbox.url, IdsUniquePerType()) as portal:
        planned = _run(portal.url, "plan", str(config))
    assert planned.exit_code == 0, planned.output
    assert "Plan: 2 to add, 1 to change, 0 to destroy." in planned.stdout, planned.stdout


OPEN_LINK = """\
konvsync: 1
policy: {prune: [inviteLinks], max_delete_percent: 100}
inviteLinks:
  - {title: Sign-up, access: OPEN, redirectPath: /lms}
"""
OPEN_LINK_REPLACED = OPEN_LINK.replace("Sign-up", "Partner sign-up")


@pytest.mark.parametrize("verify", ["updates", "full"])
def test_a_link_created_with_the_id_of_the_link_it_replaces_is_created(
    sandbox_factory: SandboxFactory, tmp_path: Path, verify: str
) -> None:
    """One OPEN link at a time: the old link is deleted before the new one
    is created, and a portal may give the new one the old one's ID (the
    contract does not say an ID is never used again). The create did what
    was asked; apply says so, and the next plan is clean. Before, the
    answer was taken for the ID of another link ("which another invite
    link already has", exit 1), and ``--verify full`` found the deleted
    link "still exists" by that ID."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(OPEN_LINK, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(OPEN_LINK_REPLACED, encoding="utf-8")
    case = IdsReused()
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve", "--verify", verify)
        assert case.reused == 1, "the portal was to reuse the deleted link's ID"
        assert applied.exit_code == 0, applied.output
        assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in applied.stdout
        _no_changes(portal.url, config)
    links = sandbox.store.page("inviteLinks", 100, None)["nodes"]
    assert [link["title"] for link in links] == ["Partner sign-up"]


def test_fields_an_answer_adds_inside_an_address_are_not_compared(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Answers whose objects carry fields konvsync did not ask for (an
    address with ``__typename`` and a part of the portal's own) converge:
    those fields pass the answer check and are not compared, inside an
    address as at the top of an object. Before, the address read and
    answered differed from the config's by the added parts: every create
    and update of a location failed ("kept address = ..."), and every plan
    showed ``address.internalNote`` to clear."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(ADDRESSED, encoding="utf-8")
    with running_hostile_server(sandbox.url, FieldsNotAskedFor()) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert applied.exit_code == 0, applied.output
        _no_changes(portal.url, config)
        config.write_text(READDRESSED, encoding="utf-8")
        applied = _run(portal.url, "apply", str(config), "--auto-approve", "--verify", "full")
        assert applied.exit_code == 0, applied.output
        assert "Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout, applied.stdout
        _no_changes(portal.url, config)


MIXED_CASE_USER = """\
konvsync: 1
policy: {send_welcome_email: false}
users:
  - {email: Jane.Doe@Acme.example, firstName: Jane, lastName: Doe}
"""


def test_a_user_whose_create_got_no_answer_is_found_where_the_portal_looks_up_as_stored(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The create of Jane.Doe@Acme.example is executed but answered with a
    502; konvsync looks her up by e-mail (by ID and key, not by pages: the
    portal holds over 100 users). The portal finds an e-mail only as stored
    (as written here; a portal that stores it lowercased finds that), so
    she is asked for as sent as well as lowercased, found, and not created
    again. Before, only "jane.doe@acme.example" was asked for, she was not
    found, the create was sent again and met CONFLICT (exit 1, "correct the
    configuration or the portal first")."""
    sandbox = sandbox_factory()
    for number in range(101):
        sandbox.store.create(
            "users", {"email": f"u{number}@example.test", "firstName": "U", "lastName": "X"}
        )
    config = tmp_path / "konvsync.yaml"
    config.write_text(MIXED_CASE_USER, encoding="utf-8")
    case = EmailsLookedUpAsStored()
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        creates = [c for c in portal.mutations if c.operation.startswith("CreateUser")]
        assert case.lost == 1, "the create's answer was to be lost"
        assert applied.exit_code == 0, applied.output
        assert len(creates) == 1, f"sent again: {applied.output}"
        _no_changes(portal.url, config)
    assert sandbox.store.count("users") == 102


TYPED_VALUES = """\
konvsync: 1
accountFields:
  - {key: active, label: Active, type: BOOLEAN}
  - {key: since, label: Customer since, type: DATE}
  - {key: price, label: Price, type: NUMBER}
  - {key: note, label: Note, type: TEXT}
accounts:
  - externalId: acme
    name: Acme
    customFields: {active: true, since: "2026-12-07", price: 1.5, note: "true"}
  - externalId: beta
    name: Beta
    customFields: {active: false, since: "2027-01-31", price: "01"}
"""
TYPED_VALUES_CHANGED = TYPED_VALUES.replace(
    'active: true, since: "2026-12-07", price: 1.5',
    'active: false, since: "2026-12-08", price: 2.5',
)
DATE_FORMS = ["{}T00:00:00Z", "{}T00:00:00.000+00:00"]
PRUNED_ACCOUNTS = "konvsync: 1\npolicy: {prune: [accounts], max_delete_percent: 100}\n"


def _stored_values(sandbox: RunningSandbox) -> dict[str, dict[str, str]]:
    return {key: dict(sorted(values.items())) for key, values in _values(sandbox).items()}


@pytest.mark.parametrize(
    ("date_form", "digits"), [(DATE_FORMS[0], False), (DATE_FORMS[1], False), (DATE_FORMS[0], True)]
)
def test_values_a_portal_answers_in_its_own_form_for_their_type_converge(
    sandbox_factory: SandboxFactory, tmp_path: Path, date_form: str, digits: bool
) -> None:
    """A portal answers a BOOLEAN value "True" (or "1", from a number
    column), a DATE as a date-time at midnight, a NUMBER "1.50" for "1.5"
    and "1.00" for "01" (the contract says nothing of their form): they are
    the values sent. apply says so (exit 0), the next plan and drift find
    nothing, and export writes them in the config's form, which validates
    and plans clean. A TEXT value stays exact. Before, apply reported the
    accounts "not as sent" (exit 1) on every run, and the plan showed the
    same change again (a BOOLEAN answered "1" still did)."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    case = ValuesInOwnForm(sandbox.store, date_form, digits)
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert case.shown, "the portal was to answer values in its own form"
        assert applied.exit_code == 0, applied.output
        _no_changes(portal.url, config)
        drifted = _run(portal.url, "drift", str(config))
        assert drifted.exit_code == 0, drifted.output
        assert "No drift." in drifted.stdout, drifted.output
        out = tmp_path / "exported"
        exported = _run(portal.url, "export", "--out", str(out))
        assert exported.exit_code == 0, exported.output
        text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.yaml")))
        assert "True" not in text and "T00:00:00" not in text, text
        validated = invoke(["validate", str(out)])
        assert validated.exit_code == 0, validated.output
        _no_changes(portal.url, out)
        one = _run(portal.url, "export", "--target", "accounts/acme")
        assert one.exit_code == 0, one.output
        assert "active: 'true'" in one.stdout and "since: '2026-12-07'" in one.stdout, one.stdout
    assert _stored_values(sandbox) == {
        "acme": {"active": "true", "note": "true", "price": "1.5", "since": "2026-12-07"},
        "beta": {"active": "false", "price": "01", "since": "2027-01-31"},
    }


def test_a_real_change_of_typed_values_is_still_planned_and_applied(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """On the same portal, another boolean, date and number are changes:
    planned (and only those), applied (and read back whole, ``--verify
    full``), and then the plan is clean. A TEXT value in another case is a
    change too."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(TYPED_VALUES_CHANGED, encoding="utf-8")
    case = ValuesInOwnForm(sandbox.store)
    with running_hostile_server(sandbox.url, case) as portal:
        planned = _run(portal.url, "plan", str(config), "--format", "json")
        assert planned.exit_code == 0, planned.output
        changes = json.loads(planned.stdout)["changes"]
        assert [c["address"] for c in changes] == ["accounts/acme"], changes
        fields = {f["path"]: (f["before"], f["after"]) for f in changes[0]["fields"]}
        assert fields == {
            "customFields.active": ("true", "false"),
            "customFields.price": ("1.50", "2.5"),
            "customFields.since": ("2026-12-07", "2026-12-08"),
        }, fields
        applied = _run(portal.url, "apply", str(config), "--auto-approve", "--verify", "full")
        assert applied.exit_code == 0, applied.output
        assert "Resources: 0 added, 1 changed, 0 destroyed." in applied.stdout, applied.stdout
        _no_changes(portal.url, config)
        config.write_text(TYPED_VALUES_CHANGED.replace('note: "true"', 'note: "True"'))
        planned = _run(portal.url, "plan", str(config), "--detailed-exitcode")
        assert planned.exit_code == 2, planned.output
        assert 'customFields.note = "true" -> "True"' in planned.stdout, planned.stdout
    assert _stored_values(sandbox)["acme"] == {
        "active": "false",
        "note": "true",
        "price": "2.5",
        "since": "2026-12-08",
    }


def test_drift_write_accepts_typed_values_in_the_configs_form(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Values changed by hand in the portal, and an account created there,
    answered in the portal's own form, are written into the YAML as the
    config writes them (false, a date), so the edited configuration
    validates and the next plan is clean."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES.replace("konvsync: 1\n", PRUNED_ACCOUNTS), encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    account = sandbox.store.get("accounts", key="acme")
    assert account is not None
    edited = [
        {"key": "active", "value": "false"},
        {"key": "since", "value": "2026-12-09"},
        {"key": "price", "value": "1.5"},
        {"key": "note", "value": "true"},
    ]
    sandbox.store.update("accounts", account["id"], {"customFields": edited})
    created = [{"key": "active", "value": "true"}, {"key": "since", "value": "2026-12-10"}]
    sandbox.store.create(
        "accounts", {"externalId": "gamma", "name": "Gamma", "customFields": created}
    )
    case = ValuesInOwnForm(sandbox.store, DATE_FORMS[1])
    with running_hostile_server(sandbox.url, case) as portal:
        written = _run(portal.url, "drift", "--write", str(config))
        assert written.exit_code == 2, written.output
        text = config.read_text(encoding="utf-8")
        assert "gamma" in text, text
        assert "True" not in text and "False" not in text and "T00:00:00" not in text, text
        assert "price: '1.50'" not in text, f"the same number written anew: {text}"
        validated = invoke(["validate", str(config)])
        assert validated.exit_code == 0, validated.output
        _no_changes(portal.url, config)
        drifted = _run(portal.url, "drift", str(config))
        assert drifted.exit_code == 0, drifted.output


class _Together(Case):
    """Several cases played by one portal, each answer through each in turn."""

    def __init__(self, *cases: Case) -> None:
        self.cases = cases
        self.name = "+".join(case.name for case in cases)

    def answer(self, call: Call, answer: Json) -> Json:
        for case in self.cases:
            answer = case.answer(call, answer)
        return answer


TYPED_RENAMED = TYPED_VALUES.replace(
    "{key: active, label: Active, type: BOOLEAN}",
    "{key: enabled, renamedFrom: active, label: Active, type: BOOLEAN}",
).replace("active: ", "enabled: ")


def test_typed_values_a_portal_drops_with_a_rename_are_filed_again_in_the_configs_form(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A portal that answers values in its own form and drops them when
    their field's key is renamed: apply files them again under the new key
    as the config writes them ("true", not the "True" it read, which a
    portal that checks a BOOLEAN's form refuses), and converges."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    config.write_text(TYPED_RENAMED, encoding="utf-8")
    dropping = ValuesDroppedOnRename(sandbox.store)
    case = _Together(dropping, ValuesInOwnForm(sandbox.store))
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert dropping.dropped == 2, "the portal was to drop the values"
        assert applied.exit_code == 0, applied.output
        _no_changes(portal.url, config)
    # Filed again as read: the numbers as the portal wrote them (the same numbers).
    assert _stored_values(sandbox) == {
        "acme": {"enabled": "true", "note": "true", "price": "1.50", "since": "2026-12-07"},
        "beta": {"enabled": "false", "price": "1.00", "since": "2027-01-31"},
    }


def test_a_value_compares_by_the_type_its_field_has_after_the_plan(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The config retypes a DATE field to TEXT and keeps its value: the
    portal showed it as a date-time, and once the field is TEXT it keeps
    that text. Compared as TEXT (the field's type after the plan), the
    value is not the config's: apply sends it again after the retype, and
    the next plan is clean. Compared as the DATE the portal had, no value
    was sent, and the next plan showed the date-time text to change."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    retyped = TYPED_VALUES.replace("label: Customer since, type: DATE", "label: Since, type: TEXT")
    config.write_text(retyped, encoding="utf-8")
    case = ValuesInOwnForm(sandbox.store)
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert case.kept_as_text == 2, "the portal was to keep the dates as their text"
        assert applied.exit_code == 0, applied.output
        _no_changes(portal.url, config)
    assert _stored_values(sandbox)["acme"]["since"] == "2026-12-07"


def test_values_left_under_a_renamed_key_are_moved_with_the_others_in_the_configs_form(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The portal renamed a field's key (by hand, or an apply stopped right
    after) and left the values under the old key: the plan files them under
    the new one, sending the whole set of an account whose values the
    config leaves alone. Its other values go as the config writes them,
    not as this portal answers them (a date-time for a DATE, which a
    portal that checks a DATE's form refuses)."""
    sandbox = sandbox_factory(readings=named(["values-stay"]))
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    field = sandbox.store.get("accountFields", key="active")
    assert field is not None
    sandbox.store.update("accountFields", field["id"], {"key": "enabled"})
    assert "active" in _values(sandbox)["acme"], "the case needs the values left behind"
    beta_left_alone = TYPED_RENAMED.replace(
        '\n    customFields: {enabled: false, since: "2027-01-31", price: "01"}', ""
    )
    assert beta_left_alone != TYPED_RENAMED
    config.write_text(beta_left_alone, encoding="utf-8")
    with running_hostile_server(sandbox.url, ValuesInOwnForm(sandbox.store)) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert applied.exit_code == 0, applied.output
        assert "Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout, applied.stdout
        _no_changes(portal.url, config)
    assert _stored_values(sandbox)["beta"] == {
        "enabled": "false",
        "price": "1.00",  # as the portal answered it: the same number
        "since": "2027-01-31",
    }


@pytest.mark.parametrize(
    "selection",
    [["--kinds", "accounts"], ["--scope", "accounts=acme"]],
    ids=["kinds", "scope"],
)
def test_accounts_exported_without_their_fields_write_typed_values_in_the_configs_form(
    sandbox_factory: SandboxFactory, tmp_path: Path, selection: list[str]
) -> None:
    """``export --kinds accounts`` (or a scope of accounts only) writes the
    accounts as the whole export does: their values in the config's form
    for their fields' types, though the fields are not written. Before, the
    types were unknown without the fields' read: "True" and a date-time
    were written, which `validate` rejects beside the fields' file."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    with running_hostile_server(sandbox.url, ValuesInOwnForm(sandbox.store)) as portal:
        whole = tmp_path / "whole"
        assert _run(portal.url, "export", "--out", str(whole)).exit_code == 0
        part = tmp_path / "part"
        exported = _run(portal.url, "export", "--out", str(part), *selection)
        assert exported.exit_code == 0, exported.output
    text = (part / "accounts.yaml").read_text(encoding="utf-8")
    assert "True" not in text and "T00:00:00" not in text, text
    (part / "accountFields.yaml").write_bytes((whole / "accountFields.yaml").read_bytes())
    validated = invoke(["validate", str(part)])
    assert validated.exit_code == 0, validated.output


def test_drift_write_of_a_field_retyped_by_hand_takes_its_values_as_text(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A BOOLEAN field made TEXT by hand, its value "True" now: drift shows
    the type and the value, and ``--write`` takes both, so the next plan is
    clean. Before, the value was compared as the BOOLEAN the config still
    said ("True" is true): only the type was written, and the next plan
    changed "True" back to "true"."""
    sandbox = sandbox_factory()
    config = tmp_path / "konvsync.yaml"
    config.write_text(TYPED_VALUES, encoding="utf-8")
    assert _run(sandbox.url, "apply", str(config), "--auto-approve").exit_code == 0
    field = sandbox.store.get("accountFields", key="active")
    account = sandbox.store.get("accounts", key="acme")
    assert field is not None and account is not None
    sandbox.store.update("accountFields", field["id"], {"type": "TEXT"})
    values = [
        {**e, "value": "True"} if e["key"] == "active" else e for e in account["customFields"]
    ]
    sandbox.store.update("accounts", account["id"], {"customFields": values})
    drifted = _run(sandbox.url, "drift", str(config))
    assert drifted.exit_code == 2, drifted.output
    assert "accounts/acme" in drifted.stdout, drifted.output
    written = _run(sandbox.url, "drift", "--write", str(config))
    assert written.exit_code == 2, written.output
    _no_changes(sandbox.url, config)


HELD_CONTENT = """\
konvsync: 1
groups:
  - externalId: dealers
    name: Dealers
    lmsModules: [onboarding, sales-training]
    damCategories: [brand-assets, price-lists]
  - {externalId: staff, name: Staff, lmsModules: [onboarding]}
"""
UNLISTED = ("sales-training", "price-lists", "service-certification")
"""Listed by no read of the portal's lmsModules and damCategories; the
first two are held by the group ``dealers``, the last by no group."""


def _content_unlisted(sandbox_factory: SandboxFactory, tmp_path: Path) -> RunningSandbox:
    """A sandbox (two modules and two categories a page) holding
    ``HELD_CONTENT``, made through an honest portal."""
    sandbox = sandbox_factory(page_cap=2)
    seed = tmp_path / "seed" / "konvsync.yaml"
    seed.parent.mkdir()
    seed.write_text(HELD_CONTENT, encoding="utf-8")
    seeded = _run(sandbox.url, "apply", str(seed), "--auto-approve")
    assert seeded.exit_code == 0, seeded.output
    return sandbox


def _content_of(sandbox: RunningSandbox, group: str) -> dict[str, list[str]]:
    """The slugs of the modules and categories ``group`` holds in the store."""
    stored = sandbox.store.get("groups", key=group)
    assert stored is not None
    return {
        name: sorted(
            row["slug"]
            for row in sandbox.store.page(name, 100, None)["nodes"]
            if row["_pk"] in stored[name]
        )
        for name in ("lmsModules", "damCategories")
    }


def test_content_a_portal_lists_only_in_groups_converges(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """The contract does not say that ``lmsModules`` and ``damCategories``
    list every module and category: a portal may list only published ones
    while groups hold archived or draft ones (answered there with their ID
    and slug). A slug a group holds is known by it: export writes it, and
    the export validates and plans "No changes."; a config that gives
    another group a slug only a group holds applies with that ID and
    converges; a saved plan of it applies; drift finds nothing. Before,
    every plan, apply and drift of such a config stopped with "which the
    portal's lmsModules do not include", the export's first plan too."""
    sandbox = _content_unlisted(sandbox_factory, tmp_path)
    case = ContentUnlisted(sandbox.store, *UNLISTED)
    exported = tmp_path / "exported"
    with running_hostile_server(sandbox.url, case) as portal:
        export = _run(portal.url, "export", "--out", str(exported))
        assert export.exit_code == 0, export.output
        groups = (exported / "groups.yaml").read_text(encoding="utf-8")
        assert "sales-training" in groups and "price-lists" in groups, groups
        assert invoke(["validate", str(exported)]).exit_code == 0
        _no_changes(portal.url, exported)
        drift = _run(portal.url, "drift", str(exported))
        assert drift.exit_code == 0, drift.output
        assert case.left_out, "the portal was to leave modules out of its lists"

        config = tmp_path / "konvsync.yaml"
        config.write_text(
            HELD_CONTENT.replace(
                "{externalId: staff, name: Staff, lmsModules: [onboarding]}",
                "{externalId: staff, name: Staff, lmsModules: [onboarding, sales-training],"
                " damCategories: [price-lists]}",
            ),
            encoding="utf-8",
        )
        saved = tmp_path / "plan.json"
        planned = _run(portal.url, "plan", str(config), "--out", str(saved))
        assert planned.exit_code == 0, planned.output
        assert '~ lmsModules    = ["onboarding"] -> ["onboarding", "sales-training"]' in (
            planned.stdout
        ), planned.stdout
        applied = _run(portal.url, "apply", str(saved))
        assert applied.exit_code == 0, applied.output
        assert "Resources: 0 added, 1 changed, 0 destroyed." in applied.stdout, applied.stdout
        _no_changes(portal.url, config)
        assert _run(portal.url, "drift", str(config)).exit_code == 0

        # A config that names none of them is planned as before.
        config.write_text(
            "konvsync: 1\ngroups:\n  - {externalId: dealers, name: Dealer network}\n",
            encoding="utf-8",
        )
        renamed = _run(portal.url, "apply", str(config), "--auto-approve")
        assert renamed.exit_code == 0, renamed.output
        _no_changes(portal.url, config)
    assert _content_of(sandbox, "staff") == {
        "lmsModules": ["onboarding", "sales-training"],
        "damCategories": ["price-lists"],
    }
    assert _content_of(sandbox, "dealers") == {
        "lmsModules": ["onboarding", "sales-training"],
        "damCategories": ["brand-assets", "price-lists"],
    }


def test_a_slug_neither_listed_nor_held_by_a_group_is_still_refused(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Only what a group holds is known beside the lists: a slug that no
    list shows and no group holds (``service-certification``, or a typo)
    is a plan error at its place, the slugs groups hold among the
    suggestions, and nothing is sent; ``doctor --config`` says the same,
    and is content with the slugs a group holds."""
    sandbox = _content_unlisted(sandbox_factory, tmp_path)
    case = ContentUnlisted(sandbox.store, *UNLISTED)
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\ngroups:\n"
        "  - {externalId: staff, name: Staff,"
        " lmsModules: [service-certification, sales-trainig]}\n",
        encoding="utf-8",
    )
    held = tmp_path / "held.yaml"
    held.write_text(
        "konvsync: 1\ngroups:\n"
        "  - {externalId: staff, name: Staff, lmsModules: [sales-training],"
        " damCategories: [price-lists]}\n",
        encoding="utf-8",
    )
    with running_hostile_server(sandbox.url, case) as portal:
        planned = _run(portal.url, "plan", str(config))
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        doctor = _run(portal.url, "doctor", "--config", str(config))
        doctor_held = _run(portal.url, "doctor", "--config", str(held))
        mutations = portal.mutations
    assert case.left_out
    assert planned.exit_code == 1, planned.output
    assert (
        f"{config}:3:51: group 'staff': lmsModules refers to LMS module 'service-certification', "
        "which the portal's lmsModules do not include"
    ) in planned.stderr, planned.stderr
    assert (
        "refers to LMS module 'sales-trainig', which the portal's lmsModules do not include; "
        "did you mean 'sales-training'?"
    ) in planned.stderr, planned.stderr
    assert applied.exit_code == 1, applied.output
    assert mutations == []
    assert doctor.exit_code == 1, doctor.output
    assert "FAIL references:" in doctor.stdout and "'service-certification'" in doctor.stdout
    assert doctor_held.exit_code == 0, doctor_held.output
    assert "ok   references: every slug the configuration uses exists" in doctor_held.stdout


def test_the_portal_guard_compares_the_portals_name_as_every_string_is_compared(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A portal's name is a String its administrators typed: it may be
    stored with a decomposed "é" and a trailing space (the contract: strings
    may be stored as sent). The config's ``portal: Acme Café`` names that
    portal (konvsync compares strings in NFC without surrounding
    whitespace): plan and apply go on, where they refused (exit 3) with
    "the config is for 'Acme Café' but the endpoint serves 'Acme Café'"."""
    sandbox = sandbox_factory(portal_name="Acme Cafe\u0301 ")
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\nportal: Acme Caf\u00e9\ngroups:\n  - {externalId: staff, name: Staff}\n",
        encoding="utf-8",
    )
    planned = _run(sandbox.url, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "portal guard" not in planned.output
    applied = _run(sandbox.url, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    _no_changes(sandbox.url, config)
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text(encoding="utf-8").replace("Acme", "Acne"), encoding="utf-8")
    refused = _run(sandbox.url, "plan", str(other))
    assert refused.exit_code == 3, refused.output
    assert "portal guard: the config is for 'Acne Café'" in refused.stderr, refused.stderr


def _many_users(count: int, changed: bool) -> str:
    """``count`` users in one group; ``changed``: user 5's title changed and
    user 7 gone (users pruned)."""
    lines = ["konvsync: 1", "policy: {prune: [users], max_delete_percent: 100}", "groups:"]
    lines += ["  - {externalId: staff, name: Staff}", "users:"]
    for i in range(count):
        if changed and i == 7:
            continue
        title = "Lead" if changed and i == 5 else "Member"
        lines.append(
            f"  - {{email: u{i:03}@example.test, firstName: F{i}, lastName: L{i},"
            f" title: {title}, groups: [staff]}}"
        )
    return "\n".join(lines) + "\n"


def test_look_ups_give_only_the_argument_they_mean(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Before each step apply asks for the objects it changes, by ID (on a
    portal of more users than a page holds, one look-up by ID instead of
    reading every page). A portal whose look-up filters by every argument
    given (``email: null`` asks for a user without an e-mail) found none of
    them: apply refused the plan as stale ("it was deleted since the plan",
    exit 3). The look-up gives the ID alone: apply converges."""
    seed = tmp_path / "seed.yaml"
    seed.write_text(_many_users(120, changed=False), encoding="utf-8")
    config = tmp_path / "konvsync.yaml"
    config.write_text(_many_users(120, changed=True), encoding="utf-8")
    sandbox = sandbox_factory(page_cap=100)
    seed_store(sandbox.store, str(seed))
    case = LookupsByEveryArgument()
    with running_hostile_server(sandbox.url, case) as portal:
        applied = _run(portal.url, "apply", str(config), "--auto-approve")
        assert case.asked, "no look-up was made"
        assert applied.exit_code == 0, applied.output
        assert "1 changed, 1 destroyed" in applied.stdout, applied.stdout
        _no_changes(portal.url, config)
    assert case.missed == 0


def test_export_target_asks_by_the_key_alone(tmp_path: Path) -> None:
    """``export --target`` asks for the object by its key alone: with the ID
    given as null too, a portal that looks up by every argument it is given
    had no such user ("the portal has no user", exit 1)."""
    case = LookupsByEveryArgument()
    with hostile_portal(tmp_path, case) as portal:
        target = "users/user03@example.test"
        result = run_konvsync(
            ["--endpoint", portal.endpoint(), "export", "--target", target], tmp_path
        )
    assert case.asked, "no look-up was made"
    assert result.exit_code == 0, result.describe()
    assert "email: user03@example.test" in result.stdout, result.describe()


def test_an_object_a_look_up_answers_not_found_is_absent(tmp_path: Path) -> None:
    """``drift --write`` asks the portal for each object it would remove
    from the YAML. A portal that answers the user it does not have with null
    and a NOT_FOUND error at its path stopped it ("reading users: not found
    (NOT_FOUND)", exit 1, nothing written): the user is absent, as a null
    without an error says, and is removed; ``export --target`` of a user the
    portal does not have says so as it does on any portal."""
    config = tmp_path / "konvsync.yaml"
    gone = "  - {email: gone@example.test, firstName: Gone, lastName: User}\n"
    config.write_text(
        portal_yaml(changed=False).replace("users:\n", "users:\n" + gone), encoding="utf-8"
    )
    case = LookupsAnswerNotFound()
    with hostile_portal(tmp_path, case) as portal:
        written = run_konvsync(
            ["--endpoint", portal.endpoint(), "drift", str(config), "--write"], tmp_path
        )
        target = run_konvsync(
            ["--endpoint", portal.endpoint(), "export", "--target", "users/gone@example.test"],
            tmp_path,
        )
    assert case.not_found, "no look-up was answered NOT_FOUND"
    assert written.exit_code == 2, written.describe()
    assert "gone@example.test" not in config.read_text(encoding="utf-8")
    assert target.exit_code == 1, target.describe()
    assert "the portal has no user 'gone@example.test'" in target.stderr, target.describe()


def test_mutations_refused_one_by_one_over_the_rate_are_sent_again_until_done(
    tmp_path: Path,
) -> None:
    """A portal that executes 20 mutations a second and refuses the rest of
    each batch alias by alias with RATE_LIMITED (nothing of them ran): the
    refused ones were sent once more, then failed ("too many mutations
    (RATE_LIMITED)", 22 of 60 creates, exit 1). They are sent again after
    growing waits, as often as a request over the rate is, and the apply
    goes through."""
    new_users = [
        f"{{email: new{i:02}@example.test, firstName: New, lastName: User{i}}}" for i in range(60)
    ]
    config = write_desired(tmp_path, more_users=new_users)
    case = MutationsPerSecond(20)
    with hostile_portal(tmp_path, case) as portal:
        args = [*apply_args(portal.endpoint(), config), "--allow-welcome-emails", "60"]
        result = run_konvsync(args, tmp_path)
        planned = run_konvsync(
            ["--endpoint", portal.endpoint(), "plan", str(config), "--detailed-exitcode"], tmp_path
        )
    assert case.refused, "no mutation was refused"
    assert result.exit_code == 0, result.describe()
    assert "60 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert planned.exit_code == 0, planned.describe()


class MutationsPerSecondTimed(MutationsPerSecond):
    """MutationsPerSecond, noting when each mutation request came."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.times: list[float] = []

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        if call.is_mutation:
            self.times.append(time.monotonic())
        return super().request(call, body)


def test_mutations_refused_over_the_rate_are_not_sent_again_after_ctrl_c(
    tmp_path: Path,
) -> None:
    """Ctrl-C during an apply: no new work is sent. Mutations the portal
    refused with RATE_LIMITED did not run; they were sent again after the
    wait all the same (up to --max-retries times, within the grace the
    requests in flight get). They are not sent: skipped, "not sent:
    interrupted", and a later apply makes them."""
    new_users = [
        f"{{email: new{i:02}@example.test, firstName: New, lastName: User{i}}}" for i in range(3)
    ]
    config = write_desired(tmp_path, more_users=new_users)
    case = MutationsPerSecondTimed(1)
    with hostile_portal(tmp_path, case) as portal:
        args = [*apply_args(portal.endpoint(), config), "--allow-welcome-emails", "3"]
        running = start_konvsync([*args, "--parallelism", "1"], tmp_path)
        deadline = time.monotonic() + 60
        while not case.refused and time.monotonic() < deadline:
            time.sleep(0.02)
        assert case.refused, "no mutation was refused"
        running.process.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        result = running.finish()
        late = [t - stopped for t in case.times if t > stopped + 0.5]
        again = run_konvsync(args, tmp_path)
    assert result.exit_code == 1, result.describe()
    assert not late, f"mutations sent {late} s after Ctrl-C\n{result.describe()}"
    assert "not sent: interrupted" in result.stdout, result.describe()
    assert again.exit_code == 0, again.describe()


class CreatesAnsweredInOwnForm(Case):
    """A portal that answers a user's create with the e-mail address in upper
    case (a form of the same address), ``new-b``'s title in upper case (another
    value), and ``new-c``'s groups as objects without an externalId (a group
    konvsync cannot name)."""

    name = "creates-answered-in-own-form"

    def answer(self, call: Call, answer: Json) -> Json:
        data = answer.get("data") if call.operation.startswith("CreateUser") else None
        for node in (data or {}).values():
            if not isinstance(node, dict) or not isinstance(node.get("email"), str):
                continue
            email = node["email"]
            node["email"] = email.upper()
            if email.startswith("new-b"):
                node["title"] = node["title"].upper()
            if email.startswith("new-c"):
                node["groups"] = [{**group, "externalId": None} for group in node["groups"]]
        return answer


def test_a_create_answered_in_another_form_is_taken_and_another_value_is_not(
    tmp_path: Path,
) -> None:
    """Each create's answer is compared with the values sent as a later plan
    compares them: an e-mail address in another case is the same; a title in
    another case, or a group the answer cannot name, is not what was sent."""
    more = [
        f"{{email: new-{x}@example.test, firstName: N, lastName: {x}, title: New,"
        " groups: [team-1]}"
        for x in "abc"
    ]
    config = write_desired(tmp_path, more_users=more)
    with hostile_portal(tmp_path, CreatesAnsweredInOwnForm()) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
    summary = after_plan(result)
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output, result.describe()
    kept = [line.strip() for line in summary.splitlines() if "the portal accepted" in line]
    assert len(kept) == 2, summary
    assert 'the portal accepted CreateUser but kept title = "NEW" (wanted "New")' in kept[0]
    assert "the portal accepted CreateUser but kept groups = [" in kept[1], kept[1]
    assert '(wanted ["team-1"])' in kept[1], kept[1]
    assert "new-a@example.test" not in "\n".join(kept), summary
