"""The hand-kept config JSON Schema says what the kinds say: each kind's
properties are its managed fields (a child's parent link left out: it is
where the child is listed), its rename field and the kinds listed inside it;
object fields list their subfields; every top-level kind is a top-level
property and every reference kind is refused there."""

from __future__ import annotations

from typing import Any

import pytest

from konvsync.kinds import KINDS, REFERENCE_KINDS, TOP_LEVEL_KINDS, WRITABLE_KINDS
from konvsync.kinds.base import Kind
from konvsync.support.resources import config_schema

SCHEMA = config_schema()


def definition(k: Kind) -> dict[str, Any]:
    return dict(SCHEMA["$defs"][_def_name(k)])


def _def_name(k: Kind) -> str:
    """``accountFields`` -> ``accountField``: the plural kind name without its s."""
    return k.name[:-1]


def expected_properties(k: Kind) -> set[str]:
    names = {f.name for f in k.managed_fields if k.parent is None or f.ref != k.parent}
    if k.rename_field is not None:
        names.add(k.rename_field)
    names |= {child.name for child in KINDS if child.parent == k.name}
    return names


@pytest.mark.parametrize("k", WRITABLE_KINDS, ids=lambda k: k.name)
def test_schema_properties_are_the_kinds_fields(k: Kind) -> None:
    assert set(definition(k)["properties"]) == expected_properties(k)


@pytest.mark.parametrize(
    ("k", "name"),
    [(k, f.name) for k in WRITABLE_KINDS for f in k.fields if f.shape == "object"],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_object_fields_list_their_subfields(k: Kind, name: str) -> None:
    field = k.field_map[name]
    target = definition(k)["properties"][name]
    resolved = SCHEMA["$defs"][target["$ref"].rsplit("/", 1)[-1]] if "$ref" in target else target
    assert set(resolved["properties"]) == set(field.subfields)


def test_top_level_properties_are_the_top_level_and_reference_kinds() -> None:
    kinds = set(SCHEMA["properties"]) - {"konvsync", "endpoint", "portal", "variables", "policy"}
    assert kinds == {k.name for k in TOP_LEVEL_KINDS} | {k.name for k in REFERENCE_KINDS}
    for k in REFERENCE_KINDS:
        assert SCHEMA["properties"][k.name].get("not") == {}


def test_the_plan_schema_names_every_writable_kind() -> None:
    from konvsync.support.resources import json_schema

    change = json_schema("plan.schema.json")["$defs"]["change"]
    assert set(change["properties"]["kind"]["enum"]) == {k.name for k in WRITABLE_KINDS}


def test_policy_names_every_writable_kind_and_its_fields() -> None:
    """A new kind can be pruned (top level), protected and have changes
    ignored, field by field, as soon as it is declared."""
    policy = SCHEMA["properties"]["policy"]["properties"]
    assert set(policy["prune"]["items"]["enum"]) == {k.name for k in TOP_LEVEL_KINDS}
    assert set(policy["protect"]["properties"]) == {k.name for k in WRITABLE_KINDS}
    ignored = policy["ignore_changes"]["properties"]
    assert set(ignored) == {k.name for k in WRITABLE_KINDS}
    for k in WRITABLE_KINDS:
        fields = {f.name for f in k.managed_fields if k.parent is None or f.ref != k.parent}
        assert set(ignored[k.name]["items"]["enum"]) == fields, k.name
