"""The README's kinds table comes from the kinds themselves."""

from __future__ import annotations

from pathlib import Path

from konvsync.kinds import KINDS, apply_order
from konvsync.kinds.base import Field, Kind
from konvsync.render.readme import render_kinds

ROOT = Path(__file__).resolve().parents[2]

WIDGETS = Kind(
    name="widgets",
    singular="widget",
    key_field="sku",
    fields=(
        Field("sku"),
        Field("owner", ref="groups", input_name="ownerId"),
        Field("token", sensitive=True),
        Field("enabled", export_default=True),
    ),
    operations_file="widgets.graphql",
    type_name="Widget",
)


def test_a_new_kind_gets_its_row_in_apply_order() -> None:
    kinds = apply_order([WIDGETS, *KINDS])  # listed first, ordered after groups
    rows = render_kinds(kinds).splitlines()[2:]
    names = [row.split("|")[2].strip() for row in rows]
    assert names.index("`widgets`") > names.index("`groups`")
    row = next(r for r in rows if "`widgets`" in r)
    assert "| `sku` | top level | `owner` → groups |" in row
    assert "`token` sensitive" in row
    assert "`enabled: true` left out of exports" in row
    assert "written after groups" in row


def test_the_readme_lists_every_kind_in_apply_order() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    positions = [text.index(f"| `{k.name}` | `{k.key_field}` |") for k in KINDS]
    assert positions == sorted(positions)
    assert "in each account's `locations` list" in text
