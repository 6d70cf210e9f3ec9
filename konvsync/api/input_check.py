"""The input side of the schema check: every input object field and
argument konvsync sends, generated from the kinds, against a live schema.

Validating konvsync's documents checks their arguments and variable types,
but not what goes inside the variables: a portal whose ``GroupInput`` calls
the key ``customId``, types ``name`` as ``Int``, requires it (an update that
leaves it out is refused) or has no ``MANAGE_NEWS`` in ``Permission``
accepts every document and refuses the first write. Each input field
konvsync sends must be in the portal's input type with a type that takes
every value the contract's does (GraphQL's rule for a safe change of an
input field: the same scalar, a list where the contract has a list,
non-null only where the contract has it; an input object's fields and an
enum's values are compared, not their names), an enum must have every
value konvsync sends (``doctor``: every value the contract lists), and an
update's input field no default (GraphQL fills it in where an update
leaves the field out). Whatever the portal adds is not compared.
``doctor`` checks every kind's mutations this way; ``apply`` checks the
operations it is about to send before its first write.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping

from graphql import (
    GraphQLDefaultInput,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    NamedTypeNode,
    TypeNode,
    ast_from_value,
    get_named_type,
    parse,
    print_ast,
    validate,
)

from konvsync.api.documents import contract_schema, operation_text
from konvsync.api.operations import mutation_operations
from konvsync.kinds import WRITABLE_KINDS
from konvsync.kinds.base import MAP_ENTRY_FIELDS, Kind


def misfits(
    schema: GraphQLSchema,
    operations: Iterable[tuple[Kind, str]] | None = None,
    values: Mapping[str, Collection[str]] | None = None,
) -> list[str]:
    """What ``schema`` does not take of the given (kind, operation) pairs
    (default: every mutation of every writable kind), one line each.
    ``values``: the values an apply sends, by kind and field
    (``groups.permissions``), of which an enum must have each; by default
    every value the contract lists (konvsync may send any)."""
    if operations is None:
        operations = [(k, op) for k in WRITABLE_KINDS for op in mutation_operations(k)]
    out: list[str] = []
    checked: set[tuple[str, bool]] = set()
    found: set[str] = set()  # a create's and an update's input type: each misfit once
    for k, operation in operations:
        text = operation_text(k, operation)
        errors = validate(schema, parse(text))
        out.extend(f"{operation}: {error.message}" for error in errors)
        if errors:
            continue
        patch = operation == k.update_operation
        for definition in k.operation(operation).variable_definitions or ():
            type_ = schema.get_type(get_named_type_name(definition.type))
            if isinstance(type_, GraphQLInputObjectType) and (type_.name, patch) not in checked:
                checked.add((type_.name, patch))
                problems = [m for m in _object_misfits(k, type_, patch, values) if m not in found]
                found.update(problems)
                out.extend(f"{operation}: {m}" for m in problems)
    return out


def get_named_type_name(node: TypeNode) -> str:
    while not isinstance(node, NamedTypeNode):
        node = node.type  # type: ignore[attr-defined]
    return node.name.value


def _object_misfits(
    k: Kind,
    type_: GraphQLInputObjectType,
    patch: bool,
    values: Mapping[str, Collection[str]] | None,
) -> list[str]:
    """``patch``: ``type_`` is an update's input, which sends only the
    fields that change."""
    sent = k.input_fields
    contract = _input_type(type_.name)
    out = _names_misfits(
        type_, contract, {name: f"{k.name}.{f.name}" for name, f in sent.items()}, patch, values
    )
    for name, f in sent.items():
        live = type_.fields.get(name)
        if live is None or contract is None or name not in contract.fields:
            continue
        nested = get_named_type(live.type)
        expected = get_named_type(contract.fields[name].type)
        if not isinstance(expected, GraphQLInputObjectType):
            continue
        if f.shape == "map" and isinstance(nested, GraphQLInputObjectType):
            out += _names_misfits(
                nested, expected, {name: f"{k.name}.{f.name} entries" for name in MAP_ENTRY_FIELDS}
            )
        elif f.shape == "object" and isinstance(nested, GraphQLInputObjectType):
            out += _names_misfits(
                nested,
                expected,
                {sub.name: f"{k.name}.{f.name}.{sub.name}" for sub in f.subfields},
            )
    return out


def _input_type(name: str) -> GraphQLInputObjectType | None:
    """The contract's input type ``name`` (None: not in the contract)."""
    found = contract_schema().get_type(name)
    return found if isinstance(found, GraphQLInputObjectType) else None


