"""Safety rails through the CLI against a real sandbox: welcome e-mails
(policy.max_welcome_emails, --allow-welcome-emails N), mass updates
(policy.max_update_percent, --allow-mass-update), and custom field values
checked against the portal's account fields before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import CliRun, SandboxFactory, invoke
from tests.published_schemas import validated

ConfigWriter = Callable[..., Path]


def run(sandbox: RunningSandbox, *args: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, *args])


def users_config(count: int, policy: str = "") -> str:
    lines = ["konvsync: 1", policy, "users:"]
    lines += [f"  - {{email: u{i}@x.example, firstName: U, lastName: '{i}'}}" for i in range(count)]
    return "\n".join(lines) + "\n"


def test_sixty_welcome_emails_need_the_flag(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(users_config(60))
    refused = run(sandbox, "apply", str(config), "--auto-approve")
    assert refused.exit_code == 3
    assert (
        "refusing to send 60 welcome e-mails: more than policy.max_welcome_emails 50; nothing "
        "was changed. Re-run with --allow-welcome-emails 60" in refused.stderr
    )
    assert sandbox.store.count("users") == 0
    # The refused plan is still shown in full, after the reason.
    assert "Plan: 60 to add, 0 to change, 0 to destroy." in refused.stdout
    plan = run(sandbox, "plan", str(config), "--allow-welcome-emails", "59", "--format", "json")
    assert plan.exit_code == 3 and "60 welcome e-mails" in plan.stderr
    assert plan.stderr.startswith("Error: refusing to send 60 welcome e-mails")
    # The refused plan as JSON fits the published schema (once its checks lacked this one).
    data = validated(plan.stdout, "plan")
    assert data["welcome_emails"] == 60
    assert data["refused"]["check"] == "welcome_emails"
    assert data["refused"]["numbers"] == {"welcome_emails": 60, "max_welcome_emails": 50}
    applied = run(sandbox, "apply", str(config), "--auto-approve", "--allow-welcome-emails", "60")
    assert applied.exit_code == 0, applied.output
    assert "60 new user(s) will receive a welcome e-mail" in applied.stdout
    assert len(sandbox.store.welcome_emails()) == 60


def test_welcome_email_limit_from_the_policy(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    lower = write_config(users_config(3, "policy: {max_welcome_emails: 2}"))
    assert run(sandbox, "plan", str(lower)).exit_code == 3
    higher = write_config(users_config(60, "policy: {max_welcome_emails: 100}"))
    assert run(sandbox, "plan", str(higher)).exit_code == 0
    silent = write_config(users_config(60, "policy: {send_welcome_email: false}"))
    result = run(sandbox, "plan", str(silent))
    assert result.exit_code == 0 and "welcome" not in result.output


def test_max_update_percent(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    for i in range(10):
        sandbox.store.create("groups", {"externalId": f"g{i}", "name": f"Group {i}"})
    groups = [f"  - {{externalId: g{i}, name: Team {i}}}" for i in range(3)]
    unset = write_config("\n".join(["konvsync: 1", "groups:", *groups]) + "\n")
    assert run(sandbox, "plan", str(unset)).exit_code == 0  # off by default
    config = write_config(
        "\n".join(["konvsync: 1", "policy: {max_update_percent: 20}", "groups:", *groups]) + "\n"
    )
    refused = run(sandbox, "plan", str(config))
    assert refused.exit_code == 3
    assert "refusing to update 3 of 10 groups (30%): more than max_update_percent 20%" in (
        refused.stderr
    )
    as_json = run(sandbox, "plan", str(config), "--format", "json")
    assert as_json.exit_code == 3
    data = validated(as_json.stdout, "plan")
    assert data["refused"]["check"] == "mass_update"
    assert data["refused"]["numbers"] == {
        "max_update_percent": 20,
        "kinds": {"groups": {"update": 3, "existing": 10, "percent": 30}},
    }
    allowed = run(sandbox, "apply", str(config), "--auto-approve", "--allow-mass-update")
    assert allowed.exit_code == 0, allowed.output
    assert "3 changed" in allowed.stdout


def test_custom_fields_checked_against_the_portal(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    store = sandbox.store
    store.create(
        "accountFields",
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
    )
    store.create("accountFields", {"key": "vat", "label": "VAT", "type": "TEXT", "required": True})
    store.create(
        "accounts",
        {"externalId": "old", "name": "Old", "customFields": [{"key": "vat", "value": "1"}]},
    )
    config = write_config("""\
        konvsync: 1
        accounts:
          - {externalId: old, name: Old}
          - {externalId: acme, name: ACME, customFields: {tier: bronze, vat: V1, nope: x}}
          - {externalId: beta, name: Beta, customFields: {tier: gold}}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1
    assert (
        f"{config}:4:57: account 'acme': custom field 'tier' value 'bronze' is not one of "
        "gold, silver (as the portal defines it)" in result.stderr
    )
    assert (
        f"{config}:4:80: account 'acme': custom field 'nope' is defined neither in "
        "accountFields nor in the portal" in result.stderr
    )
    assert (
        f"{config}:5:5: account 'beta': custom field 'vat' is required, and customFields "
        "(the account's whole set) gives it no value" in result.stderr
    )
    assert "'old'" not in result.stderr  # exists, customFields left alone
    assert store.count("accounts") == 1


