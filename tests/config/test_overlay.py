"""Several config paths, later ones overriding (``config.overlay``), through
the CLI: merging rules, problems in the right file, and the environments
example planned against two sandboxes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import SandboxFactory, invoke

ROOT = Path(__file__).resolve().parent.parent.parent
ConfigWriter = Callable[..., Path]

BASE = """\
konvsync: 1
endpoint: production
policy: {prune: [groups], max_delete_percent: 10}
groups:
  - {externalId: sales, name: Sales, permissions: [MANAGE_USERS, VIEW_ACCOUNT_USERS]}
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    website: https://acme.example
    customFields: {tier: gold, region: east}
    locations: [{name: HQ, phone: "1", address: {city: Springfield, country: US}}]
"""


def changes(sandbox: RunningSandbox, *paths: Path) -> dict[str, dict[str, Any]]:
    result = invoke(["--endpoint", sandbox.url, "plan", *map(str, paths), "--format", "json"])
    assert result.exit_code == 0, result.output
    return {c["address"]: c for c in json.loads(result.stdout)["changes"]}


def test_later_paths_merge_by_key_field_by_field(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    base = write_config(BASE, "base/konvsync.yaml")
    overlay = write_config(
        """\
        endpoint: staging
        policy: {max_delete_percent: 50}
        groups:
          - {externalId: sales, permissions: [MANAGE_NEWS]}
          - {externalId: qa, name: QA}
        accounts:
          - externalId: acme
            website: null
            customFields: {region: west}
            locations: [{name: Lab}]
        """,
        "staging/konvsync.yaml",
    )
    planned = changes(sandbox, base, overlay.parent)
    assert planned["groups/sales"]["after"] == {
        "externalId": "sales",
        "name": "Sales",  # from the base
        "permissions": ["MANAGE_NEWS"],  # the list replaced
    }
    assert "groups/qa" in planned  # a new key adds an object
    acme = planned["accounts/acme"]["after"]
    assert acme["customFields"] == {"region": "west", "tier": "gold"}  # mappings merged
    assert acme["website"] is None  # null: set to null, which clears it
    assert set(planned) >= {"locations/acme/Lab"} and "locations/acme/HQ" not in planned
    valid = invoke(["validate", str(base), str(overlay.parent)])
    assert valid.exit_code == 0, valid.output
    assert "valid (2 groups, 2 accountFields, 1 accounts, 1 locations)" in valid.stdout


def test_endpoint_and_policy_of_a_later_path_win(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    from konvsync.config.loader import load_config

    base = write_config(BASE, "base/konvsync.yaml")
    overlay = write_config(
        "endpoint: staging\nportal: Staging\npolicy: {max_delete_percent: 50}\n",
        "staging/konvsync.yaml",
    )
    state = load_config([str(base), str(overlay)])
    assert state.endpoint == "staging" and state.portal == "Staging"
    assert state.policy.max_delete_percent == 50 and state.policy.prune == {"groups"}
    other = sandbox_factory(portal_name="Production")
    guarded = invoke(["--endpoint", other.url, "plan", str(base), str(overlay)])
    assert guarded.exit_code == 3 and "'Staging'" in guarded.stderr


def test_problems_point_at_the_file_that_set_them(write_config: ConfigWriter) -> None:
    base = write_config(BASE, "base/konvsync.yaml")
    overlay = write_config(
        """\
        groups:
          - {externalId: sales, permissions: [NOT_A_PERMISSION]}
          - {externalId: qa}
          - {externalId: qa, name: QA twice}
        users:
          - {email: a@x.example, firstName: A, lastName: B, groups: [nowhere]}
        """,
        "staging/konvsync.yaml",
    )
    result = invoke(["validate", str(base), str(overlay)])
    assert result.exit_code == 1
    err = result.stderr
    assert f"{overlay}:2:" in err and "NOT_A_PERMISSION" in err
    assert f"{overlay}:3:5: group 'qa': 'name' is a required property" in err  # a new object
    assert len([line for line in err.splitlines() if "NOT_A_PERMISSION" in line]) == 1
    assert f"{overlay}:4:5: duplicate group 'qa' (first defined at {overlay}:3:5)" in err
    assert f"{overlay}:6:62: user 'a@x.example': groups refers to group 'nowhere'" in err
    assert str(base) not in err


def test_a_duplicate_inside_the_base_stays_an_error(write_config: ConfigWriter) -> None:
    base = write_config(BASE + "  - {externalId: acme, name: Again}\n", "base/konvsync.yaml")
    overlay = write_config("endpoint: staging\n", "staging/konvsync.yaml")
    result = invoke(["validate", str(base), str(overlay)])
    assert result.exit_code == 1 and "duplicate account 'acme'" in result.stderr


def test_environments_example_plans_two_portals_with_exactly_their_differences(
    sandbox_factory: SandboxFactory,
) -> None:
    example = ROOT / "examples" / "environments"
    staging = sandbox_factory(portal_name="ACME Partner Portal (staging)")
    production = sandbox_factory(portal_name="ACME Partner Portal")
    in_staging = changes(staging, example / "base", example / "overlays" / "staging")
    in_production = changes(production, example / "base", example / "overlays" / "production")
    assert set(in_staging) - set(in_production) == {"groups/qa-testers", "users/qa@acme.example"}
    assert set(in_production) - set(in_staging) == set()
    differing = {
        address: (in_staging[address]["after"], in_production[address]["after"])
        for address in in_production
        if in_staging[address]["after"] != in_production[address]["after"]
    }
    assert set(differing) == {"accounts/acme", "users/jane@acme.example"}
    acme_staging, acme_production = differing["accounts/acme"]
    assert acme_staging["website"] == "https://staging.acme.example"
    assert acme_staging["customFields"] == {"account_number": "A-1001", "tier": "silver"}
    assert acme_production["website"] == "https://acme.example"
    assert acme_production["customFields"] == {"account_number": "A-1001", "tier": "gold"}
    assert {k: v for k, v in acme_staging.items() if k not in ("website", "customFields")} == {
        k: v for k, v in acme_production.items() if k not in ("website", "customFields")
    }
    jane_staging, jane_production = differing["users/jane@acme.example"]
    assert (jane_staging["title"], jane_production["title"]) == ("Sales", "VP Sales")
    assert {**jane_staging, "title": None} == {**jane_production, "title": None}
    # Welcome e-mails: off in staging (the base), on in production (the overlay).
    text = invoke(
        [
            "--endpoint",
            production.url,
            "plan",
            str(example / "base"),
            str(example / "overlays" / "production"),
        ]
    )
    assert "2 new user(s) will receive a welcome e-mail" in text.stdout


LINK_BASE = """\
    konvsync: 1
    endpoint: sandbox
    inviteLinks:
      - {title: Dealers, access: CODE, code: code-for-dealers}
    """


def test_rules_between_fields_hold_for_the_merged_object(write_config: ConfigWriter) -> None:
    """An overlay that switches a CODE link to OPEN leaves the base's code on
    an OPEN link, which the portal refuses: the merged link is invalid, said
    at the overlay's line (each file alone was valid, so it passed)."""
    base = write_config(LINK_BASE, "base/konvsync.yaml")
    overlay = write_config(
        "inviteLinks:\n  - {title: Dealers, access: OPEN}\n", "open/konvsync.yaml"
    )
    result = invoke(["validate", str(base), str(overlay)])
    assert result.exit_code == 1, result.output
    problems = [
        line
        for line in result.stderr.splitlines()
        if "invite link 'Dealers'" in line and ": warning: " not in line
    ]
    assert len(problems) == 1 and "code" in problems[0], result.stderr
    assert problems[0].startswith(f"{overlay}:2:5:"), result.stderr


