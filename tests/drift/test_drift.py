"""``konvsync drift`` and ``drift --write`` through the CLI against a real
sandbox changed by hand with GraphQL mutations."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import jsonschema
import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import CliRun, invoke
from tests.drift.portal import HandEdits

ROOT = Path(__file__).resolve().parents[2]

FILES = {
    "konvsync.yaml": """\
# Portal settings
konvsync: 1
policy:
  prune: [groups, users]   # we own these completely
""",
    "groups.yaml": """\
groups:
  # the sales team
  - externalId: sales
    name: "Sales"        # display name
    permissions: [VIEW_ACCOUNT_USERS]

  - externalId: support
    name: Support
""",
    "accounts.yaml": """\
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME Corp   # customer since 2019
    userGroups: [sales, support]
    customFields:
      tier: gold
      region: east
""",
    "users.yaml": """\
users:
  - email: Jane@Acme.example
    firstName: Jane
    lastName: Doe
    title: 'VP Sales'
    account: acme
    groups:
      - sales
      - support

  # Bob leaves soon
  - {email: bob@acme.example, firstName: Bob, lastName: Roe, account: acme, groups: [sales]}
  - email: carol@acme.example
    firstName: Carol
    lastName: Poe
    groups: [support]
""",
}


def drift(sandbox: RunningSandbox, path: Path, *extra: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, "drift", str(path), *extra])


def plan(sandbox: RunningSandbox, path: Path) -> CliRun:
    return invoke(["--endpoint", sandbox.url, "plan", str(path), "--detailed-exitcode"])


def write_config(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def applied(sandbox: RunningSandbox, tmp_path: Path, files: dict[str, str] = FILES) -> Path:
    config = write_config(tmp_path / "portal", files)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    return config


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.fixture
def drifted(sandbox: RunningSandbox, tmp_path: Path) -> Path:
    """The five hand edits of the issue's acceptance list."""
    config = applied(sandbox, tmp_path)
    portal = HandEdits(sandbox)
    portal.update_group("sales", name="Sales Team")
    portal.update_user("jane@acme.example", groupIds=[portal.group_id("sales")])
    portal.update_account(
        "acme",
        customFields=[{"key": "tier", "value": "silver"}, {"key": "region", "value": "east"}],
    )
    portal.delete_user("bob@acme.example")
    portal.create_group(externalId="marketing", name="Marketing")
    return config


def test_no_drift_after_apply(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = applied(sandbox, tmp_path)
    result = drift(sandbox, config)
    assert result.exit_code == 0, result.output
    assert "No drift." in result.stdout


def test_drift_reports_the_five_hand_edits_by_category(
    sandbox: RunningSandbox, drifted: Path
) -> None:
    result = drift(sandbox, drifted, "--format", "json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    found = {(d["category"], d["kind"], d["key"]) for d in data["drift"]}
    assert found == {
        ("changed", "groups", "sales"),
        ("changed", "users", "jane@acme.example"),
        ("changed", "accounts", "acme"),
        ("deleted", "users", "bob@acme.example"),
        ("created", "groups", "marketing"),
    }
    by_key = {d["key"]: d for d in data["drift"]}
    assert by_key["sales"]["fields"] == [
        {"path": "name", "portal": "Sales Team", "config": "Sales", "sensitive": False}
    ]
    assert by_key["sales"]["updated_at"]  # the API has updatedAt for groups
    assert by_key["acme"]["fields"][0]["path"] == "customFields.tier"
    assert by_key["jane@acme.example"]["fields"][0]["portal"] == ["sales"]
    assert data["summary"] == {"changed": 3, "deleted": 1, "created": 1, "unmanaged": 0}
    schema = json.loads((ROOT / "schemas" / "drift.schema.json").read_text())
    jsonschema.validate(data, schema)

    text = drift(sandbox, drifted)
    assert text.exit_code == 2
    assert "  # groups/sales has changed in the portal (changed 20" in text.stdout
    assert "UTC, " in text.stdout and "groups.yaml:3:5)" in text.stdout
    assert '      ~ name = "Sales" -> "Sales Team"' in text.stdout  # configuration -> portal
    assert "  # users/bob@acme.example has been deleted in the portal (" in text.stdout
    assert (
        "  # groups/marketing has been created in the portal (apply would delete it, changed 20"
        in text.stdout
    )
    assert "Drift: 3 changed, 1 deleted, 1 created in the portal." in text.stdout


def test_write_changes_exactly_the_affected_lines(sandbox: RunningSandbox, drifted: Path) -> None:
    before = {name: (drifted / name).read_text() for name in FILES}
    (drifted / "groups.yaml").chmod(0o644)
    result = drift(sandbox, drifted, "--write")
    assert result.exit_code == 2, result.output
    assert "Accepted into the configuration: wrote" in result.stdout
    after = {name: (drifted / name).read_text() for name in FILES}
    assert (drifted / "groups.yaml").stat().st_mode & 0o777 == 0o644  # kept, not mkstemp's 0600
    assert after["konvsync.yaml"] == before["konvsync.yaml"]
    assert changed_lines(before["groups.yaml"], after["groups.yaml"]) == [
        '-    name: "Sales"        # display name',
        '+    name: "Sales Team"        # display name',
        "+  - externalId: marketing",
        "+    name: Marketing",
    ]
    assert changed_lines(before["accounts.yaml"], after["accounts.yaml"]) == [
        "-      tier: gold",
        "+      tier: silver",
    ]
    assert changed_lines(before["users.yaml"], after["users.yaml"]) == [
        "-      - support",
        "-  # Bob leaves soon",  # the comment above an item goes with it
        "-  - {email: bob@acme.example, firstName: Bob, lastName: Roe, account: acme, "
        "groups: [sales]}",
    ]
    again = plan(sandbox, drifted)
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
    assert drift(sandbox, drifted).exit_code == 0


def test_markdown_report(sandbox: RunningSandbox, drifted: Path) -> None:
    result = drift(sandbox, drifted, "--format", "markdown")
    assert result.exit_code == 2
    assert result.stdout.startswith("### konvsync drift for ")
    assert "| kind | changed | deleted | created |" in result.stdout
    assert "| groups | 1 | 0 | **1** |" in result.stdout
    assert "| users | 1 | 1 | 0 |" in result.stdout
    assert "+ groups/marketing" in result.stdout and "- users/bob@acme.example" in result.stdout
    assert '! groups/sales  name: "Sales" -> "Sales Team"' in result.stdout
