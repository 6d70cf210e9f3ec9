"""The sandbox's GraphQL execution: ``schemas/konvert.graphql`` with resolvers
over the store, made for every kind from its type (list and singular
queries, create/update/delete, reference and child fields), and contract
error codes on every error."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    default_field_resolver,
    execute_sync,
    get_named_type,
    parse,
    specified_rules,
    validate,
)

from konvsync.sandbox.database import Row
from konvsync.sandbox.model import Column, Table, is_list, output_type, tables
from konvsync.sandbox.readings import Reader
from konvsync.sandbox.rows import StoreError
from konvsync.sandbox.store import Store
from konvsync.support.resources import konvert_sdl

Resolver = Callable[..., Any]


@dataclass
class RequestContext:
    store: Store
    api_key: str
    portal_name: str
    page_cap: int | None
    cache: dict[tuple[str, int], Row | None]
    """Objects that nested fields refer to, by (kind, number)."""
    read_only: bool = False
    children: dict[tuple[str, int], list[Row]] = field(default_factory=dict)
    """Prefetched children by (child kind, parent's number)."""
    ignore_fields: tuple[str, ...] = ()


Info = GraphQLResolveInfo[RequestContext]
"""What a resolver is given, with our request context."""


@dataclass
class GraphQLOutcome:
    """What one POST /api produced: the result, and whether it was a request
    error (the document never executed) or contained a mutation."""

    result: ExecutionResult
    request_error: bool
    is_mutation: bool


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", code)
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        extensions,
    )


def _store_call(fn: Callable[..., Any], mutation: bool = False) -> Resolver:
    def resolver(_obj: Any, info: Info, **kwargs: Any) -> Any:
        if mutation and info.context.read_only:
            raise GraphQLError(
                "this service connection may not change data", extensions={"code": "FORBIDDEN"}
            )
        try:
            ignored = _ignored_input(info, kwargs) if mutation else {}
            result = fn(info.context, **kwargs)
            return {**result, **ignored} if ignored else result
        except StoreError as exc:
            raise GraphQLError(str(exc), extensions={"code": exc.code}) from exc

    return resolver


def _ignored_input(info: Info, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The fault ``--ignore-field``: an update's scalar input fields that are
    taken out of the input (so the old value stays) and put back into the
    answer (so the answer claims they were stored)."""
    names = info.context.ignore_fields
    given = kwargs.get("input")
    if not names or "id" not in kwargs or not isinstance(given, dict):  # not an update
        return {}
    ignored = {name: given[name] for name in names if name in given}
    kwargs["input"] = {k: v for k, v in given.items() if k not in ignored}
    return ignored


def _page(t: Table) -> Resolver:
    def read(ctx: RequestContext, first: int | None = 50, after: str | None = None) -> Any:
        connection = ctx.store.page(t.name, first, after, cap=ctx.page_cap)
        _prefetch(ctx, t, connection["nodes"])
        return connection

    return _store_call(read)


def _prefetch(ctx: RequestContext, t: Table, nodes: list[Row]) -> None:
    """Load what a page's nested fields need in a few queries (the DataLoader
    pattern) instead of one query per object and reference: the referred
    objects of each reference field, and the children of each child kind."""
    wanted: dict[str, set[int]] = {}
    for c in t.refs:
        pks = wanted.setdefault(c.ref or "", set())
        for node in nodes:
            value = node.get(c.name)
            if isinstance(value, list):
                pks.update(value)
            elif value is not None:
                pks.add(value)
    for name, pks in wanted.items():
        missing = [pk for pk in pks if (name, pk) not in ctx.cache]
        for pk, row in ctx.store.rows_by_id(name, missing).items():
            ctx.cache[name, pk] = row
    for child in t.children:
        found = ctx.store.children_of(child.name, [node["_pk"] for node in nodes])
        for pk, rows in found.items():
            ctx.children[child.name, pk] = rows


def _one(t: Table, key: str) -> Resolver:
    """A singular lookup by ID or natural key (``user(id, email)``)."""

    def read(ctx: RequestContext, id: str | None = None, **kwargs: Any) -> Any:
        value = kwargs.get(key)
        if (id is None) == (value is None):
            raise StoreError(f"give exactly one of id or {key}", "BAD_USER_INPUT")
        return ctx.store.get(t.name, id=id, key=value)

    return _store_call(read)


def _cached(ctx: RequestContext, kind: str, pk: int) -> Row | None:
    cache_key = (kind, pk)
    if cache_key not in ctx.cache:
        ctx.cache[cache_key] = ctx.store.rows_by_id(kind, [pk])[pk]
    return ctx.cache[cache_key]


def _refers(c: Column) -> Resolver:
    """A reference field: the object (or objects) whose numbers are stored."""
    kind, name = c.ref or "", c.name

    def one(obj: Row, info: Info) -> Row | None:
        pk = obj.get(name)
        return _cached(info.context, kind, pk) if pk is not None else None

    def many(obj: Row, info: Info) -> list[Row]:
        ctx: RequestContext = info.context
        out = []
        for pk in obj.get(name) or ():
            row = _cached(ctx, kind, pk)
            if row is not None:
                out.append(row)
        return out

    return many if c.many else one


def _children(kind: str) -> Resolver:
    def resolve(obj: Row, info: Info) -> list[Row]:
        ctx: RequestContext = info.context
        prefetched = ctx.children.get((kind, obj["_pk"]))
        if prefetched is not None:
            return prefetched
        return ctx.store.children_of(kind, [obj["_pk"]])[obj["_pk"]]

    return resolve


def _mutations(t: Table, mutation: GraphQLObjectType) -> dict[str, Resolver]:
    """create<Type>, update<Type> and delete<Type> of a writable kind. A
    create's ID argument names the parent (``createLocation(accountId:)``);
    its other arguments are options for the kind's rules (sendWelcomeEmail)."""
    stem = t.kind.type_name
    out: dict[str, Resolver] = {}
    create = mutation.fields.get(f"create{stem}")
    if create is not None:
        parent_args = [
            name for name, arg in create.args.items() if get_named_type(arg.type).name == "ID"
        ]

        def create_one(ctx: RequestContext, input: Row, **kwargs: Any) -> Row:
            parent = kwargs.pop(parent_args[0]) if parent_args else None
            return ctx.store.create(t.name, input, parent_id=parent, options=kwargs)

        out[f"create{stem}"] = _store_call(create_one, mutation=True)
    out[f"update{stem}"] = _store_call(
        lambda ctx, id, input: ctx.store.update(t.name, id, input), mutation=True
    )
    out[f"delete{stem}"] = _store_call(lambda ctx, id: ctx.store.delete(t.name, id), mutation=True)
    return out


