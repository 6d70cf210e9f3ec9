"""The three plan renderers on one fixed plan, against golden files.

Regenerate after an intended change with KONVSYNC_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from konvsync.config.model import Source
from konvsync.plan.changes import Create, Delete, FieldChange, Plan, Update
from konvsync.render import render_plan
from konvsync.render.markdown import MAX_COMMENT, render_markdown
from tests.published_schemas import validated

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def fixed_plan() -> Plan:
    source = Source("portal/konvsync.yaml", 12, 5)
    return Plan(
        changes=[
            Create(
                "groups",
                "sales-east",
                None,
                {
                    "externalId": "sales-east",
                    "name": "Sales - East",
                    "permissions": ["MANAGE_ACCOUNT_USERS", "VIEW_ACCOUNT_USERS"],
                },
                source=source,
            ),
            Update(
                "accounts",
                "acme",
                {"name": "ACME", "customFields": {"tier": "gold"}},
                {"name": "ACME Corp", "customFields": {"tier": "silver"}},
                (
                    FieldChange("customFields.tier", "gold", "silver"),
                    FieldChange("name", "ACME", "ACME Corp"),
                ),
                "acc_1",
                source,
            ),
            Update(
                "groups",
                "legacy",
                {"externalId": None},
                {"externalId": "legacy"},
                (FieldChange("externalId", None, "legacy"),),
                "grp_9",
                source,
                note="adopts the existing group grp_9 (same name, no externalId)",
                adopt=True,
            ),
            Create(
                "users",
                "jane@acme.example",
                None,
                {
                    "email": "jane@acme.example",
                    "firstName": "Jane",
                    "lastName": "Doe",
                    "title": None,
                    "account": "acme",
                    "groups": ["sales-east"],
                },
            ),
            Delete(
                "locations",
                "HQ",
                {"account": "old", "name": "HQ", "phone": None, "address": None},
                None,
                remote_id="loc_3",
                note="deleted with account old",
                parent="old",
                cascade=True,
            ),
            Delete(
                "accounts", "old", {"externalId": "old", "name": "Old Co"}, None, remote_id="acc_2"
            ),
        ],
        endpoint="production",
        portal="ACME Partner Portal",
        warnings=[
            "1 new user(s) will receive a welcome e-mail "
            "(policy.send_welcome_email: false turns this off)"
        ],
        welcome_emails=1,
    )


@pytest.mark.parametrize(
    ("fmt", "name"), [("text", "plan.txt"), ("json", "plan.json"), ("markdown", "plan.md")]
)
def test_renderer_matches_golden_file(fmt: str, name: str) -> None:
    rendered = render_plan(fixed_plan(), fmt) + "\n"
    golden = GOLDEN / name
    if os.environ.get("KONVSYNC_UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_json_golden_validates_against_the_schema() -> None:
    validated(render_plan(fixed_plan(), "json"), "plan")


def test_text_has_colour_only_when_asked() -> None:
    assert "\x1b[" not in render_plan(fixed_plan(), "text")
    assert "\x1b[32m" in render_plan(fixed_plan(), "text", color=True)


def test_empty_plan_renders_no_changes() -> None:
    empty = Plan([], "sandbox", None)
    assert render_plan(empty, "text") == "No changes. The portal matches the configuration."
    assert "No changes." in render_plan(empty, "markdown")
    assert validated(render_plan(empty, "json"), "plan")["changes"] == []


def test_markdown_puts_deletes_first() -> None:
    markdown = render_markdown(fixed_plan())
    assert markdown.index("<b>accounts</b>") < markdown.index("<b>groups</b>")
    section = markdown[markdown.index("<b>accounts</b>") :]
    assert section.index("- accounts/old") < section.index("! accounts/acme")


def test_markdown_leaves_out_a_change_too_long_for_a_comment_not_the_ones_after_it() -> None:
    """A title of 70,000 characters does not fit a pull-request comment: that
    change is left out (and counted), the short changes after it are shown."""
    changes = [
        Update(
            "users",
            "long@example.com",
            {"title": "short"},
            {"title": "T" * 70_000},
            (FieldChange("title", "short", "T" * 70_000),),
            remote_id="usr_1",
        ),
        *(
            Update(
                "users",
                f"user{i}@example.com",
                {"title": "a"},
                {"title": "b"},
                (FieldChange("title", "a", "b"),),
                remote_id=f"usr_{i + 2}",
            )
            for i in range(3)
        ),
    ]
    markdown = render_markdown(Plan(changes, "production", "P"))
    assert len(markdown) <= MAX_COMMENT
    assert "users/long@example.com" not in markdown
    assert all(f"! users/user{i}@example.com" in markdown for i in range(3)), markdown
    assert "_1 of 4 changes are not shown" in markdown, markdown


def test_markdown_never_exceeds_a_comment_and_says_what_it_left_out() -> None:
    changes = [
        Create(
            "users",
            f"user{i}@example.com",
            None,
            {"email": f"user{i}@example.com", "firstName": "F" * 40, "lastName": "L"},
        )
        for i in range(20_000)
    ]
    changes += [
        Delete("groups", f"g{i}", {"externalId": f"g{i}"}, None, remote_id=f"grp_{i}")
        for i in range(50)
    ]
    markdown = render_markdown(Plan(changes, "production", "P"))
    assert len(markdown) <= MAX_COMMENT
    assert "changes are not shown" in markdown
    assert "- groups/g49" in markdown  # deletes come first and are all there
    omitted = int(markdown.rsplit("_", 2)[-2].split(" of ")[0])
    shown = markdown.count("\n+ users/")
    assert omitted + shown == 20_000
