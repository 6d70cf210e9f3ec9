"""The fast path of apply's schema check (``api.schema_facts``): where the
portal's schema agrees with the contract on an operation's facts, the full
check (graphql-core's validation and the input comparison) would pass.

Each test builds a portal's introspection answer from the contract, edited
one way at a time, and holds the fast path to the full check on it."""

from __future__ import annotations

import copy
import json
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from graphql import build_client_schema, build_schema, get_introspection_query, graphql_sync

from konvsync.api import schema_facts
from konvsync.api.input_check import misfits
from konvsync.api.operations import has_operation, mutation_operations
from konvsync.api.schema_facts import agrees
from konvsync.kinds import WRITABLE_KINDS
from konvsync.support.resources import konvert_sdl

OPERATIONS = [(k, op) for k in WRITABLE_KINDS for op in mutation_operations(k)]
Edit = Callable[[dict[str, Any]], None]


def introspection(sdl: str) -> dict[str, Any]:
    result = graphql_sync(build_schema(sdl), get_introspection_query())
    assert result.errors is None
    return json.loads(json.dumps(result.data))


CONTRACT = introspection(konvert_sdl())


def full_check_passes(data: dict[str, Any]) -> bool | None:
    """Whether graphql-core's full check takes every operation (None: the
    answer is not a schema at all)."""
    try:
        schema = build_client_schema(data)  # type: ignore[arg-type]
        return misfits(schema, OPERATIONS) == []
    except (TypeError, KeyError, ValueError):  # validate raises TypeError for an invalid schema
        return None


def _types(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in data["__schema"]["types"] if not t["name"].startswith("__")]


def _named(ref: dict[str, Any]) -> dict[str, Any]:
    while ref["kind"] in ("NON_NULL", "LIST"):
        ref = ref["ofType"]
    return ref


def edits() -> Iterator[tuple[str, Edit]]:
    """Every one-step edit of a member (field, argument, input field) of
    every type: dropped, its nullability flipped, its named type swapped
    for another of the same kind; required and optional members added."""
    by_kind: dict[str, list[str]] = {}
    for t in _types(CONTRACT):
        by_kind.setdefault(t["kind"], []).append(t["name"])
    for t_index, t in enumerate(_types(CONTRACT)):
        groups = [("fields", t.get("fields")), ("inputFields", t.get("inputFields"))]
        args = [
            (f"fields.{index}.args", field["args"])
            for index, field in enumerate(t.get("fields") or ())
        ]
        for place, members in [*groups, *args]:
            if members is None:
                continue
            for m_index, member in enumerate(members):
                where = f"{t['name']}.{place}.{member['name']}"
                yield f"drop {where}", _edit(t_index, place, m_index, "drop")
                yield f"nullability {where}", _edit(t_index, place, m_index, "nullability")
                named = _named(member["type"])
                others = [n for n in by_kind.get(named["kind"], []) if n != named["name"]]
                if others:
                    other = sorted(others)[len(where) % len(others)]
                    yield f"retype {where} as {other}", _edit(t_index, place, m_index, other)
            for required in (True, False):
                yield (
                    f"add {'required' if required else 'optional'} {t['name']}.{place}",
                    _add(t_index, place, required),
                )


def _members(data: dict[str, Any], t_index: int, place: str) -> list[dict[str, Any]]:
    t = _types(data)[t_index]
    if place.startswith("fields."):
        return list(t["fields"][int(place.split(".")[1])]["args"])
    return list(t[place])


def _edit(t_index: int, place: str, m_index: int, how: str) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        members = _members(data, t_index, place)
        member = members[m_index]
        if how == "drop":
            members.remove(member)
            _store(data, t_index, place, members)
        elif how == "nullability":
            ref = member["type"]
            member["type"] = (
                ref["ofType"]
                if ref["kind"] == "NON_NULL"
                else {
                    "kind": "NON_NULL",
                    "name": None,
                    "ofType": ref,
                }
            )
        else:
            _named(member["type"])["name"] = how

    return apply


def _add(t_index: int, place: str, required: bool) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        scalar = {"kind": "SCALAR", "name": "String", "ofType": None}
        type_ = {"kind": "NON_NULL", "name": None, "ofType": scalar} if required else scalar
        member: dict[str, Any] = {
            "name": "added",
            "description": None,
            "type": type_,
            "defaultValue": None,
            "isDeprecated": False,
            "deprecationReason": None,
        }
        if place == "fields":
            member["args"] = []
        _store(data, t_index, place, [*_members(data, t_index, place), member])

    return apply


