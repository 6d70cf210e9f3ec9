"""Whether a portal's schema agrees with the contract on everything some
operations touch, read from its introspection answer as plain JSON.

Before its first write, ``apply`` checks that the portal's schema takes what
it is about to send (``api.input_check``: graphql-core validates each
document against the schema built from the introspection answer, then the
input fields are compared). Importing graphql-core and building that schema
cost 70 ms of CPU at every apply (6 µs per object in a cold apply of 10,000
users; ``python -X importtime`` and ``benchmarks/sync_bench.py``), and on a
portal that agrees with the contract the answer is known in advance: the
contract passes the check (``generated_text`` asserts it).

So ``python -m konvsync.cli.generate`` lists, per operation, every *fact* of
the schema that validating its document and comparing its input fields
depends on, with its value in the contract (``schema_facts.json``):

- ``field Parent.name args``: the field exists on that type; its type (as
  written, ``[Group!]!``) and the kind of its named type (``OBJECT``); the
  type of each argument the document passes (and whether it has a default);
  the field's required arguments the document does not pass;
- ``root mutation``: the name of the schema's mutation type;
- ``type Name``: a type the document names (a variable's type, a fragment's
  type condition) exists, and its kind;
- ``input Name fields``: each input field konvsync sends in that input type
  (its type and whether it has a default), and its required fields that
  konvsync does not send;
- ``enum Name values``: each value the contract lists of an enum konvsync
  sends in an input field (a value the portal lacks is refused).

Validation of a document and the input comparison read nothing else of a
schema, so where every fact of the portal equals the contract's, the full
check would pass: ``agrees`` says so and graphql-core is not imported. Any
difference (including fields and arguments added as required, and anything
that cannot be read) sends the check the full way, whose messages name the
misfit. Facts the portal adds (an optional field or argument konvsync does
not use) are not compared, so a portal with more than the contract keeps
the fast path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from konvsync.api import operations
from konvsync.api.client import PortalClient
from konvsync.kinds import KINDS
from konvsync.kinds.base import MAP_ENTRY_FIELDS, Kind
from konvsync.support.files import read_generated

if TYPE_CHECKING:
    from graphql import GraphQLSchema

HERE = Path(__file__).resolve().parent
FILE = HERE / "schema_facts.json"

Types = Mapping[str, Mapping[str, Any]]
"""An introspection answer's types by name; under ``ROOTS``, the root
types' names by operation type."""
ROOTS = "__roots"
Facts = dict[str, str]
"""Fact -> its value (``field User.groups`` -> ``OBJECT [Group!]! OBJECT ()``)."""


def operation_key(kind: Kind, operation: str) -> str:
    return f"{kind.name}.{operation}"


@cache
def _generated() -> dict[str, Any]:
    return fitting(read_generated(FILE))


def fitting(generated: dict[str, Any]) -> dict[str, Any]:
    """``generated`` if it was made from the sources in use, else nothing."""
    return generated if generated.get("sources") == _sources_digest(KINDS) else {}


def introspection_query(deprecated_inputs: bool = True) -> str:
    """graphql-core's introspection query (as generated; made by graphql-core
    when the generated file does not fit the sources). ``deprecated_inputs``:
    with deprecated arguments and input fields too (``includeDeprecated``,
    GraphQL's 2021 edition), which a portal still takes."""
    name = "query" if deprecated_inputs else "query_2018"
    query: str | None = _generated().get(name)
    if query is None:
        from graphql import get_introspection_query  # see the module's docstring

        query = get_introspection_query(input_value_deprecation=deprecated_inputs)
    return query


async def introspected(client: PortalClient) -> dict[str, Any]:
    """The portal's introspection answer's data; a ``RemoteError`` when it
    answers with an error. Asked with deprecated arguments and input fields
    included: without them, an input field the portal deprecated but still
    takes would read as missing and refuse the apply. A portal whose
    introspection predates that (an error, no data: ``includeDeprecated``
    unknown on ``args``) is asked once more the 2018 way."""
    response = await client.execute(introspection_query(), label="introspection", verify=False)
    if response.errors and response.data is None:
        response = await client.execute(
            introspection_query(deprecated_inputs=False), label="introspection", verify=False
        )
    return response.raise_for_errors("introspection")


