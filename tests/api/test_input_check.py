"""The input side of the schema check: doctor and apply against a portal
whose input types differ from what konvsync sends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox.server import RunningSandbox
from konvsync.support.resources import konvert_sdl
from tests.conftest import SandboxFactory, invoke

ConfigWriter = Callable[..., Path]
RENAMED_KEY = konvert_sdl().replace(
    "input GroupInput {\n  externalId: String", "input GroupInput {\n  customId: String", 1
)
RENAMED_POSTCODE = konvert_sdl().replace(
    "input AddressInput {\n  street: String\n  city: String\n  region: String\n  postalCode:",
    "input AddressInput {\n  street: String\n  city: String\n  region: String\n  postcode:",
    1,
)


def taken_whole(sandbox: RunningSandbox, config: Path) -> None:
    """The portal takes the apply of ``config`` (exit 0), the plan after it
    has nothing to do, and ``doctor`` finds nothing wrong."""
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    again = invoke(["--endpoint", sandbox.url, "plan", str(config), "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    doctor = invoke(["--endpoint", sandbox.url, "doctor"])
    assert doctor.exit_code == 0, doctor.output


def test_doctor_checks_every_input_field_with_a_suggestion(
    sandbox_factory: SandboxFactory,
) -> None:
    assert konvert_sdl() not in (RENAMED_KEY, RENAMED_POSTCODE)
    sandbox = sandbox_factory(sdl=RENAMED_KEY)
    result = invoke(["--endpoint", sandbox.url, "doctor"])
    assert result.exit_code == 1
    # Every document is still valid: only the input check finds it.
    assert "ok   schema: all" in result.stdout
    assert (
        "FAIL inputs: CreateGroup: GroupInput has no field externalId (konvsync sends "
        "groups.externalId in it); it has customId, which konvsync does not send"
    ) in result.stdout
    nested = invoke(["--endpoint", sandbox_factory(sdl=RENAMED_POSTCODE).url, "doctor"])
    assert (
        "FAIL inputs: CreateLocation: AddressInput has no field postalCode (konvsync sends "
        "locations.address.postalCode in it); did you mean postcode?"
    ) in nested.stdout


def test_doctor_passes_the_inputs_of_every_kind(sandbox_factory: SandboxFactory) -> None:
    result = invoke(["--endpoint", sandbox_factory().url, "doctor"])
    assert result.exit_code == 0, result.output
    assert "ok   inputs: every input field konvsync sends (all kinds)" in result.stdout


def test_apply_refuses_before_its_first_write(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    sandbox = sandbox_factory(sdl=RENAMED_KEY)
    config = write_config("""\
        konvsync: 1
        accountFields: [{key: tier, label: Tier, type: TEXT}]
        groups: [{externalId: sales, name: Sales}]
        """)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert "nothing was changed" in result.stderr
    assert "GroupInput has no field externalId" in result.stderr
    assert sandbox.store.count("accountFields") == 0  # the kind that fits was not sent either
    assert sandbox.store.count("groups") == 0


def test_apply_goes_on_with_a_warning_where_introspection_is_refused(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    sandbox = sandbox_factory(introspection=False)
    config = write_config("konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n")
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "Warning: the portal's schema could not be read" in result.stdout
    assert sandbox.store.count("groups") == 1


RICHER = (
    konvert_sdl()
    .replace("input GroupInput {\n", "input GroupInput {\n  color: String\n", 1)
    .replace("type Group {\n", "type Group {\n  color: String\n", 1)
    .replace("type Query {\n", "type Query {\n  announcements: [String!]\n", 1)
)
"""A portal with more than the contract: fields konvsync does not use."""
NULLABLE_NAME = konvert_sdl().replace(
    "type Group {\n  id: ID!\n  externalId: String\n  name: String!",
    "type Group {\n  id: ID!\n  externalId: String\n  name: String",
    1,
)
"""A portal that differs from the contract where apply reads, yet takes its documents."""


def test_apply_takes_a_portal_with_more_than_the_contract_without_the_full_check(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    assert konvert_sdl() not in (RICHER, NULLABLE_NAME)
    config = write_config("konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n")
    richer = sandbox_factory(sdl=RICHER)
    result = invoke(["-vv", "--endpoint", richer.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "the portal's schema agrees with the contract on what this apply sends" in result.stderr
    assert richer.store.count("groups") == 1

    differing = sandbox_factory(sdl=NULLABLE_NAME)
    result = invoke(["-vv", "--endpoint", differing.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "differs from the contract where this apply sends: checking it in full" in result.stderr
    assert differing.store.count("groups") == 1


def test_apply_checks_a_renamed_key_in_full_and_refuses(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    sandbox = sandbox_factory(sdl=RENAMED_KEY)
    config = write_config("konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n")
    result = invoke(["-vv", "--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert "checking it in full" in result.stderr
    assert "GroupInput has no field externalId" in result.stderr


TENANT_WITH_DEFAULT = konvert_sdl().replace(
    "input GroupInput {\n", 'input GroupInput {\n  tenant: String! = "main"\n', 1
)
"""A portal whose GroupInput requires a field konvsync never sends, with a
default (an update leaving it out would set it back to "main")."""


def test_apply_checks_a_required_input_field_with_a_default_in_full_and_refuses(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    assert konvert_sdl() != TENANT_WITH_DEFAULT
    sandbox = sandbox_factory(sdl=TENANT_WITH_DEFAULT)
    config = write_config("konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n")
    result = invoke(["-vv", "--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert "checking it in full" in result.stderr
    assert "GroupInput requires tenant, which konvsync never sends" in result.stderr
    assert sandbox.store.count("groups") == 0


DEPRECATED_KEY = konvert_sdl().replace(
    "input GroupInput {\n  externalId: String",
    'input GroupInput {\n  externalId: String @deprecated(reason: "use key")\n  key: String',
    1,
)
"""A portal that deprecated an input field konvsync sends, and still takes it."""


def test_an_input_field_the_portal_deprecated_but_takes_is_not_a_misfit(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """Introspection lists deprecated input fields only when asked to
    (``includeDeprecated``): asked the 2018 way, ``externalId`` read as
    missing and apply refused (exit 3) a portal that takes it."""
    assert konvert_sdl() != DEPRECATED_KEY
    sandbox = sandbox_factory(sdl=DEPRECATED_KEY)
    config = write_config("konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n")
    result = invoke(["-vv", "--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert sandbox.store.count("groups") == 1
    doctor = invoke(["--endpoint", sandbox.url, "doctor"])
    assert "ok   inputs: every input field konvsync sends" in doctor.stdout, doctor.output


def _edited(old: str, new: str) -> str:
    sdl = konvert_sdl()
    assert old in sdl, old
    return sdl.replace(old, new, 1)


GROUP_NAME = "input GroupInput {\n  externalId: String\n  name: String\n"
CHANGED_INPUTS = {
    "name: Int": (
        _edited(GROUP_NAME, "input GroupInput {\n  externalId: String\n  name: Int\n"),
        "the portal's GroupInput.name is Int, the contract's String (konvsync sends "
        "groups.name in it)",
        "Sales team",
    ),
    "name: String!": (
        _edited(GROUP_NAME, "input GroupInput {\n  externalId: String\n  name: String!\n"),
        "the portal's GroupInput.name is String!, the contract's String",
        "Sales",
    ),
    "permissions: Permission": (
        _edited(
            "  permissions: [Permission!]\n  lmsModuleIds",
            "  permissions: Permission\n  lmsModuleIds",
        ),
        "the portal's GroupInput.permissions is Permission, the contract's [Permission!]",
        "Sales",
    ),
    "MANAGE_NEWS gone": (
        _edited("  MANAGE_NEWS\n", ""),
        "the portal's Permission has no value MANAGE_NEWS (",
        "Sales",
    ),
}
"""Portals whose input types take every field name konvsync sends but not
its values: a type changed, made required (an update leaves it out), an
enum value konvsync may send gone. Each document is still valid. Each with
the message and the group's name in the config (a rename sends the name)."""


