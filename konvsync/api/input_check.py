"""The input side of the schema check: every input object field and
argument konvsync sends, generated from the kinds, against a live schema.

Validating konvsync's documents checks their arguments and variable types,
but not what goes inside the variables: a portal whose ``GroupInput`` calls
the key ``customId`` accepts every document and refuses the first create.
``doctor`` checks every kind's mutations this way; ``apply`` checks the
operations it is about to send before its first write.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from graphql import (
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLSchema,
    NamedTypeNode,
    TypeNode,
    get_named_type,
    parse,
    validate,
)

from konvsync.api.documents import operation_text
from konvsync.api.operations import mutation_operations
from konvsync.kinds import WRITABLE_KINDS
from konvsync.kinds.base import MAP_ENTRY_FIELDS, Kind


def misfits(
    schema: GraphQLSchema, operations: Iterable[tuple[Kind, str]] | None = None
) -> list[str]:
    """What ``schema`` does not take of the given (kind, operation) pairs
    (default: every mutation of every writable kind), one line each."""
    if operations is None:
        operations = [(k, op) for k in WRITABLE_KINDS for op in mutation_operations(k)]
    out: list[str] = []
    checked: set[str] = set()
    for k, operation in operations:
        text = operation_text(k, operation)
        errors = validate(schema, parse(text))
        out.extend(f"{operation}: {error.message}" for error in errors)
        if errors:
            continue
        for definition in k.operation(operation).variable_definitions or ():
            type_ = schema.get_type(get_named_type_name(definition.type))
            if isinstance(type_, GraphQLInputObjectType) and type_.name not in checked:
                checked.add(type_.name)
                out.extend(f"{operation}: {m}" for m in _object_misfits(k, type_))
    return out


def get_named_type_name(node: TypeNode) -> str:
    while not isinstance(node, NamedTypeNode):
        node = node.type  # type: ignore[attr-defined]
    return node.name.value


def _object_misfits(k: Kind, type_: GraphQLInputObjectType) -> list[str]:
    sent = k.input_fields
    out = _names_misfits(type_, {name: f"{k.name}.{f.name}" for name, f in sent.items()})
    for name, f in sent.items():
        live = type_.fields.get(name)
        if live is None:
            continue
        nested = get_named_type(live.type)
        if f.shape == "map" and isinstance(nested, GraphQLInputObjectType):
            out += _names_misfits(
                nested, {name: f"{k.name}.{f.name} entries" for name in MAP_ENTRY_FIELDS}
            )
        elif f.shape == "object" and isinstance(nested, GraphQLInputObjectType):
            out += _names_misfits(
                nested, {sub.name: f"{k.name}.{f.name}.{sub.name}" for sub in f.subfields}
            )
    return out


def _names_misfits(type_: GraphQLInputObjectType, names: dict[str, str]) -> list[str]:
    """``names``: input field -> what konvsync sends in it."""
    live = list(type_.fields)
    unused = [name for name in live if name not in names]
    out = []
    for name in names:
        if name in type_.fields:
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
