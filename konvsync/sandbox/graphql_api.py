"""The sandbox's GraphQL execution: ``schemas/konvert.graphql`` with resolvers
over the store, and contract error codes on every error."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute_sync,
    parse,
    specified_rules,
    validate,
)

from konvsync.resources import konvert_sdl
from konvsync.sandbox.rows import StoreError
from konvsync.sandbox.store import Store

Resolver = Callable[..., Any]


@dataclass
class RequestContext:
    store: Store
    api_key: str
    portal_name: str
    page_cap: int | None
    cache: dict[tuple[str, int], dict[str, Any] | None]
    read_only: bool = False
    locations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
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


def _page(table: str) -> Resolver:
    def read(ctx: RequestContext, first: int | None = 50, after: str | None = None) -> Any:
        connection = ctx.store.page(table, first, after, cap=ctx.page_cap)
        _prefetch(ctx, table, connection["nodes"])
        return connection

    return _store_call(read)


def _prefetch(ctx: RequestContext, table: str, nodes: list[dict[str, Any]]) -> None:
    """Load what a page's nested fields need in a few queries (the DataLoader
    pattern) instead of one query per object and reference."""
    wanted: dict[str, set[int]] = {
        "accounts": set(),
        "groups": set(),
        "lms_modules": set(),
        "dam_categories": set(),
    }
    for node in nodes:
        if node.get("_accountId") is not None:
            wanted["accounts"].add(node["_accountId"])
        wanted["groups"].update(node.get("_groupIds") or node.get("_userGroupIds") or ())
        wanted["lms_modules"].update(node.get("_lmsModuleIds") or ())
        wanted["dam_categories"].update(node.get("_damCategoryIds") or ())
    for name, pks in wanted.items():
        missing = [pk for pk in pks if (name, pk) not in ctx.cache]
        for pk, row in ctx.store.rows_by_id(name, missing).items():
            ctx.cache[name, pk] = row
    if table == "accounts":
        by_account = ctx.store.locations_of_many([node["_pk"] for node in nodes])
        for node in nodes:
            ctx.locations[node["_pk"]] = by_account.get(node["_pk"], [])


def _one(table: str, key: str, column: str, lower: bool = False) -> Resolver:
    def read(ctx: RequestContext, id: str | None = None, **kwargs: Any) -> Any:
        value = kwargs.get(key)
        if (id is None) == (value is None):
            raise StoreError(f"give exactly one of id or {key}", "BAD_USER_INPUT")
        if id is not None:
            return ctx.store.get(table, "id", id)
        return ctx.store.get(table, column, str(value).lower() if lower else value)

    return _store_call(read)


def _cached(ctx: RequestContext, table: str, pk: int) -> dict[str, Any] | None:
    cache_key = (table, pk)
    if cache_key not in ctx.cache:
        ctx.cache[cache_key] = ctx.store.rows_by_id(table, [pk])[pk]
    return ctx.cache[cache_key]


def _groups_of(field: str, table: str = "groups") -> Resolver:
    def resolve(obj: dict[str, Any], info: Info) -> list[dict[str, Any]]:
        ctx: RequestContext = info.context
        out = []
        for pk in obj[field]:
            group = _cached(ctx, table, pk)
            if group is not None:
                out.append(group)
        return out

    return resolve


def _match_field_of(obj: dict[str, Any], info: Info) -> dict[str, Any] | None:
    if obj["_accountMatchFieldId"] is None:
        return None
    return _cached(info.context, "account_fields", obj["_accountMatchFieldId"])


def _account_of(obj: dict[str, Any], info: Info) -> dict[str, Any] | None:
    if obj["_accountId"] is None:
        return None
    return _cached(info.context, "accounts", obj["_accountId"])


def _locations_of(obj: dict[str, Any], info: Info) -> list[dict[str, Any]]:
    ctx: RequestContext = info.context
    prefetched = ctx.locations.get(obj["_pk"])
    return prefetched if prefetched is not None else ctx.store.locations_of(obj["_pk"])


def _mutations() -> dict[str, Resolver]:
    def s(ctx: RequestContext) -> Store:
        return ctx.store

    def store_call(fn: Callable[..., Any]) -> Resolver:
        return _store_call(fn, mutation=True)

    return {
        "createGroup": store_call(lambda c, input: s(c).create_group(input)),
        "updateGroup": store_call(lambda c, id, input: s(c).update_group(id, input)),
        "deleteGroup": store_call(lambda c, id: s(c).delete_group(id)),
        "createAccountField": store_call(lambda c, input: s(c).create_account_field(input)),
        "updateAccountField": store_call(lambda c, id, input: s(c).update_account_field(id, input)),
        "deleteAccountField": store_call(lambda c, id: s(c).delete_account_field(id)),
        "createAccount": store_call(lambda c, input: s(c).create_account(input)),
        "updateAccount": store_call(lambda c, id, input: s(c).update_account(id, input)),
        "deleteAccount": store_call(lambda c, id: s(c).delete_account(id)),
        "createLocation": store_call(
            lambda c, accountId, input: s(c).create_location(accountId, input)
        ),
        "updateLocation": store_call(lambda c, id, input: s(c).update_location(id, input)),
        "deleteLocation": store_call(lambda c, id: s(c).delete_location(id)),
        "createUser": store_call(
            lambda c, input, sendWelcomeEmail=True: s(c).create_user(
                input, send_welcome_email=sendWelcomeEmail is not False
            )
        ),
        "updateUser": store_call(lambda c, id, input: s(c).update_user(id, input)),
        "deleteUser": store_call(lambda c, id: s(c).delete_user(id)),
        "createInviteLink": store_call(lambda c, input: s(c).create_invite_link(input)),
        "updateInviteLink": store_call(lambda c, id, input: s(c).update_invite_link(id, input)),
        "deleteInviteLink": store_call(lambda c, id: s(c).delete_invite_link(id)),
    }


def build_sandbox_schema(sdl: str | None = None) -> GraphQLSchema:
    schema = build_schema(sdl or konvert_sdl())
    query = schema.query_type
    mutation = schema.mutation_type
    assert query is not None and mutation is not None
    query.fields["viewer"].resolve = lambda _o, info: {
        "apiKey": info.context.api_key,
        "portalName": info.context.portal_name,
    }
    for name, table in (
        ("groups", "groups"),
        ("accountFields", "account_fields"),
        ("accounts", "accounts"),
        ("users", "users"),
        ("lmsModules", "lms_modules"),
        ("damCategories", "dam_categories"),
        ("inviteLinks", "invite_links"),
    ):
        if name in query.fields:
            query.fields[name].resolve = _page(table)
    query.fields["group"].resolve = _one("groups", "externalId", "external_id")
    query.fields["account"].resolve = _one("accounts", "externalId", "external_id")
    query.fields["user"].resolve = _one("users", "email", "email_lower", lower=True)
    for name, resolver in _mutations().items():
        if name in mutation.fields:
            mutation.fields[name].resolve = resolver
    account = schema.get_type("Account")
    user = schema.get_type("User")
    assert isinstance(account, GraphQLObjectType) and isinstance(user, GraphQLObjectType)
    account.fields["userGroups"].resolve = _groups_of("_userGroupIds")
    account.fields["locations"].resolve = _locations_of
    user.fields["groups"].resolve = _groups_of("_groupIds")
    user.fields["account"].resolve = _account_of
    group = schema.get_type("Group")
    assert isinstance(group, GraphQLObjectType)
    for name, ids, table in (
        ("lmsModules", "_lmsModuleIds", "lms_modules"),
        ("damCategories", "_damCategoryIds", "dam_categories"),
    ):
        if name in group.fields:
            group.fields[name].resolve = _groups_of(ids, table)
    link = schema.get_type("InviteLink")
    if isinstance(link, GraphQLObjectType):
        link.fields["account"].resolve = _account_of
        link.fields["accountMatchField"].resolve = _match_field_of
        link.fields["groups"].resolve = _groups_of("_groupIds")
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