def _names_misfits(
    type_: GraphQLInputObjectType,
    contract: GraphQLInputObjectType | None,
    names: dict[str, str],
    patch: bool = False,
    values: Mapping[str, Collection[str]] | None = None,
) -> list[str]:
    """``names``: input field -> what konvsync sends in it; ``contract``:
    the contract's type of the same place, whose fields' types the
    portal's must take. ``patch``: konvsync leaves out the fields that do
    not change, so a default the portal gives one (GraphQL fills it in
    where a field is left out) would overwrite what the object holds."""
    live = list(type_.fields)
    unused = [name for name in live if name not in names]
    out = []
    for name in names:
        if name in type_.fields:
            if contract is not None and name in contract.fields:
                out += _type_misfits(
                    f"{type_.name}.{name}",
                    contract.fields[name].type,
                    type_.fields[name].type,
                    names[name],
                    values,
                )
            field = type_.fields[name]
            if patch and field.default is not None:
                out.append(
                    f"the portal's {type_.name}.{name} has a default "
                    f"({_shown(field.default, field.type)}), which an update that leaves it "
                    "out sets (konvsync sends only what changes)"
                )
            continue
        close = difflib.get_close_matches(name, unused, n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean {close[0]}?"
        elif unused:
            hint = f"; it has {', '.join(unused)}, which konvsync does not send"
        else:
            hint = ""
        out.append(f"{type_.name} has no field {name} (konvsync sends {names[name]} in it){hint}")
    for name in unused:
        if isinstance(type_.fields[name].type, GraphQLNonNull):
            out.append(f"{type_.name} requires {name}, which konvsync never sends")
    return out


def _shown(default: GraphQLDefaultInput, type_: GraphQLInputType) -> str:
    """A default as GraphQL writes it (``[]``)."""
    literal = default.literal or ast_from_value(default.value, type_)
    return print_ast(literal) if literal else "null"


def _type_misfits(
    where: str,
    expected: GraphQLInputType,
    live: GraphQLInputType,
    sent: str,
    values: Mapping[str, Collection[str]] | None,
) -> list[str]:
    """Whether the portal's type ``live`` of the input field ``where``
    takes every value the contract's ``expected`` does: GraphQL's safe
    change of an input field, and the enum values sent (``values``, by
    default every value of the contract's enum)."""
    if not _takes(expected, live):
        return [
            f"the portal's {where} is {live}, the contract's {expected} "
            f"(konvsync sends {sent} in it)"
        ]
    have, want = get_named_type(live), get_named_type(expected)
    if isinstance(have, GraphQLEnumType) and isinstance(want, GraphQLEnumType):
        given = None if values is None else values.get(sent, ())
        who = "konvsync may send" if given is None else "this apply sends"
        return [
            f"the portal's {have.name} has no value {value} ({who} it in {sent})"
            for value in want.values
            if value not in have.values and (given is None or value in given)
        ]
    return []


def _takes(expected: GraphQLInputType, live: GraphQLInputType) -> bool:
    """GraphQL's rule (graphql-js ``findBreakingChanges``) for an input
    field whose type changed from ``expected`` to ``live``, but for the
    names of input objects and enums: inside a variable (JSON) they name
    nothing, and their fields and values are compared on their own."""
    if isinstance(expected, GraphQLList):
        return isinstance(live, GraphQLList) and _takes(expected.of_type, live.of_type)
    if isinstance(expected, GraphQLNonNull):
        inner = live.of_type if isinstance(live, GraphQLNonNull) else live
        return _takes(expected.of_type, inner)
    if isinstance(live, GraphQLList | GraphQLNonNull):
        return False
    if isinstance(expected, GraphQLInputObjectType | GraphQLEnumType):
        return type(live) is type(expected)
    return live.name == expected.name
