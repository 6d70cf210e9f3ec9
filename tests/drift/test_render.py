"""Drift rendered by the plan's renderers with the drift wording: the
Markdown size limit, the portal's side of every change, and the JSON schema
for every section and for --write's outcome."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from konvsync.config.model import Source
from konvsync.drift.model import DriftReport, KeptValue, WriteResult
from konvsync.kinds import kind
from konvsync.plan.changes import Change, Create, Delete, FieldChange, Plan, Update
from konvsync.render import render_plan
from konvsync.render.drift import render_drift
from konvsync.render.markdown import MAX_COMMENT

ROOT = Path(__file__).resolve().parents[2]


def big_report(count: int) -> DriftReport:
    changes: list[Change] = []
    unmanaged: list[Change] = []
    for index in range(count):
        changes.append(
            Update(
                "users",
                f"user{index:05d}@acme.example",
                {"lastName": f"Portal {index} " * 5},
                {"lastName": f"Config {index}"},
                (FieldChange("lastName", f"Portal {index} " * 5, f"Config {index}"),),
                remote_id=f"usr_{index}",
                source=Source("users.yaml", 3 + index * 6, 5),
                updated_at="2026-11-29T14:02:11.123456Z",
            )
        )
        changes.append(Create("groups", f"group-{index}", None, {"externalId": f"group-{index}"}))
        unmanaged.append(Delete("accounts", f"acct-{index}", {"name": "X"}, remote_id=f"a{index}"))
    plan = Plan([*changes, *unmanaged], "production", "ACME")
    return DriftReport(plan, frozenset(c.address for c in unmanaged), include_unmanaged=True)


def test_markdown_is_cut_to_an_issue_body_with_a_summary() -> None:
    report = big_report(2_000)
    report.written = WriteResult([], [KeptValue(f"users/u{i}", "title", "why") for i in range(80)])
    text = render_drift(report, "markdown")
    assert len(text) <= MAX_COMMENT
    assert "**Drift: 2000 changed, 2000 deleted, 0 created, 2000 unmanaged in the portal.**" in text
    assert "drifted objects are not shown" in text
    assert "| kind | changed | deleted | created | unmanaged |" in text
    assert "| users | 2000 | 0 | 0 | 0 |" in text
    assert "... and 32 more (see --format json)" in text  # 82 lines, 50 listed
    small = render_drift(big_report(3), "markdown")
    assert "not shown" not in small and "changed 2026-11-29 14:02 UTC" in small
    assert '! users/user00001@acme.example  lastName: "Config 1" -> "Portal 1 ' in small
    assert "- groups/group-1" in small and "+ accounts/acct-1" in small


def test_text_reads_each_change_from_the_portals_side() -> None:
    text = render_drift(big_report(1), "text")
    assert "  # users/user00000@acme.example has changed in the portal (changed " in text
    assert "UTC, users.yaml:3:5)" in text
    assert '      ~ lastName = "Config 0" -> "Portal 0 ' in text  # configuration -> portal
    assert "  # groups/group-0 has been deleted in the portal" in text
    assert '  - group "group-0" {' in text
    assert "  # accounts/acct-0 has been created in the portal (not managed" in text
    assert "Drift: 1 changed, 1 deleted, 0 created, 1 unmanaged in the portal." in text
    assert "accept it into the configuration with 'konvsync drift --write'" in text
    # The same changes as a plan read the other way.
    plan_text = render_plan(big_report(1).plan, "text")
    assert '      ~ lastName = "Portal 0 ' in plan_text and "will be updated in-place" in plan_text


def test_sensitive_values_are_hidden_in_every_format() -> None:
    sensitive = next(f.name for f in kind("inviteLinks").fields if f.sensitive)
    change = Update(
        "inviteLinks",
        "Promo",
        {sensitive: "zq-secret-1"},
        {sensitive: "zq-secret-2"},
        (FieldChange(sensitive, "zq-secret-1", "zq-secret-2"),),
        remote_id="inv_1",
    )
    report = DriftReport(Plan([change], "production", "ACME"))
    schema = json.loads((ROOT / "schemas" / "drift.schema.json").read_text())
    for fmt in ("text", "json", "markdown"):
        text = render_drift(report, fmt)
        assert "zq-secret" not in text and "(sensitive)" in text
    data = json.loads(render_drift(report, "json"))
    jsonschema.validate(data, schema)
    assert data["drift"][0]["fields"][0]["sensitive"] is True


def test_json_validates_with_every_section_and_a_write_result() -> None:
    report = big_report(2)
    report.written = WriteResult(
        ["users.yaml"], [KeptValue("users/a@b.example", "title", "written as a substitution")]
    )
    schema = json.loads((ROOT / "schemas" / "drift.schema.json").read_text())
    data = json.loads(render_drift(report, "json"))
    jsonschema.validate(data, schema)
    assert data["format_version"] == "2"
    assert data["summary"] == {"changed": 2, "deleted": 2, "created": 0, "unmanaged": 2}
    changed = data["drift"][0]
    assert changed["category"] == "changed" and changed["managed"] is True
    assert changed["fields"] == [
        {
            "path": "lastName",
            "portal": "Portal 0 " * 5,
            "config": "Config 0",
            "sensitive": False,
        }
    ]
    assert changed["source"] == "users.yaml:3:5" and changed["id"] == "usr_0"
    assert [d["category"] for d in data["drift"][-2:]] == ["created", "created"]
    assert [d["managed"] for d in data["drift"][-2:]] == [False, False]