def _store(data: dict[str, Any], t_index: int, place: str, members: list[dict[str, Any]]) -> None:
    t = _types(data)[t_index]
    if place.startswith("fields."):
        t["fields"][int(place.split(".")[1])]["args"] = members
    else:
        t[place] = members


def test_the_contract_agrees_with_itself() -> None:
    assert agrees(CONTRACT, OPERATIONS)
    assert full_check_passes(CONTRACT)


def test_where_the_fast_path_agrees_the_full_check_passes() -> None:
    """Over every one-step edit of the types an apply of groups touches and
    a seeded sample of the rest: where the fast path agrees, the full check
    passes; where the full check refuses, the fast path disagreed. (The full
    check takes 30 ms a schema: a sample keeps the test at a few seconds.)"""
    every = list(edits())
    touched = [
        e for e in every if any(f" {t}." in e[0] for t in ("Group", "GroupInput", "Mutation"))
    ]
    sample = touched + random.Random(25).sample([e for e in every if e not in touched], 60)
    agreed = disagreed = refused = 0
    for name, edit in sample:
        data = copy.deepcopy(CONTRACT)
        edit(data)
        if agrees(data, OPERATIONS):
            agreed += 1
            assert full_check_passes(data) is not False, (
                f"{name}: agreed, but the full check refuses"
            )
        elif disagreed < 30:
            disagreed += 1
            refused += full_check_passes(data) is False
    assert agreed > 40 and refused > 10, (agreed, disagreed, refused)


@pytest.mark.parametrize(
    "name",
    [
        "add optional GroupInput.inputFields",
        "add optional Group.fields",
        "add optional Mutation.fields",
        "drop Query.fields.groups",
    ],
)
def test_a_portal_with_more_or_other_unused_parts_keeps_the_fast_path(name: str) -> None:
    edit = dict(edits())[name]
    data = copy.deepcopy(CONTRACT)
    edit(data)
    assert agrees(data, OPERATIONS)


def test_a_renamed_mutation_root_or_an_unreadable_answer_disagrees() -> None:
    renamed = copy.deepcopy(CONTRACT)
    renamed["__schema"]["mutationType"]["name"] = "Query"
    assert not agrees(renamed, OPERATIONS)
    assert not agrees({"__schema": {"types": "none"}}, OPERATIONS)
    twice = copy.deepcopy(CONTRACT)
    twice["__schema"]["types"].append(copy.deepcopy(twice["__schema"]["types"][-1]))
    assert not agrees(twice, OPERATIONS)
    assert not agrees(None, OPERATIONS)


def test_facts_made_from_other_sources_are_not_used() -> None:
    """A kind's document or the contract edited without regenerating: no
    fast path (the full check runs), nothing stale is trusted."""
    current = json.loads(schema_facts.FILE.read_text(encoding="utf-8"))
    stale = json.loads(schema_facts.generated_text(WRITABLE_KINDS, konvert_sdl() + "\nscalar X\n"))
    assert schema_facts.fitting(current) == current
    assert schema_facts.fitting(stale) == {}


def _type(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in data["__schema"]["types"] if t["name"] == name)


def _input_value(name: str, type_: dict[str, Any], default: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "description": None,
        "type": type_,
        "defaultValue": default,
        "isDeprecated": False,
        "deprecationReason": None,
    }


def _non_null(name: str) -> dict[str, Any]:
    return {"kind": "NON_NULL", "name": None, "ofType": {"kind": "SCALAR", "name": name}}


@pytest.mark.parametrize("default", ['"main"', "null"])
def test_a_required_input_field_with_a_default_konvsync_never_sends_disagrees(
    default: str,
) -> None:
    """``tenant: String! = "main"``: the full check refuses it (an update
    that leaves it out would set it to the default); with ``= null``
    graphql-core reads no default at all. Either way not the contract's."""
    data = copy.deepcopy(CONTRACT)
    _type(data, "GroupInput")["inputFields"].append(
        _input_value("tenant", _non_null("String"), default)
    )
    assert full_check_passes(data) is not True
    assert not agrees(data, OPERATIONS)