def agrees(introspection: Any, operations: Iterable[tuple[Kind, str]]) -> bool:
    """Whether the schema of ``introspection`` (an introspection answer's
    data) has every fact of ``operations`` as the contract has it. False
    when anything is missing, different, or not the shape of an
    introspection answer, and when the generated facts do not fit the
    sources."""
    known: dict[str, Facts] = _generated().get("operations", {})
    try:
        types = types_of(introspection)
        for k, operation in operations:
            facts = known.get(operation_key(k, operation))
            if facts is None:
                return False
            for fact, value in facts.items():
                if fact_value(types, fact) != value:
                    return False
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return False  # RecursionError: a type reference wrapped past the recursion limit
    return True


def types_of(introspection: Any) -> Types:
    schema = introspection["__schema"]
    types = {t["name"]: t for t in schema["types"]}
    if len(types) != len(schema["types"]):
        raise ValueError("a type is listed twice")  # not a schema: the full check says more
    roots = {
        operation: (schema.get(f"{operation}Type") or {}).get("name")
        for operation in ("query", "mutation")
    }
    return {**types, ROOTS: roots}


def fact_value(types: Types, fact: str) -> str:
    """The value of ``fact`` in the schema of ``types`` (``missing`` for
    what it does not have)."""
    what, _, rest = fact.partition(" ")
    name, _, listed = rest.partition(" ")
    named = [n for n in listed.split(",") if n]
    if what == "root":
        return str(types[ROOTS].get(name) or "missing")
    if what == "type":
        found = types.get(name)
        return str(found["kind"]) if found else "missing"
    if what == "field":
        parent_name, _, field_name = name.partition(".")
        parent = types.get(parent_name)
        if parent is None:
            return "missing"
        field = _by_name(parent.get("fields") or ()).get(field_name)
        if field is None:
            return "missing"
        inner = types.get(_named(field["type"]))
        inner_kind = str(inner["kind"]) if inner else "missing"
        arguments = _members(_by_name(field["args"]), named)
        return f"{parent['kind']} {type_text(field['type'])} {inner_kind} ({arguments})"
    if what == "input":
        found = types.get(name)
        if found is None:
            return "missing"
        return f"{found['kind']} ({_members(_by_name(found.get('inputFields') or ()), named)})"
    if what == "enum":
        found = types.get(name)
        if found is None:
            return "missing"
        values = {v["name"] for v in found.get("enumValues") or ()}
        listed_values = ", ".join(v if v in values else f"{v}: missing" for v in named)
        return f"{found['kind']} ({listed_values})"
    raise ValueError(f"unknown fact {fact!r}")