def _serve_kind(schema: GraphQLSchema, t: Table) -> None:
    query, mutation = schema.query_type, schema.mutation_type
    out = output_type(schema, t.kind)
    if out is None or query is None:
        return
    for name, lookup in query.fields.items():
        if get_named_type(lookup.type) is not out:
            continue
        if name == t.name:
            continue
        keys = [arg for arg in lookup.args if arg != "id"]
        if keys and keys[0] == t.kind.key_field:
            lookup.resolve = _one(t, keys[0])
    connection = query.fields.get(t.name)
    if connection is not None:
        connection.resolve = _page(t)
    if mutation is not None and not t.kind.reference:
        for name, resolver in _mutations(t, mutation).items():
            if name in mutation.fields:
                mutation.fields[name].resolve = resolver
    for c in t.refs:
        if c.name in out.fields:
            out.fields[c.name].resolve = _refers(c)
    for child in t.children:
        if child.name in out.fields:
            out.fields[child.name].resolve = _children(child.name)


def _answer_by(schema: GraphQLSchema, t: Table, reader: Reader) -> None:
    """Answers of kind ``t`` as ``reader``'s readings give them (see
    ``readings``): each affected field's resolver wrapped, so that the
    default reading costs nothing."""
    out = output_type(schema, t.kind)
    query = schema.query_type
    if out is None or query is None:
        return
    r = reader.readings
    connection = query.fields.get(t.name)
    if connection is not None and r.order != "stored":
        _wrap(connection, lambda page, _info: {**page, "nodes": reader.ordered(page["nodes"])})

    parts: list[GraphQLObjectType] = []
    for name, gfield in out.fields.items():
        declared = t.kind.field_map.get(name)
        named = get_named_type(gfield.type)
        if is_list(gfield.type):
            if r.order != "stored" and not (declared is not None and declared.shape == "list"):
                _wrap(gfield, lambda value, _info: reader.ordered(value))
            if r.every_map_key and declared is not None and declared.keys_ref is not None:
                _wrap(gfield, _every_key(declared.keys_ref))
        if isinstance(named, GraphQLObjectType) and declared is not None and not declared.ref:
            parts.append(named)
            if declared.shape == "object" and r.empty_objects:
                _wrap(gfield, _or_empty(reader, tuple(named.fields)))
    for gtype in (out, *parts):
        for gfield in gtype.fields.values():
            named = get_named_type(gfield.type)
            if named.name == "DateTime" and r.datetime_offset is not None:
                _wrap(gfield, lambda value, _info: reader.datetime(value))
            nullable = not isinstance(gfield.type, GraphQLNonNull)
            if named.name == "String" and nullable and r.null_as_blank:
                _wrap(gfield, lambda value, _info: reader.text(value))