@pytest.mark.parametrize("change", sorted(CHANGED_INPUTS))
def test_an_input_field_whose_type_or_values_changed_is_refused_before_the_first_write(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, change: str
) -> None:
    """Before: the full check compared names only; apply wrote the account
    field, then the portal refused the group's update (exit 1, half
    written), and doctor passed."""
    sdl, message, name = CHANGED_INPUTS[change]
    sandbox = sandbox_factory(sdl=sdl)
    sandbox.store.create("groups", {"externalId": "sales", "name": "Sales", "permissions": []})
    config = write_config(
        """\
        konvsync: 1
        accountFields: [{key: tier, label: Tier, type: TEXT}]
        groups: [{externalId: sales, name: NAME, permissions: [MANAGE_NEWS]}]
        """.replace("NAME", name)
    )
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert "nothing was changed" in result.stderr
    assert message in result.stderr
    assert sandbox.store.count("accountFields") == 0
    assert [g["permissions"] for g in sandbox.store.objects("groups")] == [[]]
    doctor = invoke(["--endpoint", sandbox.url, "doctor"])
    assert doctor.exit_code == 1, doctor.output
    assert f"FAIL inputs: CreateGroup: {message}" in doctor.stdout
    assert doctor.stdout.count(message) == 1  # not again for UpdateGroup, which sends the same


