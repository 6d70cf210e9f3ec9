"""Queries and mutations without graphql-core's per-field machinery.

graphql-core completes every field of every node through several Python
calls (resolve info, completion by type, leaf serialization): about 4 ms for
a page of 100 users, four times what the store needs to read them, and it
coerces every variable of a 50-create batch through its general walk. For
the common shapes (fields and fragment spreads of the field's own type, no
directives, no repeated response keys; mutation arguments given as
variables) the sandbox compiles the document once into projections and
input checks and runs it directly: the same resolvers, the same scalar
serialization, the same result.

Anything unusual falls back to graphql-core: a shape this module does not
compile, variables not already in their canonical form, a resolver error or
a null where the schema says non-null in a query. Queries change nothing, so
running one again through graphql-core is safe; a mutation falls back only
before any of its fields has run. ``tests/sandbox/test_fast_execution.py``
checks that both paths agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
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
    VariableNode,
    get_argument_values,
    get_named_type,
    is_leaf_type,
    located_error,
    type_from_ast,
)
from graphql.execution.values import get_variable_values

from konvsync.sandbox.fast_inputs import Check, Fallback, NotCompiled, has_default, input_checker

Project = Callable[[Any, "_Info"], Any]


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


@dataclass(frozen=True)
class _MutationField:
    response_key: str
    definition: GraphQLField
    node: FieldNode
    arguments: tuple[tuple[str, str], ...]
    """(argument name, variable name) for each argument given."""
    defaulted: tuple[str, ...]
    """Variables given to arguments that have a default (they must be sent)."""
    project: Project


@dataclass(frozen=True)
class CompiledMutation:
    """Root mutation fields run one after the other, as graphql-core does;
    each failure is that field's error and null, the others go on (the
    contract's mutation fields are all nullable, or this is not compiled)."""

    variables: tuple[tuple[str, Check], ...]
    required: frozenset[str]
    """Variables of a non-null type: graphql-core refuses the request without them."""
    fields: tuple[_MutationField, ...]

    def run(self, context: Any, variables: dict[str, Any] | None) -> ExecutionResult:
        given = variables or {}
        names = {name for name, _ in self.variables}
        if not names.issuperset(given) or not self.required.issubset(given):
            raise Fallback
        if any(var not in given for field in self.fields for var in field.defaulted):
            raise Fallback  # the schema's default applies: graphql-core's job
        coerced = {name: check(given[name]) for name, check in self.variables if name in given}
        info = _Info(context)
        data: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for field in self.fields:
            args = {arg: coerced[var] for arg, var in field.arguments if var in coerced}
            try:
                value = field.definition.resolve(None, cast(GraphQLResolveInfo, info), **args)  # type: ignore[misc]
                data[field.response_key] = field.project(value, info)
            except Exception as exc:
                data[field.response_key] = None
                errors.append(_located(exc, field))
        return ExecutionResult(data, errors or None)


def _located(exc: Exception, field: _MutationField) -> GraphQLError:
    if isinstance(exc, Fallback):
        exc = GraphQLError("internal error: the result does not fit the schema")
    return located_error(exc, [field.node], [field.response_key])


def compile_operation(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> CompiledQuery | CompiledMutation | None:
    """The compiled operation, or None when the document is not of the shape
    this module runs (graphql-core then executes it)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].directives:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        if chosen[0].operation == OperationType.QUERY:
            return _compile_query(schema, chosen[0], fragments)
        if chosen[0].operation == OperationType.MUTATION:
            return _compile_mutation(schema, chosen[0], fragments)
    except (NotCompiled, KeyError):
        return None
    return None


def _compile_query(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> CompiledQuery:
    query_type = schema.query_type
    if query_type is None:
        raise NotCompiled
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
    return CompiledQuery(operation, root)


def _compile_mutation(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> CompiledMutation:
    mutation_type = schema.mutation_type
    if mutation_type is None:
        raise NotCompiled
    variables = []
    required = set()
    for definition in operation.variable_definitions or ():
        var_type = type_from_ast(schema, definition.type)
        if definition.default_value is not None or definition.directives or var_type is None:
            raise NotCompiled
        name = definition.variable.name.value
        variables.append((name, input_checker(var_type)))  # type: ignore[arg-type]
        if isinstance(var_type, GraphQLNonNull):
            required.add(name)
    fields = []
    for key, node in _field_nodes(operation.selection_set, mutation_type, fragments):
        definition = mutation_type.fields[node.name.value]
        if isinstance(definition.type, GraphQLNonNull) or definition.resolve is None:
            raise NotCompiled
        given = {}
        for argument in node.arguments or ():
            if not isinstance(argument.value, VariableNode):
                raise NotCompiled
            given[argument.name.value] = argument.value.name.value
        defaulted = []
        for name, argument_definition in definition.args.items():
            if has_default(argument_definition):
                if name not in given:
                    raise NotCompiled
                defaulted.append(given[name])
        fields.append(
            _MutationField(
                key,
                definition,
                node,
                tuple(given.items()),
                tuple(defaulted),
                _projector(definition.type, node, fragments),
            )
        )
    return CompiledMutation(tuple(variables), frozenset(required), tuple(fields))


def _field_nodes(
    selection_set: SelectionSetNode | None,
    parent: GraphQLObjectType,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[tuple[str, FieldNode]]:
    """The fields selected on ``parent`` in order, fragment spreads of its
    own type inlined; anything else is not compiled."""
    if selection_set is None:
        raise NotCompiled
    out: list[tuple[str, FieldNode]] = []
    for selection in selection_set.selections:
        if selection.directives:
            raise NotCompiled
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                raise NotCompiled
            out.append(((selection.alias or selection.name).value, selection))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.type_condition.name.value != parent.name:
                raise NotCompiled
            if fragment.directives or getattr(selection, "arguments", None):
                raise NotCompiled
            out.extend(_field_nodes(fragment.selection_set, parent, fragments))
        else:
            raise NotCompiled
    keys = [key for key, _ in out]
    if len(set(keys)) != len(keys):
        raise NotCompiled  # merging repeated keys is graphql-core's job
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
        raise NotCompiled  # interfaces and unions
    fields = []
    for key, child in _field_nodes(node.selection_set, type_, fragments):
        if child.arguments:
            raise NotCompiled
        definition = type_.fields[child.name.value]
        named = get_named_type(definition.type)
        same = _UNCHANGED.get(named.name) if definition.resolve is None else None
        fields.append(
            (
                key,
                child.name.value,
                definition.resolve,
                _projector(definition.type, child, fragments),
                same,
            )
        )

    def obj(value: Any, info: _Info) -> Any:
        if value is None:
            return None
        result: dict[str, Any] = {}
        for key, name, resolve, project, same in fields:
            raw = resolve(value, info) if resolve is not None else value.get(name)
            # A str for String/ID, a bool for Boolean: serialized as it is.
            result[key] = raw if type(raw) is same else project(raw, info)
        return result

    return obj


_UNCHANGED: dict[str, type] = {"String": str, "ID": str, "Boolean": bool}
"""Scalars whose serializer returns a value of this Python type unchanged."""