def _by_name(members: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {m["name"]: m for m in members}


def _members(members: Mapping[str, Mapping[str, Any]], used: Sequence[str]) -> str:
    """The ``used`` arguments or input fields as the schema has them, then
    the non-null ones not used, with a default or without: graphql-core reads
    a default that is no value of the type (``Boolean! = null``) as none, and
    the input check refuses a non-null input field konvsync never sends (an
    update leaving it out would set it to its default)."""
    parts = [f"{name}: {_member(members[name]) if name in members else 'missing'}" for name in used]
    parts += [
        f"{name}: {_member(member)} (not sent)"
        for name, member in sorted(members.items())
        if name not in used and member["type"]["kind"] == "NON_NULL"
    ]
    return ", ".join(parts)


def _member(member: Mapping[str, Any]) -> str:
    default = " = default" if member.get("defaultValue") is not None else ""
    return type_text(member["type"]) + default


def type_text(ref: Mapping[str, Any]) -> str:
    """A type reference of an introspection answer as written (``[ID!]!``)."""
    if ref["kind"] == "NON_NULL":
        return type_text(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{type_text(ref['ofType'])}]"
    return str(ref["name"])


def _named(ref: Mapping[str, Any]) -> str:
    while ref["kind"] in ("NON_NULL", "LIST"):
        ref = ref["ofType"]
    return str(ref["name"])


# -------------------------------------------------------------- generating


def _sources_digest(kinds: Sequence[Kind], contract: str | None = None) -> str:
    """A digest of the operations' sources (``operations.sources_digest``:
    the contract and the kinds' documents) and of the input fields konvsync
    sends for each kind."""
    digest = hashlib.sha256(operations.sources_digest(kinds, contract).encode())
    sent = {
        k.name: [
            [name, f.shape, [s.name for s in f.subfields]] for name, f in k.input_fields.items()
        ]
        for k in operations.documented_kinds(kinds)
    }
    digest.update(json.dumps(sent, sort_keys=True).encode())
    return digest.hexdigest()


def generated_text(kinds: Sequence[Kind], contract: str) -> str:
    """``schema_facts.json`` for ``kinds`` and the ``contract`` (SDL)."""
    from graphql import build_schema, get_introspection_query, graphql_sync

    from konvsync.api.input_check import misfits

    schema = build_schema(contract)
    query = get_introspection_query(input_value_deprecation=True)
    introspection = graphql_sync(schema, query).data
    types = types_of(introspection)
    by_operation: dict[str, Facts] = {}
    wanted = [
        (k, op)
        for k in operations.documented_kinds(kinds)
        for op in [*operations.mutation_operations(k), k.get_operation]
        if operations.has_operation(k, op)
    ]
    problems = misfits(schema, wanted)
    if problems:  # the contract itself must take what konvsync sends
        raise ValueError("; ".join(problems))
    for k, operation in wanted:
        by_operation[operation_key(k, operation)] = {
            fact: fact_value(types, fact) for fact in _facts_of(schema, k, operation)
        }
    data = {
        "comment": "generated by python -m konvsync.cli.generate, do not edit "
        "(see konvsync/api/schema_facts.py)",
        "sources": _sources_digest(kinds, contract),
        "query": query,
        "query_2018": get_introspection_query(),
        "operations": by_operation,
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _facts_of(schema: GraphQLSchema, k: Kind, operation: str) -> list[str]:
    """The facts validating ``operation``'s document against a schema, and
    comparing the input fields ``k`` sends, read (the contract's ``schema``
    gives the input types the variables have)."""
    from graphql import (
        FieldNode,
        FragmentDefinitionNode,
        GraphQLEnumType,
        GraphQLInputObjectType,
        InlineFragmentNode,
        OperationDefinitionNode,
        TypeInfo,
        TypeInfoVisitor,
        VariableDefinitionNode,
        Visitor,
        get_named_type,
        parse,
        type_from_ast,
        visit,
    )

    from konvsync.api.documents import operation_text

    facts: dict[str, None] = {}
    inputs: list[GraphQLInputObjectType] = []
    document = parse(operation_text(k, operation))
    type_info = TypeInfo(schema)

    class Collect(Visitor):
        def enter(self, node: Any, *_: Any) -> None:
            if isinstance(node, FieldNode) and node.name.value != "__typename":
                parent = type_info.get_parent_type()
                assert parent is not None, f"{operation}: {node.name.value} has no parent type"
                used = ",".join(a.name.value for a in node.arguments or ())
                facts[f"field {parent.name}.{node.name.value} {used}".rstrip()] = None
            elif isinstance(node, OperationDefinitionNode):
                facts[f"root {node.operation.value}"] = None
            elif isinstance(node, FragmentDefinitionNode | InlineFragmentNode):
                if node.type_condition is not None:
                    facts[f"type {node.type_condition.name.value}"] = None
            elif isinstance(node, VariableDefinitionNode):
                named = get_named_type(type_from_ast(schema, node.type))
                assert named is not None, f"{operation}: unknown variable type"
                facts[f"type {named.name}"] = None
                if isinstance(named, GraphQLInputObjectType):
                    inputs.append(named)

    visit(document, TypeInfoVisitor(type_info, Collect()))

    def enums(type_: GraphQLInputObjectType, names: Sequence[str]) -> None:
        for name in names:
            named = get_named_type(type_.fields[name].type) if name in type_.fields else None
            if isinstance(named, GraphQLEnumType):
                facts[f"enum {named.name} {','.join(named.values)}"] = None

    sent = k.input_fields
    for type_ in inputs:
        facts[f"input {type_.name} {','.join(sent)}".rstrip()] = None
        enums(type_, list(sent))
        for name, f in sent.items():
            nested = get_named_type(type_.fields[name].type) if name in type_.fields else None
            if not isinstance(nested, GraphQLInputObjectType):
                continue
            if f.shape == "map":
                facts[f"input {nested.name} {','.join(MAP_ENTRY_FIELDS)}"] = None
                enums(nested, MAP_ENTRY_FIELDS)
            elif f.shape == "object":
                facts[f"input {nested.name} {','.join(s.name for s in f.subfields)}"] = None
                enums(nested, [s.name for s in f.subfields])
    return list(facts)
