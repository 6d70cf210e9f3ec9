"""Queries without graphql-core's per-field machinery.

graphql-core completes every field of every node through several Python
calls (resolve info, completion by type, leaf serialization): about 4 ms for
a page of 100 users, four times what the store needs to read them. For the
common shape of a query (fields and fragment spreads of the field's own type,
no directives, no repeated response keys) the sandbox compiles the selection
once into a projection and runs it directly: the same resolvers, the same
scalar serialization, the same result.

Anything unusual falls back to graphql-core: a shape this module does not
compile, variables that do not coerce, a resolver error, a null where the
schema says non-null. Queries change nothing, so running one again through
graphql-core after a fallback is safe, and graphql-core then produces the
errors. ``tests/sandbox/test_fast_query.py`` checks both paths agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_argument_values,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_variable_values

Project = Callable[[Any, "_Info"], Any]


class Fallback(Exception):
    """This request needs graphql-core's full execution."""


@dataclass
class _Info:
    """What the sandbox's resolvers read from their ``info``: the context."""

    context: Any


@dataclass(frozen=True)
class _RootField:
    response_key: str
    definition: GraphQLField
    node: FieldNode
    project: Project


@dataclass(frozen=True)
class CompiledQuery:
    operation: OperationDefinitionNode
    fields: tuple[_RootField, ...]

    def run(self, schema: GraphQLSchema, context: Any, variables: dict[str, Any] | None) -> Any:
        """The ``data`` of the result; raises ``Fallback`` for anything unusual."""
        coerced = get_variable_values(
            schema, self.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            raise Fallback
        info = _Info(context)
        data: dict[str, Any] = {}
        try:
            for field in self.fields:
                args = get_argument_values(field.definition, field.node, coerced)
                resolve = field.definition.resolve
                if resolve is None:
                    raise Fallback
                value = resolve(None, cast(GraphQLResolveInfo, info), **args)
                data[field.response_key] = field.project(value, info)
        except (GraphQLError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise Fallback from exc
        return data


def compile_query(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> CompiledQuery | None:
    """The compiled query, or None when the document is not of the shape
    this module runs (graphql-core then executes it)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    query_type = schema.query_type
    if len(chosen) != 1 or chosen[0].operation != OperationType.QUERY or query_type is None:
        return None
    operation = chosen[0]
    if operation.directives:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        nodes = _field_nodes(operation.selection_set, query_type, fragments)
        root = tuple(
            _RootField(
                key,
                query_type.fields[node.name.value],
                node,
                _projector(query_type.fields[node.name.value].type, node, fragments),
            )
            for key, node in nodes
        )
    except (_NotCompiled, KeyError):
        return None
    return CompiledQuery(operation, root)


class _NotCompiled(Exception):
    pass


def _field_nodes(
    selection_set: SelectionSetNode | None,
    parent: GraphQLObjectType,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[tuple[str, FieldNode]]:
    """The fields selected on ``parent`` in order, fragment spreads of its
    own type inlined; anything else is not compiled."""
    if selection_set is None:
        raise _NotCompiled
    out: list[tuple[str, FieldNode]] = []
    for selection in selection_set.selections:
        if selection.directives:
            raise _NotCompiled
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                raise _NotCompiled
            out.append(((selection.alias or selection.name).value, selection))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.type_condition.name.value != parent.name:
                raise _NotCompiled
            if fragment.directives or getattr(selection, "arguments", None):
                raise _NotCompiled
            out.extend(_field_nodes(fragment.selection_set, parent, fragments))
        else:
            raise _NotCompiled
    keys = [key for key, _ in out]
    if len(set(keys)) != len(keys):
        raise _NotCompiled  # merging repeated keys is graphql-core's job
    return out


def _projector(
    type_: GraphQLOutputType, node: FieldNode, fragments: dict[str, FragmentDefinitionNode]
) -> Project:
    """How to turn a resolved value of ``type_`` into its result."""
    if isinstance(type_, GraphQLNonNull):
        inner = _projector(type_.of_type, node, fragments)

        def non_null(value: Any, info: _Info) -> Any:
            if value is None:
                raise Fallback
            return inner(value, info)

        return non_null
    if isinstance(type_, GraphQLList):
        item = _projector(type_.of_type, node, fragments)

        def as_list(value: Any, info: _Info) -> Any:
            if value is None:
                return None
            return [item(v, info) for v in value]

        return as_list
    if is_leaf_type(type_):
        named = get_named_type(type_)
        assert isinstance(named, GraphQLScalarType | GraphQLEnumType)
        serialize = named.serialize

        def leaf(value: Any, info: _Info) -> Any:
            return None if value is None else serialize(value)

        return leaf
    if not isinstance(type_, GraphQLObjectType):
        raise _NotCompiled  # interfaces and unions
    fields = []
    for key, child in _field_nodes(node.selection_set, type_, fragments):
        if child.arguments:
            raise _NotCompiled
        definition = type_.fields[child.name.value]
        fields.append(
            (
                key,
                child.name.value,
                definition.resolve,
                _projector(definition.type, child, fragments),
            )
        )

    def obj(value: Any, info: _Info) -> Any:
        if value is None:
            return None
        result: dict[str, Any] = {}
        for key, name, resolve, project in fields:
            raw = resolve(value, info) if resolve is not None else value.get(name)
            result[key] = project(raw, info)
        return result

    return obj