SUPERSET = (
    konvert_sdl()
    .replace("  VIEW_ACCOUNT_USERS\n", "  VIEW_ACCOUNT_USERS\n  MANAGE_EVENTS\n", 1)
    .replace("  SELECT\n", "  SELECT\n  MULTI_SELECT\n", 1)
    .replace(
        GROUP_NAME, 'input GroupInput {\n  "The key"\n  externalId: String\n  name: String\n', 1
    )
    .replace(
        "  permissions: [Permission!]\n  lmsModuleIds",
        "  permissions: [Permission]\n  tags: [String!]\n  lmsModuleIds",
        1,
    )
    .replace(
        "updateGroup(id: ID!, input: GroupInput!)",
        "updateGroup(id: ID, input: GroupInput!, dryRun: Boolean = false)",
        1,
    )
    .replace("sendWelcomeEmail: Boolean = true", "sendWelcomeEmail: Boolean! = true", 1)
    .replace(
        "type Group {\n  id: ID!\n  externalId: String\n",
        "type Group {\n  id: ID!\n  externalId: String!\n",
        1,
    )
)
"""A portal with more than the contract where konvsync writes: enum values,
optional input fields and arguments, input types that take more (a list
of nullable permissions), an output narrowed."""


def test_a_portal_with_more_than_the_contract_where_konvsync_writes_takes_every_apply(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    assert all(part in SUPERSET for part in ("MANAGE_EVENTS", "dryRun", "[Permission]"))
    sandbox = sandbox_factory(sdl=SUPERSET)
    config = write_config("""\
        konvsync: 1
        accountFields: [{key: tier, label: Tier, type: SELECT, options: [a]}]
        groups: [{externalId: sales, name: Sales, permissions: [MANAGE_NEWS]}]
        users: [{email: a@example.com, firstName: A, lastName: B, groups: [sales]}]
        """)
    taken_whole(sandbox, config)
    assert sandbox.store.count("groups") == 1


ACCOUNT_BY_ID_ONLY = _edited(
    "account(id: ID, externalId: String): Account", "account(id: ID!, externalId: String): Account"
)
"""A portal whose ``account`` lookup requires the ID konvsync may leave out
(it looks an object up by its key too): every mutation still fits."""


def test_a_lookup_apply_makes_between_writes_is_checked_before_the_first(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """Before each step apply looks up what the step touches; with more
    objects than a page, by ID or key (GetAccount). Before: only the
    mutations were checked, so apply renamed the group, then the portal
    refused GetAccount (exit 1, "Run apply again to finish", which met the
    same refusal)."""
    sandbox = sandbox_factory(sdl=ACCOUNT_BY_ID_ONLY)
    sandbox.store.create("groups", {"externalId": "sales", "name": "Sales", "permissions": []})
    for i in range(101):
        sandbox.store.create("accounts", {"externalId": f"acct-{i}", "name": f"Account {i}"})
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: sales, name: Sales team}]
        accounts: [{externalId: acct-0, name: Acme}]
        """)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert "nothing was changed" in result.stderr
    assert (
        "GetAccount: Variable '$id' of type 'ID' used in position expecting type 'ID!'"
    ) in result.stderr
    assert [g["name"] for g in sandbox.store.objects("groups")] == ["Sales"]


PERMISSIONS_DEFAULT = _edited(
    "  permissions: [Permission!]\n  lmsModuleIds",
    "  permissions: [Permission!] = []\n  lmsModuleIds",
)
"""A portal whose GroupInput gives ``permissions`` a default: GraphQL fills
it into every input that leaves it out, so an update that renames a group
(and leaves its permissions out, as a patch does) clears them."""


def test_an_input_field_with_a_default_an_update_leaves_out_is_refused(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """Before: apply renamed the group and the portal cleared its
    permissions (exit 0, "Apply complete!"); the next plan put them back."""
    sandbox = sandbox_factory(sdl=PERMISSIONS_DEFAULT)
    sandbox.store.create(
        "groups", {"externalId": "sales", "name": "Sales", "permissions": ["MANAGE_NEWS"]}
    )
    config = write_config(
        "konvsync: 1\ngroups: [{externalId: sales, name: Sales team, permissions: [MANAGE_NEWS]}]\n"
    )
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    message = (
        "UpdateGroup: the portal's GroupInput.permissions has a default ([]), which an update "
        "that leaves it out sets (konvsync sends only what changes)"
    )
    assert message in result.stderr
    assert [g["permissions"] for g in sandbox.store.objects("groups")] == [["MANAGE_NEWS"]]
    doctor = invoke(["--endpoint", sandbox.url, "doctor"])
    assert doctor.exit_code == 1, doctor.output
    assert f"FAIL inputs: {message}" in doctor.stdout
    creating = sandbox_factory(sdl=PERMISSIONS_DEFAULT)
    result = invoke(["--endpoint", creating.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output  # a create takes the default as the portal does


RENAMED_NESTED = (
    konvert_sdl()
    .replace("CustomFieldValueInput", "CustomFieldEntryInput")
    .replace("enum Permission {", "enum GroupPermission {", 1)
    .replace("[Permission!]", "[GroupPermission!]")
)
"""A portal that names an input type inside a variable, and an enum,
otherwise: variables are JSON, so what konvsync sends in them is taken the
same (the fields and values are compared, not the names)."""


def test_input_and_enum_types_renamed_inside_a_variable_take_every_apply(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    assert (
        "CustomFieldValueInput" not in RENAMED_NESTED and "enum Permission " not in RENAMED_NESTED
    )
    sandbox = sandbox_factory(sdl=RENAMED_NESTED)
    config = write_config("""\
        konvsync: 1
        accountFields: [{key: tier, label: Tier, type: TEXT}]
        groups: [{externalId: sales, name: Sales, permissions: [MANAGE_NEWS]}]
        accounts: [{externalId: acme, name: Acme, customFields: {tier: gold}}]
        """)
    taken_whole(sandbox, config)


def test_an_enum_value_gone_that_this_apply_does_not_send_refuses_doctor_not_apply(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """A portal that dropped a permission this configuration does not use
    takes its apply; doctor, which checks every value konvsync may send,
    names it. Before: apply refused it too (exit 3), though it sent none."""
    sandbox = sandbox_factory(sdl=_edited("  VIEW_PORTAL_METRIC_REPORTS\n", ""))
    config = write_config(
        "konvsync: 1\ngroups: [{externalId: sales, name: Sales, permissions: [MANAGE_NEWS]}]\n"
    )
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert [g["permissions"] for g in sandbox.store.objects("groups")] == [["MANAGE_NEWS"]]
    doctor = invoke(["--endpoint", sandbox.url, "doctor"])
    assert doctor.exit_code == 1, doctor.output
    assert (
        "FAIL inputs: CreateGroup: the portal's Permission has no value VIEW_PORTAL_METRIC_REPORTS "
        "(konvsync may send it in groups.permissions)"
    ) in doctor.stdout
    wanting = write_config(
        "konvsync: 1\ngroups: [{externalId: sales, name: Sales, "
        "permissions: [MANAGE_NEWS, VIEW_PORTAL_METRIC_REPORTS]}]\n"
    )
    result = invoke(["--endpoint", sandbox.url, "apply", str(wanting), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert (
        "UpdateGroup: the portal's Permission has no value VIEW_PORTAL_METRIC_REPORTS "
        "(this apply sends it in groups.permissions)"
    ) in result.stderr