@pytest.mark.parametrize("default", ["null", '"yes"'])
def test_a_required_argument_with_a_default_that_is_no_value_of_its_type_disagrees(
    default: str,
) -> None:
    """``createGroup(notify: Boolean! = null)``: graphql-core reads no
    default, so the argument is required and konvsync does not pass it."""
    data = copy.deepcopy(CONTRACT)
    create = next(f for f in _type(data, "Mutation")["fields"] if f["name"] == "createGroup")
    create["args"].append(_input_value("notify", _non_null("Boolean"), default))
    assert full_check_passes(data) is not True
    assert not agrees(data, OPERATIONS)


def test_a_type_reference_nested_past_the_recursion_limit_disagrees() -> None:
    """A hostile answer wraps a field's type in more lists than Python's
    recursion limit: ``agrees`` answers False, no RecursionError escapes."""
    data = copy.deepcopy(CONTRACT)
    group_id = next(f for f in _type(data, "Group")["fields"] if f["name"] == "id")
    ref: dict[str, Any] = {"kind": "SCALAR", "name": "ID", "ofType": None}
    for _ in range(sys.getrecursionlimit()):
        ref = {"kind": "LIST", "name": None, "ofType": ref}
    group_id["type"] = ref
    assert not agrees(data, OPERATIONS)


@pytest.mark.parametrize(
    ("enum", "value"), [("Permission", "MANAGE_NEWS"), ("InviteLinkAccess", "CODE")]
)
def test_an_enum_value_konvsync_may_send_gone_disagrees_and_one_added_agrees(
    enum: str, value: str
) -> None:
    """A value konvsync may send in an input field that the portal's enum
    lacks: the full check refuses it (before, the fast path agreed, and the
    portal refused the first write that sent it). One the portal adds is no
    reason for the full check."""
    gone = copy.deepcopy(CONTRACT)
    values = _type(gone, enum)["enumValues"]
    values.remove(next(v for v in values if v["name"] == value))
    assert full_check_passes(gone) is False
    assert not agrees(gone, OPERATIONS)
    added = copy.deepcopy(CONTRACT)
    _type(added, enum)["enumValues"].append({**values[0], "name": "ADDED_LATER"})
    assert agrees(added, OPERATIONS)
    assert full_check_passes(added)


def test_the_lookups_apply_makes_keep_the_fast_path_until_one_changes() -> None:
    """Apply checks the get operations of the kinds it writes too: the
    contract agrees on them (else every apply took the full check), and a
    lookup argument the portal made required disagrees."""
    lookups = [(k, k.get_operation) for k in WRITABLE_KINDS if has_operation(k, k.get_operation)]
    assert {op for _, op in lookups} >= {"GetGroup", "GetAccount", "GetUser"}
    assert agrees(CONTRACT, lookups)
    data = copy.deepcopy(CONTRACT)
    group = next(f for f in _type(data, "Query")["fields"] if f["name"] == "group")
    group["args"][0]["type"] = {
        "kind": "NON_NULL",
        "name": None,
        "ofType": group["args"][0]["type"],
    }
    assert not agrees(data, lookups)


def test_a_superset_answered_in_another_order_keeps_the_fast_path_and_passes() -> None:
    """Types, fields, arguments and enum values in another order, with
    types, interfaces, descriptions and enum values the contract does not
    have: the fast path agrees and the full check passes."""
    sdl = (
        konvert_sdl()
        .replace(
            "type Group {", 'interface Node { id: ID! }\n"A group"\ntype Group implements Node {'
        )
        .replace(
            "  VIEW_ACCOUNT_USERS\n",
            '  VIEW_ACCOUNT_USERS\n  MANAGE_EVENTS @deprecated(reason: "x")\n',
        )
        .replace(
            "type Query {", "type Query {\n  node(id: ID!): Node\n  extra(tag: String): [String!]"
        )
    )
    data = introspection(sdl)
    shuffle = random.Random(7).shuffle
    shuffle(data["__schema"]["types"])
    for t in data["__schema"]["types"]:
        for place in ("fields", "inputFields", "enumValues"):
            if t.get(place):
                shuffle(t[place])
        for f in t.get("fields") or ():
            shuffle(f["args"])
    lookups = [(k, k.get_operation) for k in WRITABLE_KINDS if has_operation(k, k.get_operation)]
    assert agrees(data, [*OPERATIONS, *lookups])
    assert full_check_passes(data)
