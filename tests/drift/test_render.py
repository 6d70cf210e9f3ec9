"""Drift renderers on reports built from value objects: the Markdown size
limit, and the JSON schema for every section and for --write's outcome."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from konvsync.config.model import Source
from konvsync.drift.model import DriftReport, FieldDrift, KeptValue, ObjectDrift, WriteResult
from konvsync.render.drift import render_drift
from konvsync.render.drift_markdown import MAX_BODY

ROOT = Path(__file__).resolve().parents[2]


def big_report(count: int) -> DriftReport:
    items = []
    for index in range(count):
        key = f"user{index:05d}@acme.example"
        items.append(
            ObjectDrift(
                "changed",
                "users",
                key,
                (FieldDrift("lastName", f"Portal {index} " * 5, f"Config {index}"),),
                updated_at="2026-11-29T14:02:11.123456Z",
                source=Source("users.yaml", 3 + index * 6, 5),
            )
        )
        items.append(ObjectDrift("deleted", "groups", f"group-{index}"))
        items.append(
            ObjectDrift("created", "accounts", f"acct-{index}", portal={"name": "X"}, managed=False)
        )
    return DriftReport(items, "production", "ACME", include_unmanaged=True)


def test_markdown_is_cut_to_an_issue_body_with_a_summary() -> None:
    report = big_report(2_000)
    text = render_drift(report, "markdown")
    assert len(text) <= MAX_BODY
    assert "**Drift: 2000 changed, 2000 deleted, 0 created, 2000 unmanaged in the portal.**" in text
    assert "drifted objects are not shown" in text
    assert "| Changed in the portal | 2000 |" in text
    small = render_drift(big_report(3), "markdown")
    assert "not shown" not in small and "changed 2026-11-29 14:02 UTC" in small


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
