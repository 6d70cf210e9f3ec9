"""What a real portal may hold does not stop the tool (``plan.twins``): two
locations with one name in an account, two invite links with one title,
stop a plan only where konvsync would have to tell them apart, and then say
which objects; export leaves them alone. Through the CLI against a sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import CliRun, invoke

ConfigWriter = Callable[..., Path]

BASE = """\
    konvsync: 1
    accounts:
      - externalId: acme
        name: ACME
        locations: [{name: HQ}]
"""


def _portal(sandbox: RunningSandbox) -> dict[str, str]:
    """Account 'acme' with HQ; account 'other' with two locations named
    'Dup' (the contract keeps location names unique nowhere) and one 'Solo'."""
    store = sandbox.store
    acme = store.create("accounts", {"externalId": "acme", "name": "ACME"})
    store.create("locations", {"name": "HQ"}, parent_id=acme["id"])
    other = store.create("accounts", {"externalId": "other", "name": "Other"})
    ids = {
        "dup1": store.create("locations", {"name": "Dup"}, parent_id=other["id"])["id"],
        "dup2": store.create("locations", {"name": "Dup", "phone": "2"}, parent_id=other["id"])[
            "id"
        ],
    }
    store.create("locations", {"name": "Solo"}, parent_id=other["id"])
    return ids


def _plan(sandbox: RunningSandbox, config: Path, *extra: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, "plan", str(config), *extra])


def test_twins_in_an_account_the_config_does_not_manage_stop_nothing(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    _portal(sandbox)
    config = write_config(BASE.replace("[{name: HQ}]", "[{name: HQ}, {name: Lab}]"))
    planned = _plan(sandbox, config)
    assert planned.exit_code == 0, planned.output
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in planned.stdout
    applied = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert _plan(sandbox, config, "--detailed-exitcode").exit_code == 0
    drift = invoke(["--endpoint", sandbox.url, "drift", str(config)])
    assert drift.exit_code == 0, drift.output


def test_an_account_configured_without_its_locations_is_managed(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    _portal(sandbox)
    config = write_config(BASE + "      - {externalId: other, name: Other Corp}\n")
    planned = _plan(sandbox, config)
    assert planned.exit_code == 0, planned.output
    assert '~ name = "Other" -> "Other Corp"' in planned.stdout


@pytest.mark.parametrize(
    ("extra", "policy", "reason"),
    [
        (
            "      - {externalId: other, name: Other, locations: [{name: Dup}, {name: Solo}]}\n",
            "",
            "the configuration lists the locations of account 'other'",
        ),
        ("", "    policy: {prune: [accounts]}\n", "the plan deletes account 'other', and them"),
        (
            "      - {externalId: renamed, renamedFrom: other, name: Other,\n"
            "         locations: [{name: Solo}]}\n",
            "",
            "the configuration lists the locations of account 'renamed'",
        ),
    ],
    ids=["lists-locations", "pruned", "renamed"],
)
def test_twins_stop_the_plan_where_it_must_address_them(
    extra: str,
    policy: str,
    reason: str,
    sandbox: RunningSandbox,
    write_config: ConfigWriter,
) -> None:
    ids = _portal(sandbox)
    config = write_config(BASE.replace("konvsync: 1\n", "konvsync: 1\n" + policy) + extra)
    planned = _plan(sandbox, config)
    assert planned.exit_code == 1, planned.output
    error = planned.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: "), planned.stderr
    assert f"two locations named 'Dup' (IDs {ids['dup1']}, {ids['dup2']})" in error
    assert reason in error
    assert "konvsync cannot tell them apart; rename or delete all but one" in error
    assert "Traceback" not in planned.output


def test_export_leaves_an_accounts_twin_locations_alone(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    ids = _portal(sandbox)
    out = tmp_path / "exported"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert (
        f"account 'other' holds locations konvsync cannot tell apart ('Dup' more than once; "
        f"IDs {ids['dup1']}, {ids['dup2']})"
    ) in exported.stderr
    accounts = yaml.safe_load((out / "accounts.yaml").read_text(encoding="utf-8"))["accounts"]
    by_key = {account["externalId"]: account for account in accounts}
    assert by_key["acme"]["locations"] == [{"name": "HQ"}]
    assert "locations" not in by_key["other"]  # not listed: left alone, not pruned
    planned = _plan(sandbox, out, "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output


def test_invite_links_with_one_title_stop_only_the_plan_that_names_them(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    store = sandbox.store
    first = store.create("inviteLinks", {"title": "Twin", "access": "CODE", "code": "secret-1"})
    second = store.create("inviteLinks", {"title": "Twin", "access": "OPEN"})
    # Inactive: the portal's open Twin would make an active second one a
    # CONFLICT (a plan error of its own, tests/content/test_invite_links.py).
    config = write_config(
        "konvsync: 1\ninviteLinks: [{title: Solo, access: OPEN, active: false}]\n"
    )
    planned = _plan(sandbox, config)
    assert planned.exit_code == 0, planned.output
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in planned.stdout
    pruned = write_config(
        "konvsync: 1\npolicy: {prune: [inviteLinks]}\ninviteLinks: [{title: Solo, access: OPEN}]\n",
        name="pruned.yaml",
    )
    refused = _plan(sandbox, pruned)
    assert refused.exit_code == 1
    assert (
        f"the portal has two inviteLinks with the title 'Twin' (IDs {first['id']}, "
        f"{second['id']}), and policy.prune would delete them"
    ) in refused.stderr
    out = tmp_path / "exported"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "the portal has 2 inviteLinks with the title 'Twin'" in exported.stderr
    text = (out / "inviteLinks.yaml").read_text(encoding="utf-8")
    assert "# 2 inviteLinks have the title 'Twin'; konvsync cannot tell them apart:" in text
    assert "secret-1" not in text
    assert yaml.safe_load(text) == {"inviteLinks": []}
