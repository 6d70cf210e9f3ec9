"""schemas/konvert.graphql implements the contract; every document konvsync
sends is valid against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes, parse, validate

from konvsync.api.documents import package_operations
from konvsync.sandbox import readings
from konvsync.support.resources import konvert_sdl

CONTRACT = Path(__file__).parent / "contract" / "konvert.contract.graphql"


def test_schema_has_no_breaking_change_from_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text(encoding="utf-8"))
    ours = build_schema(konvert_sdl())
    assert find_breaking_changes(contract, ours) == []


def test_breaking_change_detection_works() -> None:
    contract = build_schema(CONTRACT.read_text(encoding="utf-8"))
    broken = build_schema(konvert_sdl().replace("  title: String\n", "", 1))
    assert find_breaking_changes(contract, broken)


@pytest.mark.parametrize("operation", package_operations(), ids=lambda o: o.name)
def test_every_operation_is_valid_against_the_schema(operation: object) -> None:
    schema = build_schema(konvert_sdl())
    errors = validate(schema, parse(operation.text))  # type: ignore[attr-defined]
    assert errors == []


def test_operations_cover_every_kind() -> None:
    names = {o.name for o in package_operations()}
    for stem in ("Group", "AccountField", "Account", "Location", "User", "InviteLink"):
        assert {f"Create{stem}", f"Update{stem}", f"Delete{stem}"} <= names
    # Reference kinds are read, never written.
    assert {"ReadLmsModules", "ReadDamCategories"} <= names
    assert not any(n.endswith(("LmsModule", "DamCategory")) for n in names)


def _open_points(text: str) -> str:
    """The header block on what the contract leaves a server to choose."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "leaves a server a choice" in line)
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    return "\n".join(lines[start:end])


def test_the_open_points_are_written_alike_in_both_copies_of_the_contract() -> None:
    ours = _open_points(konvert_sdl())
    assert ours == _open_points(CONTRACT.read_text(encoding="utf-8"))
    assert len(ours.splitlines()) > 20


def test_every_sandbox_reading_is_named_where_the_contract_leaves_the_choice() -> None:
    named = set(re.findall(r"\[([^\]]+)\]", _open_points(konvert_sdl())))
    listed = {name.strip() for group in named for name in group.split(",")}
    assert set(readings.NAMED) <= listed
