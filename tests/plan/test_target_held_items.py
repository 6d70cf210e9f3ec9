"""``--target`` on an object whose values are items of another object's
list (an account's SELECT value, an option of the account field): the
update that adds the option comes along, as a create the target refers to
does (``plan.planner.select_targets``)."""

from __future__ import annotations

from pathlib import Path

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke

TIERS = """\
konvsync: 1
accountFields:
  - {{key: tier, label: Tier, type: SELECT, options: {options}}}
accounts:
  - {{externalId: acme, name: Acme, customFields: {{tier: {acme}}}}}
  - {{externalId: beta, name: Beta, customFields: {{tier: bronze}}}}
"""


def test_a_target_brings_the_update_adding_the_option_its_value_needs(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """An account moved to an option the same config adds: ``--target
    accounts/acme`` brings the field's update that adds it. Left out, the
    account's update failed at the portal (the value is no option yet) on
    every targeted run."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(TIERS.format(options="[bronze, silver]", acme="bronze"), encoding="utf-8")
    endpoint = ["--endpoint", sandbox.url]
    assert invoke([*endpoint, "apply", str(config), "--auto-approve"]).exit_code == 0
    config.write_text(TIERS.format(options="[bronze, gold]", acme="gold"), encoding="utf-8")
    args = ["apply", str(config), "--auto-approve", "--target", "accounts/acme"]
    applied = invoke([*endpoint, *args])
    assert applied.exit_code == 0, applied.output
    assert "Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout, applied.stdout
    account = sandbox.store.get("accounts", key="acme")
    assert account is not None and account["customFields"] == [{"key": "tier", "value": "gold"}]
    planned = invoke([*endpoint, "plan", str(config), "--detailed-exitcode"])
    assert planned.exit_code == 0, planned.output