def test_a_field_the_portal_requires_stays_required_where_the_config_omits_required(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """An account field the config lists without ``required`` leaves the
    portal's ``required: true`` as it is (an omitted field is "don't care"),
    so accounts without a value are config problems before anything is
    sent, not BAD_USER_INPUT after the field's own update was written."""
    store = sandbox.store
    store.create("accountFields", {"key": "vat", "label": "VAT", "type": "TEXT", "required": True})
    store.create(
        "accounts",
        {"externalId": "old", "name": "Old", "customFields": [{"key": "vat", "value": "1"}]},
    )
    config = write_config("""\
        konvsync: 1
        accountFields:
          - {key: vat, label: VAT number, type: TEXT}
        accounts:
          - {externalId: old, name: Old, customFields: {}}
          - {externalId: acme, name: ACME}
        """)
    result = run(sandbox, "apply", str(config), "--auto-approve")
    assert result.exit_code == 1, result.output
    assert (
        f"{config}:5:5: account 'old': custom field 'vat' is required, and customFields "
        "(the account's whole set) gives it no value" in result.stderr
    )
    assert (
        f"{config}:6:5: account 'acme': custom field 'vat' is required, and the account "
        "is created without customFields" in result.stderr
    )
    field = store.get("accountFields", key="vat")
    assert field is not None and field["label"] == "VAT", "the field was updated anyway"
    assert store.count("accounts") == 1


def test_mass_delete_percentages_are_rounded_and_never_hide_the_excess(
    sandbox: RunningSandbox, sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """20 of 30 is 66.7 % (it read 66.6 %); 6 of 11 over a limit of 54.5 %
    is 54.55 %, not a 54.5 % that would not look over it."""
    for i in range(30):
        sandbox.store.create("groups", {"externalId": f"g{i:02}", "name": f"Group {i}"})
    keep = [f"  - {{externalId: g{i:02}, name: Group {i}}}" for i in range(10)]
    config = write_config(
        "\n".join(["konvsync: 1", "policy: {prune: [groups]}", "groups:", *keep]) + "\n"
    )
    refused = run(sandbox, "plan", str(config), "--format", "json")
    assert refused.exit_code == 3
    assert "refusing to delete 20 of 30 groups (66.7%): more than max_delete_percent 25%" in (
        refused.stderr
    )
    plan = validated(refused.stdout, "plan")
    assert plan["refused"]["numbers"]["kinds"]["groups"]["percent"] == 66.7
    eleven = sandbox_factory()
    for i in range(11):
        eleven.store.create("groups", {"externalId": f"g{i:02}", "name": f"Group {i}"})
    policy = "policy: {prune: [groups], max_delete_percent: 54.5}"
    limited = write_config("\n".join(["konvsync: 1", policy, "groups:", *keep[:5]]) + "\n")
    over = run(eleven, "plan", str(limited))
    assert over.exit_code == 3
    assert "refusing to delete 6 of 11 groups (54.55%): more than max_delete_percent 54.5%" in (
        over.stderr
    )


def test_a_select_field_listed_without_options_is_checked_against_the_portals_options(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A SELECT field the config lists without ``options`` keeps the
    portal's options (an omitted field is left as it is): its values are
    checked against those at plan time, not refused offline as "one of its
    options (it has none)"."""
    store = sandbox.store
    store.create(
        "accountFields",
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
    )
    config = write_config("""\
        konvsync: 1
        accountFields:
          - {key: tier, label: Partner tier, type: SELECT}
        accounts:
          - {externalId: acme, name: ACME, customFields: {tier: gold}}
        """)
    assert invoke(["validate", str(config)]).exit_code == 0
    applied = run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Resources: 1 added, 1 changed, 0 destroyed." in applied.stdout
    field = store.get("accountFields", key="tier")
    assert field is not None and field["options"] == ["gold", "silver"]
    config.write_text(config.read_text().replace("tier: gold", "tier: bronze"))
    refused = run(sandbox, "plan", str(config))
    assert refused.exit_code == 1
    assert (
        f"{config}:5:57: account 'acme': custom field 'tier' value 'bronze' is not one of "
        "gold, silver (as the portal defines it)" in refused.stderr
    )
    created = config.parent / "new.yaml"
    created.write_text(
        config.read_text().replace("key: tier", "key: level").replace("{tier:", "{level:")
    )
    none = run(sandbox, "plan", str(created))
    assert none.exit_code == 1
    assert "custom field 'level' value 'bronze' is not one of" in none.stderr, none.output


def test_custom_values_fit_their_options_as_konvsync_sends_them(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """konvsync sends options and values in NFC without surrounding
    whitespace, so a value written decomposed or padded fits the option it
    is sent as: validate and plan accept it (offline, and against the
    portal's options), and the apply converges. Found by
    tests/fuzz/test_fuzz_converge.py: drift --write refused to accept a
    portal's value that differed from the option only in Unicode form."""
    config = write_config(
        "konvsync: 1\n"
        "accountFields:\n"
        '  - {key: tier, label: Tier, type: SELECT, options: ["Cafe\u0301", gold]}\n'
        "  - {key: since, label: Since, type: DATE}\n"
        "accounts:\n"
        "  - {externalId: a, name: A,\n"
        '     customFields: {tier: "Caf\u00e9", since: " 2024-01-01"}}\n'
        '  - {externalId: b, name: B, customFields: {tier: " gold "}}\n'
    )
    checked = invoke(["validate", str(config)])
    assert checked.exit_code == 0, checked.output
    applied = run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Resources: 4 added, 0 changed, 0 destroyed." in applied.stdout
    # Against the portal's options (the config leaves them out).
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(', options: ["Cafe\u0301", gold]', ""), encoding="utf-8")
    planned = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    assert "No changes." in planned.stdout


def test_an_account_the_portal_holds_without_a_required_value_plans_no_changes(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A field made required after an account was created leaves that
    account without a value (the portal checks values when they are
    written). A config (or an export) that gives the account the values it
    has plans "No changes."; one that writes its customFields still must give
    the required value. Found by tests/fuzz/test_fuzz_converge.py: the export
    of such a portal did not plan."""
    store = sandbox.store
    store.create("accountFields", {"key": "note", "label": "Note", "type": "TEXT"})
    store.create("accounts", {"externalId": "old", "name": "Old"})
    store.create("accountFields", {"key": "vat", "label": "VAT", "type": "TEXT", "required": True})
    config = write_config("""\
        konvsync: 1
        accounts:
          - {externalId: old, name: Old, customFields: {}}
        """)
    planned = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    assert "No changes." in planned.stdout
    exported = tmp_path / "exported"
    assert run(sandbox, "export", "--out", str(exported)).exit_code == 0
    again = run(sandbox, "plan", str(exported), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    config.write_text(config.read_text().replace("{}}", "{note: x}}"))
    refused = run(sandbox, "plan", str(config))
    assert refused.exit_code == 1
    assert (
        f"{config}:3:5: account 'old': custom field 'vat' is required, and customFields "
        "(the account's whole set) gives it no value" in refused.stderr
    ), refused.stderr


def test_a_value_under_an_account_field_the_plan_prunes_is_a_config_problem(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """An account keeps a value under a field the same plan deletes
    (accountFields pruned, the field not in the config): the value cannot
    outlive its field, so it is a config problem at its place, not a plan
    that applies cleanly and leaves a config the next plan refuses."""
    store = sandbox.store
    store.create("accountFields", {"key": "legacy", "label": "Legacy", "type": "TEXT"})
    store.create(
        "accounts",
        {"externalId": "acme", "name": "ACME", "customFields": [{"key": "legacy", "value": "x"}]},
    )
    config = write_config("""\
        konvsync: 1
        policy: {prune: [accountFields]}
        accountFields:
          - {key: num, label: Number, type: TEXT}
        accounts:
          - {externalId: acme, name: ACME, customFields: {num: "1", legacy: x}}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    assert (
        f"{config}:6:69: account 'acme': custom field 'legacy' is an account field this plan "
        "deletes (policy.prune, and the configuration does not list it): list it, protect it "
        "(policy.protect) or remove the value" in result.stderr
    ), result.stderr
    protected = write_config(
        config.read_text().replace(
            "prune: [accountFields]", "prune: [accountFields], protect: {accountFields: [legacy]}"
        ),
        "protected.yaml",
    )
    kept = run(sandbox, "plan", str(protected))
    assert kept.exit_code == 0, kept.output
    assert "Plan: 1 to add, 1 to change, 0 to destroy." in kept.stdout


@pytest.mark.parametrize(
    ("verify", "reading"),
    [("updates", None), ("full", None), ("full", "values-stay"), ("full", "every-custom-field")],
)
def test_a_required_field_the_plan_prunes_goes_with_its_values_in_one_apply(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, verify: str, reading: str | None
) -> None:
    """A field the portal requires and the plan deletes, its value dropped
    from the accounts' sets: accounts are updated before account fields are
    deleted (deletes come last), so their updates keep the portal's value
    under it (the field still stands, required) and it goes with the field.
    Once no configuration could delete it: dropping the value was "required",
    keeping it "a value under a field the plan deletes". On a portal that
    keeps values under a deleted field's key (``values-stay``), the same
    apply clears it right after the delete (one more change)."""
    sandbox = sandbox_factory(readings=readings.named([reading] if reading else []))
    store = sandbox.store
    store.create(
        "accountFields", {"key": "legacy", "label": "Legacy", "type": "TEXT", "required": True}
    )
    store.create(
        "accounts",
        {"externalId": "acme", "name": "ACME", "customFields": [{"key": "legacy", "value": "x"}]},
    )
    config = write_config("""\
        konvsync: 1
        policy: {prune: [accountFields]}
        accountFields:
          - {key: num, label: Number, type: TEXT}
        accounts:
          - {externalId: acme, name: ACME, customFields: {num: '1'}}
        """)
    applied = run(sandbox, "apply", str(config), "--auto-approve", "--verify", verify)
    assert applied.exit_code == 0, applied.output
    changed = 2 if reading == "values-stay" else 1
    assert f"Resources: 1 added, {changed} changed, 1 destroyed." in applied.stdout, applied.stdout
    assert "customFields.num" in applied.stdout and "customFields.legacy" not in applied.stdout
    assert store.get("accountFields", key="legacy") is None
    account = store.get("accounts", key="acme")
    assert account is not None
    values = [e["key"] for e in account["customFields"] if e.get("value")]
    assert values == ["num"]
    again = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_a_field_whose_required_the_config_ignores_is_as_required_as_the_portal_holds_it(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """``ignore_changes: {accountFields: [required]}`` leaves the portal's
    ``required: true`` as it is, whatever the config writes: accounts are
    checked against that, before anything is sent."""
    store = sandbox.store
    store.create("accountFields", {"key": "vat", "label": "VAT", "type": "TEXT", "required": True})
    config = write_config("""\
        konvsync: 1
        policy: {ignore_changes: {accountFields: [required]}}
        accountFields:
          - {key: vat, label: VAT, type: TEXT, required: false}
        accounts:
          - {externalId: acme, name: ACME}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    assert (
        f"{config}:6:5: account 'acme': custom field 'vat' is required, and the account "
        "is created without customFields" in result.stderr
    )


def test_values_of_a_field_whose_options_the_config_ignores_fit_the_portals_options(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """With ``ignore_changes: {accountFields: [options]}`` the portal's
    options stay, so a value among them is valid and one outside them is a
    config problem, whatever options the config writes."""
    sandbox.store.create(
        "accountFields",
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
    )
    config = write_config("""\
        konvsync: 1
        policy: {ignore_changes: {accountFields: [options]}}
        accountFields:
          - {key: tier, label: Tier, type: SELECT, options: [gold]}
        accounts:
          - {externalId: acme, name: ACME, customFields: {tier: silver}}
          - {externalId: beta, name: Beta, customFields: {tier: bronze}}
        """)
    assert invoke(["validate", str(config)]).exit_code == 0
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    assert "'acme'" not in result.stderr, result.stderr
    assert (
        f"{config}:7:57: account 'beta': custom field 'tier' value 'bronze' is not one of "
        "gold, silver (as the portal defines it)" in result.stderr
    ), result.stderr


def test_a_required_field_is_checked_on_the_values_as_sent(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A value that is blank once trimmed is sent as null (no value), so it
    leaves a required field without one: the plan refused ``{vat: ""}``
    but sent ``{vat: "  "}``, and a portal that requires the field refuses
    the account halfway through the apply. A key YAML read as a number
    (``1:``) names the field ``"1"``: its value was not found, and the
    plan refused an account that gives it one."""
    store = sandbox.store
    store.create("accountFields", {"key": "vat", "label": "VAT", "type": "TEXT", "required": True})
    store.create("accountFields", {"key": "1", "label": "One", "type": "TEXT", "required": True})
    config = write_config("""\
        konvsync: 1
        accounts:
          - {externalId: blank, name: Blank, customFields: {vat: "  ", 1: x}}
          - {externalId: nbsp, name: Nbsp, customFields: {vat: "\\u00a0", 1: x}}
          - {externalId: given, name: Given, customFields: {vat: V1, 1: x}}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    for line, key in ((3, "blank"), (4, "nbsp")):
        assert (
            f"{config}:{line}:5: account '{key}': custom field 'vat' is required, and "
            "customFields (the account's whole set) gives it no value" in result.stderr
        ), result.stderr
    assert "'given'" not in result.stderr
    assert "custom field '1'" not in result.stderr
    assert store.count("accounts") == 0


def test_a_yaml_boolean_for_a_text_field_the_portal_defines_is_named_as_written(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """``True`` for a custom field the portal defines: validate cannot know
    its type and takes it (a BOOLEAN field takes the boolean); the plan
    knows it, and a TEXT field would get "true" in place of what was
    written, so the plan names it as written, as validate does for the
    fields the config defines. A BOOLEAN field takes it."""
    store = sandbox.store
    store.create("accountFields", {"key": "code", "label": "Code", "type": "TEXT"})
    store.create("accountFields", {"key": "active", "label": "Active", "type": "BOOLEAN"})
    config = write_config("""\
        konvsync: 1
        accounts:
          - {externalId: acme, name: ACME, customFields: {code: True, active: TRUE}}
        """)
    result = run(sandbox, "plan", str(config))
    assert result.exit_code == 1, result.output
    assert (
        f"{config}:3:57: account 'acme': custom field 'code' is written True, which YAML reads "
        "as true (sent as 'true'): quote it ('True') to send the text as written, or write true"
        in result.stderr
    ), result.stderr
    assert "'active'" not in result.stderr
