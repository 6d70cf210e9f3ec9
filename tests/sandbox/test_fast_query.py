"""The sandbox's compiled queries answer exactly as graphql-core does, and
anything they do not handle falls back to graphql-core (with its errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import execute_sync, parse

from konvsync.api.documents import operation_text, viewer_query
from konvsync.kinds import KINDS
from konvsync.sandbox.fast_query import compile_query
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
    plan = compile_query(SCHEMA, parse(query), None)
    assert plan is not None, "expected this query to compile"
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
    users = compiled(store, operation_text(KINDS[-1], "ReadUsers"), {"first": 100})
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
        'mutation { deleteUser(id: "User:1") }',
    ],
)
def test_other_shapes_are_left_to_graphql_core(store: Store, query: str) -> None:
    assert compile_query(SCHEMA, parse(query), None) is None
    outcome = run_graphql(DocumentCache(SCHEMA), context(store), query, {"x": True}, None)
    assert outcome.result.data is not None or outcome.result.errors


def test_errors_fall_back_to_graphql_core_with_their_codes(store: Store) -> None:
    documents = DocumentCache(SCHEMA)
    read = operation_text(KINDS[-1], "ReadUsers")
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