def test_an_overlay_need_not_repeat_what_a_rule_takes_from_the_base(
    write_config: ConfigWriter,
) -> None:
    """An overlay that sets a field of a CODE link need not repeat its code
    (the rule holds for the merged link; the overlay's file alone was
    refused for it)."""
    base = write_config(LINK_BASE, "base/konvsync.yaml")
    overlay = write_config(
        "inviteLinks:\n  - {title: Dealers, access: CODE, active: false}\n",
        "paused/konvsync.yaml",
    )
    result = invoke(["validate", str(base), str(overlay)])
    assert result.exit_code == 0, result.output


def test_an_overlay_protects_more_never_less(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """``policy.protect`` lists add up across paths: an overlay protecting one
    more group keeps the base's protected one (before, its list replaced the
    base's and the plan deleted the group the base protects)."""
    for key in ("kept-by-base", "kept-by-overlay", "stray"):
        sandbox.store.create("groups", {"externalId": key, "name": key})
    base = write_config(
        "konvsync: 1\npolicy:\n  prune: [groups]\n  max_delete_percent: 100\n"
        "  protect: {groups: [kept-by-base]}\n"
        "groups:\n  - {externalId: sales, name: Sales}\n",
        "base/konvsync.yaml",
    )
    overlay = write_config(
        "policy:\n  protect: {groups: [kept-by-overlay]}\n", "staging/konvsync.yaml"
    )
    deleted = {
        address
        for address, change in changes(sandbox, base, overlay.parent).items()
        if change["action"] == "delete"
    }
    assert deleted == {"groups/stray"}
