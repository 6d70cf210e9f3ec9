"""The sandbox's compiled queries answer exactly as graphql-core does, and
anything they do not handle falls back to graphql-core (with its errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import execute_sync, parse

from konvsync.api.documents import aliased_document, operation_text, viewer_query
from konvsync.kinds import KINDS, kind
from konvsync.sandbox.fast_execution import CompiledMutation, CompiledQuery, compile_operation
from konvsync.sandbox.fast_inputs import Fallback
from konvsync.sandbox.graphql_api import (
    DocumentCache,
    RequestContext,
    build_sandbox_schema,
    run_graphql,
)
from konvsync.sandbox.seed import seed_store
from konvsync.sandbox.store import Store

SCHEMA = build_sandbox_schema()
FULL_CONFIG = Path(__file__).parents[1] / "configs" / "good" / "full.yaml"


@pytest.fixture(scope="module")
def store() -> Store:
    seeded = Store(":memory:")
    seed_store(seeded, str(FULL_CONFIG))
    for index in range(130):  # more than a page
        seeded.create_user(
            {"email": f"extra{index}@example.com", "firstName": "E", "lastName": "X"},
            send_welcome_email=False,
        )
    return seeded


def context(store: Store, page_cap: int | None = None) -> RequestContext:
    return RequestContext(store, "key", "Portal", page_cap, {})


def graphql_core(store: Store, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = execute_sync(
        SCHEMA, parse(query), context_value=context(store), variable_values=variables
    )
    assert not result.errors, result.errors
    return dict(result.data or {})


def compiled(store: Store, query: str, variables: dict[str, Any]) -> Any:
    plan = compile_operation(SCHEMA, parse(query), None)
    assert isinstance(plan, CompiledQuery), "expected this query to compile"
    return plan.run(SCHEMA, context(store), variables)


def konvsync_queries(store: Store) -> list[tuple[str, str, dict[str, Any]]]:
    """Every query konvsync sends: each kind's read pages and lookups."""
    queries: list[tuple[str, str, dict[str, Any]]] = [("Viewer", viewer_query(), {})]
    keys = {"groups": "sales", "accounts": "acme", "users": "JANE@acme.example"}
    for k in KINDS:
        if k.read_via is not None:
            continue
        text = operation_text(k, k.read_operation)
        queries.append((k.read_operation, text, {"first": 100, "after": None}))
        queries.append((f"{k.read_operation} p2", text, {"first": 2, "after": "Y3Vyc29yOjI="}))
        if k.has_operation(k.get_operation) and k.name in keys:
            text = operation_text(k, k.get_operation)
            queries.append((k.get_operation, text, {"key": keys[k.name]}))
            queries.append((f"{k.get_operation} missing", text, {"key": "nope"}))
    return queries


def test_every_konvsync_query_compiles_and_answers_as_graphql_core(store: Store) -> None:
    for label, query, variables in konvsync_queries(store):
        expected = graphql_core(store, query, variables)
        assert compiled(store, query, variables) == expected, label
    users = compiled(store, operation_text(kind("users"), "ReadUsers"), {"first": 100})
    assert len(users["users"]["nodes"]) == 100  # the data is not trivially empty
    assert any(node["groups"] for node in users["users"]["nodes"])


@pytest.mark.parametrize(
    "query",
    [
        "{ a: users(first: 3) { nodes { mail: email id } pageInfo { hasNextPage } } "
        "b: groups { totalCount nodes { permissions } } }",
        "query Q { accounts(first: 5) { nodes { ...A locations { name address { city } } } } }"
        " fragment A on Account { name customFields { key value } userGroups { name } }",
        '{ user(email: "jane@acme.example") { createdAt account { locations { phone } } } }',
    ],
)
def test_aliases_fragments_and_nesting_answer_as_graphql_core(store: Store, query: str) -> None:
    assert compiled(store, query, {}) == graphql_core(store, query, {})


@pytest.mark.parametrize(
    "query",
    [
        "{ users { nodes { __typename email } } }",
        "query ($x: Boolean!) { users { nodes { email @include(if: $x) } } }",
        "{ users { nodes { email ... on User { id } } } }",
        "{ users { nodes { email email } } }",
        'mutation { deleteUser(id: "User_1") }',
        'mutation ($i: ID! = "User_1") { deleteUser(id: $i) }',
        "mutation ($u: UserInput!) { createUser(input: $u) { id } }",
    ],
)
def test_other_shapes_are_left_to_graphql_core(store: Store, query: str) -> None:
    assert compile_operation(SCHEMA, parse(query), None) is None
    outcome = run_graphql(DocumentCache(SCHEMA), context(store), query, {"x": True}, None)
    assert outcome.result.data is not None or outcome.result.errors


