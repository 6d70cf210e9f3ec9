"""Natural keys with ``/``, spaces and non-ASCII letters, for every kind:
apply, then plan says "No changes." (a location's account is its parent
address, never a part of a key split at a ``/``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema

from konvsync.resources import json_schema
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke

ConfigWriter = Callable[..., Path]

CONFIG = """\
    konvsync: 1
    policy:
      prune: [groups, accounts, users]
    groups:
      - {externalId: "sales/north", name: Sales North}
      - {externalId: "Vertrieb Süd", name: Vertrieb Süd}
    accounts:
      - externalId: dealers
        name: Dealers
        userGroups: ["sales/north"]
        locations:
          - {name: HQ}
          - {name: "Yard/B"}
      - externalId: dealers/east
        name: Dealers East
        userGroups: ["Vertrieb Süd"]
        locations:
          - {name: HQ}
          - {name: Ost Höfe}
    users:
      - {email: "jörg/ops@example.com", firstName: Jörg, lastName: Groß, account: "dealers/east",
         groups: ["sales/north", "Vertrieb Süd"]}
    """


def test_keys_with_slashes_spaces_and_non_ascii_converge(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CONFIG)
    url = ["--endpoint", sandbox.url]
    first = invoke([*url, "apply", str(config), "--auto-approve"])
    assert first.exit_code == 0, first.output
    assert "Apply complete! Resources: 9 added" in first.stdout
    store = sandbox.store
    accounts = store.page("accounts", 100, None)["nodes"]
    names = {
        a["externalId"]: sorted(loc["name"] for loc in store.children("locations", a["id"]))
        for a in accounts
    }
    assert names == {"dealers": ["HQ", "Yard/B"], "dealers/east": ["HQ", "Ost Höfe"]}
    again = invoke([*url, "plan", str(config), "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout


def test_plan_json_names_a_locations_parent(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CONFIG)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, json_schema("plan.schema.json"))
    changes = data["changes"]
    east_hq = [c for c in changes if c["kind"] == "locations" and c.get("parent") == "dealers/east"]
    assert {c["address"] for c in east_hq} == {
        "locations/dealers/east/HQ",
        "locations/dealers/east/Ost Höfe",
    }
    yard = next(c for c in changes if c["address"] == "locations/dealers/Yard/B")
    assert yard["parent"] == "dealers"


def test_targeting_an_account_with_a_slash_takes_only_its_locations(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CONFIG)
    result = invoke(
        ["--endpoint", sandbox.url, "plan", str(config), "--target", "accounts/dealers"]
    )
    assert result.exit_code == 0, result.output
    assert "locations/dealers/HQ" in result.stdout
    assert "locations/dealers/east/HQ" not in result.stdout