def _wrap(gfield: GraphQLField, answer: Callable[[Any, Info], Any]) -> None:
    """Pass what ``gfield``'s resolver answers through ``answer``."""
    inner = gfield.resolve or default_field_resolver

    def resolve(obj: Any, info: Info, **kwargs: Any) -> Any:
        return answer(inner(obj, info, **kwargs), info)

    gfield.resolve = resolve


def _or_empty(reader: Reader, parts: tuple[str, ...]) -> Callable[[Any, Info], Any]:
    """An object field's value, or the object the reading answers for none."""
    return lambda value, _info: value if value is not None else reader.empty_object(parts)


def _every_key(keys_kind: str) -> Callable[[Any, Info], Any]:
    """A map's entries plus a null entry for each key of ``keys_kind`` it lacks."""

    def answer(entries: Any, info: Info) -> Any:
        listed = list(entries or [])
        have = {entry["key"] for entry in listed}
        table = info.context.store.table(keys_kind)
        for row in info.context.store.objects(keys_kind):
            key = row.get(table.kind.key_field)
            if key not in have:
                listed.append({"key": key, "value": None})
        return listed

    return answer


def build_sandbox_schema(
    sdl: str | None = None, kinds: Mapping[str, Table] | None = None, reader: Reader | None = None
) -> GraphQLSchema:
    """The schema with resolvers for every kind (of ``kinds``, by default
    every kind konvsync knows) it has a type of, answering by ``reader``'s
    readings of the contract (by default the sandbox's own)."""
    schema = build_schema(sdl or konvert_sdl())
    query = schema.query_type
    assert query is not None
    query.fields["viewer"].resolve = lambda _o, info: {
        "apiKey": info.context.api_key,
        "portalName": info.context.portal_name,
    }
    for t in (kinds if kinds is not None else tables()).values():
        _serve_kind(schema, t)
        if reader is not None and not reader.readings.answers_as_stored:
            _answer_by(schema, t, reader)
    return schema


class DocumentCache:
    """Parsed and validated documents by query text. Clients send the same
    few documents again and again (a batch of 50 creates is one text), and
    parsing plus validation cost more than executing them."""

    def __init__(self, schema: GraphQLSchema, size: int = 256, introspection: bool = True) -> None:
        self.schema = schema
        self.size = size
        self.rules = None if introspection else (*specified_rules, NoSchemaIntrospectionCustomRule)
        self._entries: OrderedDict[str, DocumentNode | list[GraphQLError]] = OrderedDict()

    def get(self, query: str) -> DocumentNode | list[GraphQLError]:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            return entry
        try:
            document = parse(query)
        except GraphQLError as error:
            return [_coded(error, "BAD_USER_INPUT")]
        errors = validate(self.schema, document, self.rules)
        entry = [_coded(e, "BAD_USER_INPUT") for e in errors] if errors else document
        self._entries[query] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry


def run_graphql(
    documents: DocumentCache,
    context: RequestContext,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> GraphQLOutcome:
    """Parse, validate and execute one request; never raises for bad input."""
    schema = documents.schema
    document = documents.get(query)
    if isinstance(document, list):
        return GraphQLOutcome(ExecutionResult(None, document), True, False)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    is_mutation = any(o.operation == OperationType.MUTATION for o in chosen)
    fields = sum(len(o.selection_set.selections) for o in chosen) if is_mutation else 0
    with _one_commit(context, fields):
        result = execute_sync(
            schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
    if result.errors:
        result.errors = [_error_code(e) for e in result.errors]
        if result.data is None and all(e.path is None for e in result.errors):
            return GraphQLOutcome(result, True, is_mutation)
    return GraphQLOutcome(result, False, is_mutation)


def _one_commit(context: RequestContext, mutations: int) -> AbstractContextManager[None]:
    """A document of several mutations commits once (each is still all or
    nothing on its own); a single mutation is its own transaction."""
    return context.store.request() if mutations > 1 else nullcontext()


def _error_code(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    if error.path is None:
        return _coded(error, "BAD_USER_INPUT")
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        return GraphQLError(
            "internal error",
            error.nodes,
            error.source,
            error.positions,
            error.path,
            None,
            {"code": "INTERNAL"},
        )
    return _coded(error, "INTERNAL")