def test_errors_fall_back_to_graphql_core_with_their_codes(store: Store) -> None:
    documents = DocumentCache(SCHEMA)
    read = operation_text(kind("users"), "ReadUsers")
    for variables, code in (
        ({"first": 100, "after": "not a cursor"}, "BAD_USER_INPUT"),
        ({"first": 1000}, "BAD_USER_INPUT"),
        ({"first": "ten"}, "BAD_USER_INPUT"),
    ):
        outcome = run_graphql(documents, context(store), read, variables, None)
        errors = outcome.result.formatted.get("errors") or []
        assert [e["extensions"]["code"] for e in errors] == [code], variables
    capped = run_graphql(documents, context(store, page_cap=7), read, {"first": 100}, None)
    assert len(capped.result.data["users"]["nodes"]) == 7  # type: ignore[index]


# ------------------------------------------------------------------ mutations


def fresh_store() -> Store:
    store = Store(":memory:")
    seed_store(store, str(FULL_CONFIG))
    return store


def mutate_both(
    query: str, variables: dict[str, Any], read_only: bool = False
) -> tuple[dict[str, Any], dict[str, Any], Store, Store]:
    """The same mutation through the compiled path and through graphql-core,
    each on its own copy of the seeded portal."""
    fast_store, core_store = fresh_store(), fresh_store()
    plan = compile_operation(SCHEMA, parse(query), None)
    assert isinstance(plan, CompiledMutation), "expected this mutation to compile"
    fast_context, core_context = context(fast_store), context(core_store)
    fast_context.read_only = core_context.read_only = read_only
    fast = plan.run(fast_context, variables).formatted
    core = execute_sync(
        SCHEMA, parse(query), context_value=core_context, variable_values=variables
    ).formatted
    return _untimed(fast), _untimed(core), fast_store, core_store


