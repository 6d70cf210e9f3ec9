"""What the sandbox stores of each kind, derived from ``konvsync.kinds`` and
the contract (``schemas/konvert.graphql``), never listed by hand.

A kind's output type (``Group``) and input type (``GroupInput``) say which
fields an object has, which are non-null (required on create, never
cleared), which hold references (``groupIds: [ID!]`` -> ``groups``, via the
kind's ``Field.input_name``), which are DateTimes and which list the kind's
children (``Account.locations``). Objects are stored under their output
field names, references as the referred objects' numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    build_schema,
    get_named_type,
)

from konvsync.kinds import KINDS, Field, Kind
from konvsync.support.resources import konvert_sdl


@dataclass(frozen=True)
class Column:
    """One input field of a kind and where its value is stored."""

    input_name: str
    name: str
    """The output field it is stored under (``groupIds`` -> ``groups``)."""
    field: Field | None
    """The kind's declaration of it, when the kind has one."""
    many: bool
    non_null: bool
    """The output field is non-null: required on create unless it has a
    default, never set to null (a list given null is emptied)."""
    text: bool
    boolean: bool
    datetime: bool
    default: Any

    @property
    def ref(self) -> str | None:
        return self.field.ref if self.field is not None else None

    @property
    def keys_ref(self) -> str | None:
        return self.field.keys_ref if self.field is not None else None

    @property
    def required(self) -> bool:
        return self.non_null and self.default is None


@dataclass(frozen=True)
class Table:
    """A kind as the sandbox stores and serves it."""

    kind: Kind
    prefix: str
    columns: tuple[Column, ...]
    stamped: bool
    """The type has createdAt and updatedAt."""
    children: tuple[Kind, ...]
    """Kinds whose objects live in this one's (listed by its field of their name)."""
    unique: bool
    """The natural key is unique (top-level kinds whose kind says so: the
    contract makes no child's key unique)."""

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def singular(self) -> str:
        return self.kind.singular

    @cached_property
    def by_input(self) -> dict[str, Column]:
        return {c.input_name: c for c in self.columns}

    def column(self, input_name: str) -> Column | None:
        return self.by_input.get(input_name)

    def fresh(self) -> dict[str, Any]:
        """A new object's data before its input: every field at its default."""
        return {c.name: list(c.default) if c.many else c.default for c in self.columns}

    @cached_property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    @cached_property
    def refs(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.ref is not None and c.ref != self.kind.parent)

    @cached_property
    def maps(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.keys_ref is not None)


def _unwrap(kind: GraphQLType) -> tuple[bool, bool, GraphQLNamedType]:
    """(non-null, list, named type) of a field type."""
    non_null = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    return non_null, isinstance(inner, GraphQLList), get_named_type(inner)


def _column(kind: Kind, output: GraphQLObjectType, input_name: str, kind_type: Any) -> Column:
    field = next((f for f in kind.fields if f.input_key == input_name), None)
    name = field.name if field is not None else input_name
    out_field = output.fields.get(name)
    non_null, many, named = _unwrap(out_field.type if out_field else kind_type)
    if out_field is None:
        non_null = False
    default: Any = None
    if field is not None and field.export_default is not None:
        default = field.export_default
    elif non_null and many:
        default = []
    elif non_null and named.name == "Boolean":
        default = False
    return Column(
        input_name=input_name,
        name=name,
        field=field,
        many=many,
        non_null=non_null,
        text=named.name in ("String", "ID"),
        boolean=named.name == "Boolean",
        datetime=isinstance(named, GraphQLScalarType) and named.name == "DateTime",
        default=default,
    )


def _table(schema: GraphQLSchema, kind: Kind, kinds: Sequence[Kind]) -> Table | None:
    output = schema.get_type(kind.type_name)
    given = schema.get_type(f"{kind.type_name}Input")
    if not isinstance(output, GraphQLObjectType):
        return None
    columns: list[Column] = []
    if isinstance(given, GraphQLInputObjectType):
        for input_name, input_field in given.fields.items():
            columns.append(_column(kind, output, input_name, input_field.type))
    elif kind.reference:  # authored in the portal: stored as the type has it
        for name, out_field in output.fields.items():
            if name != "id":
                columns.append(_column(kind, output, name, out_field.type))
    children = tuple(
        k for k in kinds if k.parent == kind.name and k.name in output.fields and k is not kind
    )
    return Table(
        kind=kind,
        prefix=kind.id_prefix or kind.name[:3].lower(),
        columns=tuple(columns),
        stamped="createdAt" in output.fields and "updatedAt" in output.fields,
        children=children,
        unique=kind.unique_key and kind.parent is None,
    )


def output_type(schema: GraphQLSchema, kind: Kind) -> GraphQLObjectType | None:
    found = schema.get_type(kind.type_name)
    return found if isinstance(found, GraphQLObjectType) else None


def is_list(kind: GraphQLOutputType) -> bool:
    return _unwrap(kind)[1]


def build_tables(kinds: Sequence[Kind], sdl: str) -> dict[str, Table]:
    """Every kind of ``kinds`` that schema ``sdl`` has a type for, by kind name."""
    schema = build_schema(sdl)
    out: dict[str, Table] = {}
    for kind in kinds:
        found = _table(schema, kind, kinds)
        if found is not None:
            out[kind.name] = found
    return out


@cache
def tables() -> dict[str, Table]:
    """Every kind konvsync knows, as the contract has it."""
    return build_tables(KINDS, konvert_sdl())
