"""Each kind normalizes with steps chosen once per field (``Kind._remote_steps``,
``_desired_steps``); they must give exactly what the general rules
(``normalize_value``, ``_normalize_remote_value``) give, for every shape a
field may have and every value a portal or a config may hold: the same
values of the same types (a ``RemoteRef`` stays one)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from konvsync.kinds import KINDS
from konvsync.kinds.address import RemoteRef
from konvsync.kinds.base import (
    Field,
    Kind,
    _input_value,
    _normalize_remote_value,
    normalize_value,
    normalizer,
    remote_normalizer,
)

TEXT = st.text(st.sampled_from("aZé\u0065\u0301 \t\u00a0\u200bØ@.-1"), max_size=8)
SCALARS = st.one_of(
    st.none(), TEXT, st.integers(-3, 3), st.booleans(), TEXT.map(RemoteRef), st.just("")
)
NODE = st.fixed_dictionaries({"id": st.text("gx1", min_size=1, max_size=3)}).flatmap(
    lambda node: st.fixed_dictionaries(
        {
            "id": st.just(node["id"]),
            "externalId": st.one_of(st.none(), TEXT),
            "email": st.one_of(st.none(), TEXT),
            "key": st.one_of(st.none(), TEXT),
            "slug": st.one_of(st.none(), TEXT),
        }
    )
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(TEXT, SCALARS, max_size=3),
    NODE,
    st.lists(NODE, max_size=3),
    st.lists(st.fixed_dictionaries({"key": TEXT, "value": SCALARS}), max_size=3),
)

SHAPES: list[Field] = [
    Field("plain"),
    Field("email", lowercase=True),
    Field("when", timestamp=True),
    Field("tags", shape="set"),
    Field("lowered", shape="set", lowercase=True),
    Field("options", shape="list"),
    Field("custom", shape="map"),
    Field("address", shape="object"),
    Field("account", ref="accounts"),
    Field("groups", shape="set", ref="groups"),
    Field("user", ref="users"),
]
"""Every shape, alone and combined with case, time and references."""

FIELDS: list[Field] = [*SHAPES, *(f for k in KINDS for f in k.managed_fields)]


def typed(value: Any) -> Any:
    """``value`` with the type of each part, so that "a" and RemoteRef("a")
    (equal as strings) differ."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value)


def outcome(function: Any, *args: Any) -> Any:
    try:
        return typed(function(*args))
    except Exception as exc:  # the same failure counts as the same outcome
        return ("raised", type(exc).__name__)


@settings(max_examples=400, deadline=None)
@given(index=st.integers(0, len(FIELDS) - 1), value=VALUES, keep_case=st.booleans())
def test_a_field_normalizes_as_the_general_rule_says(
    index: int, value: Any, keep_case: bool
) -> None:
    f = FIELDS[index]
    assert outcome(normalizer(f, keep_case), value) == outcome(normalize_value, f, value, keep_case)
    assert outcome(remote_normalizer(f), value) == outcome(_normalize_remote_value, f, value)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_kind_normalizes_whole_objects_as_field_by_field(data: st.DataObject) -> None:
    k: Kind = data.draw(st.sampled_from(KINDS))
    names = [f.name for f in k.managed_fields]
    node = data.draw(st.dictionaries(st.sampled_from([*names, "id", "other"]), VALUES))

    def remote(node: dict[str, Any]) -> dict[str, Any]:
        return {f.name: _normalize_remote_value(f, node.get(f.name)) for f in k.managed_fields}

    def desired(node: dict[str, Any], keep_case: bool) -> dict[str, Any]:
        return {
            f.name: normalize_value(f, node[f.name], keep_case)
            for f in k.managed_fields
            if f.name in node
        }

    assert outcome(k.normalize_remote, node) == outcome(remote, node)
    for keep_case in (False, True):
        assert outcome(k.normalize_desired, node, keep_case) == outcome(desired, node, keep_case)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_kind_builds_inputs_as_field_by_field(data: st.DataObject) -> None:
    """``Kind.build_input`` sends each field as ``_input_value`` does, under
    its input name, and leaves out server-only fields and the parent link."""
    k: Kind = data.draw(st.sampled_from(KINDS))
    names = [f.name for f in k.fields]
    values = data.draw(st.dictionaries(st.sampled_from([*names, "other"]), VALUES))

    def resolve(kind_name: str, key: str) -> str:
        return f"{kind_name}:{key}"

    def expected(values: dict[str, Any]) -> dict[str, Any]:
        return {
            f.input_key: _input_value(f, values[f.name], resolve)
            for name in values
            for f in k.fields
            if f.name == name and not f.server_only and f is not k.parent_field
        }

    assert outcome(k.build_input, values, resolve) == outcome(expected, values)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_portal_s_normalized_values_normalize_to_themselves(data: st.DataObject) -> None:
    """What ``normalize_remote`` gives, ``normalize_desired`` gives back
    unchanged (the same values of the same types): the plan takes a
    configured object whose values are the portal's normalized ones as they
    are written for no change, without normalizing it (``plan.diff``)."""
    k: Kind = data.draw(st.sampled_from(KINDS))
    names = [f.name for f in k.managed_fields]
    node = data.draw(st.dictionaries(st.sampled_from([*names, "id", "other"]), VALUES))
    try:
        normalized = k.normalize_remote(node)
    except Exception:  # a value no answer check lets through
        return
    assert typed(k.normalize_desired(normalized)) == typed(normalized)