def _untimed(value: Any) -> Any:
    """``value`` without its ``...At`` stamps (the two copies are written
    microseconds apart)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if not k.endswith("At")}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def table(store: Store, name: str) -> list[dict[str, Any]]:
    rows = store.page(name, 100, None)["nodes"]
    return [{k: v for k, v in row.items() if not k.endswith("At")} for row in rows]


def test_batched_creates_answer_and_write_as_graphql_core() -> None:
    query = aliased_document(kind("users"), "CreateUser", 4)
    account = fresh_store().get("accounts", "external_id", "acme")
    assert account is not None
    inputs = [
        {"email": "a@x.example", "firstName": "A", "lastName": "X", "accountId": account["id"]},
        {"email": "JANE@acme.example", "firstName": "Dup", "lastName": "X"},  # CONFLICT
        {"email": "b@x.example", "firstName": "B", "lastName": "X", "accountId": "Account_999"},
        {"email": "c@x.example", "firstName": "C", "lastName": "X", "groupIds": []},
    ]
    variables: dict[str, Any] = {}
    for index, data in enumerate(inputs):
        variables[f"input_{index}"] = data
        variables[f"sendWelcomeEmail_{index}"] = index == 3
    fast, core, fast_store, core_store = mutate_both(query, variables)
    assert fast == core
    assert [e["extensions"]["code"] for e in fast["errors"]] == ["CONFLICT", "NOT_FOUND"]
    assert table(fast_store, "users") == table(core_store, "users")
    assert fast_store.welcome_emails() == core_store.welcome_emails() == ["c@x.example"]


@pytest.mark.parametrize(
    ("operation", "variables"),
    [
        ("UpdateUser", {"id_0": "User_1", "input_0": {"title": None, "groupIds": []}}),
        ("UpdateUser", {"id_0": "User_77", "input_0": {"title": "x"}}),
        ("DeleteUser", {"id_0": "User_2"}),
        ("DeleteUser", {"id_0": "nonsense"}),
    ],
)
def test_updates_and_deletes_answer_as_graphql_core(
    operation: str, variables: dict[str, Any]
) -> None:
    fast, core, fast_store, core_store = mutate_both(
        aliased_document(kind("users"), operation, 1), variables
    )
    assert fast == core
    assert table(fast_store, "users") == table(core_store, "users")


def test_a_read_only_connection_is_refused_per_field_as_graphql_core() -> None:
    query = aliased_document(kind("groups"), "DeleteGroup", 2)
    fast, core, fast_store, _ = mutate_both(query, {"id_0": "Group_1", "id_1": "Group_2"}, True)
    assert fast == core
    assert [e["extensions"]["code"] for e in fast["errors"]] == ["FORBIDDEN", "FORBIDDEN"]
    assert len(table(fast_store, "groups")) == 2


@pytest.mark.parametrize(
    "variables",
    [
        {"input_0": {"email": 5, "firstName": "A", "lastName": "B"}, "sendWelcomeEmail_0": False},
        {"input_0": {"email": "a@b.c", "nick": "A"}, "sendWelcomeEmail_0": False},
        {"input_0": {"email": "a@b.c", "firstName": "A", "lastName": "B"}},  # schema default
        {"input_0": {"email": "a@b.c", "firstName": "A", "lastName": "B", "groupIds": "Group_1"}},
        {"sendWelcomeEmail_0": False},  # a required variable left out
    ],
)
def test_unusual_variables_are_left_to_graphql_core(variables: dict[str, Any]) -> None:
    store = fresh_store()
    before = table(store, "users")
    query = aliased_document(kind("users"), "CreateUser", 1)
    plan = compile_operation(SCHEMA, parse(query), None)
    assert isinstance(plan, CompiledMutation)
    with pytest.raises(Fallback):
        plan.run(context(store), variables)
    assert table(store, "users") == before  # nothing ran
    outcome = run_graphql(DocumentCache(SCHEMA), context(store), query, variables, None)
    expected = execute_sync(
        SCHEMA, parse(query), context_value=context(fresh_store()), variable_values=variables
    )
    assert (outcome.result.errors is None) == (expected.errors is None)


def test_rows_that_nested_fields_refer_to_are_never_served_stale() -> None:
    store = fresh_store()
    documents = DocumentCache(SCHEMA)
    read = '{ user(email: "jane@acme.example") { account { externalId } groups { name } } }'

    def user() -> Any:
        return run_graphql(documents, context(store), read, {}, None).result.data

    assert user() == {"user": {"account": {"externalId": "acme"}, "groups": [{"name": "Sales"}]}}
    account = store.get("accounts", "external_id", "acme")
    group = store.get("groups", "external_id", "sales")
    assert account is not None and group is not None
    rename = aliased_document(kind("accounts"), "UpdateAccount", 1)
    run_graphql(
        documents,
        context(store),
        rename,
        {"id_0": account["id"], "input_0": {"externalId": "acme2"}},
        None,
    )
    store.update_group(group["id"], {"name": "Sales EMEA"})
    assert user() == {
        "user": {"account": {"externalId": "acme2"}, "groups": [{"name": "Sales EMEA"}]}
    }


@pytest.mark.parametrize("compiled", [True, False])
def test_a_batch_commits_once_and_each_mutation_still_stands_alone(compiled: bool) -> None:
    store = fresh_store()
    documents = DocumentCache(SCHEMA)
    query = aliased_document(kind("users"), "CreateUser", 3)
    if not compiled:  # the same mutations in a shape left to graphql-core
        query = query.replace(" id", " id __typename")
        assert compile_operation(SCHEMA, parse(query), None) is None
    variables: dict[str, Any] = {}
    for index, email in enumerate(["one@x.example", "JANE@acme.example", "two@x.example"]):
        variables[f"input_{index}"] = {"email": email, "firstName": "F", "lastName": "L"}
        variables[f"sendWelcomeEmail_{index}"] = True
    outcome = run_graphql(documents, context(store), query, variables, None)
    assert [e.extensions["code"] for e in outcome.result.errors or []] == ["CONFLICT"]
    emails = [u["email"] for u in table(store, "users")]
    assert emails[-2:] == ["one@x.example", "two@x.example"]
    assert store.welcome_emails() == ["one@x.example", "two@x.example"]
    # The request's transaction is over: the store takes a write of its own.
    store.create_user({"email": "after@x.example", "firstName": "A", "lastName": "B"}, False)
    assert table(store, "users")[-1]["email"] == "after@x.example"
