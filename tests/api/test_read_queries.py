"""The queries every plan sends are generated with their answers' shapes
(``konvsync/api/read_queries.json``), so that plan, drift and export run
without graphql-core; they must be the package's documents, checked as
every other document is, and used only while they fit their sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import parse, print_ast, validate

from konvsync.api import read_queries
from konvsync.api.answers import contract_schema, document_shapes
from konvsync.api.documents import operation_text
from konvsync.kinds import KINDS, kind
from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import subprocess_env

GENERATED = json.loads(read_queries.FILE.read_text(encoding="utf-8"))
READ_KINDS = [k for k in KINDS if k.read_via is None]


def test_every_kind_read_by_its_own_query_has_one() -> None:
    assert sorted(GENERATED["reads"]) == sorted(k.name for k in READ_KINDS)


@pytest.mark.parametrize("name", sorted(GENERATED["reads"]))
def test_a_generated_read_is_the_kinds_document_and_fits_the_contract(name: str) -> None:
    k = kind(name)
    query = read_queries.read_query(k)
    assert query == read_queries.ReadQuery(**GENERATED["reads"][name])
    document = parse(query.text)
    assert validate(contract_schema(), document) == []
    assert print_ast(document) == operation_text(k, k.read_operation)  # as api.documents makes it
    assert query.field == name


def test_the_generated_shapes_are_the_contracts() -> None:
    texts = [read_queries.viewer_query(), *(r["text"] for r in GENERATED["reads"].values())]
    assert sorted(GENERATED["shapes"]) == sorted(texts)
    for text in texts:
        assert read_queries.shapes(text) == document_shapes(text, contract_schema())


def test_generated_queries_of_other_sources_are_not_used() -> None:
    assert read_queries.fitting(GENERATED) == GENERATED
    assert read_queries.fitting({**GENERATED, "sources": "0" * 64}) == {}
    assert read_queries.fitting({}) == {}


def test_a_read_with_a_selection_is_made_from_the_document() -> None:
    users = kind("users")
    query = read_queries.read_query(users, (("users", frozenset({"title"})),))
    assert query.field == "users"
    assert "title" in query.text and "firstName" not in query.text


def test_plan_drift_and_export_do_not_import_graphql_core(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """graphql-core takes 55 ms to import: what every plan sends is generated."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\n"
        "groups:\n  - {externalId: sales, name: Sales}\n"
        "accounts:\n  - {externalId: acme, name: ACME, locations: [{name: HQ}]}\n"
        "users:\n  - {email: jane@acme.example, firstName: Jane, lastName: Doe, account: acme}\n"
    )
    probe = (
        "import sys\n"
        "from konvsync.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'graphql' in sys.modules, 'gql' in sys.modules)\n"
    )
    runs = {
        "plan": ["plan", str(config)],
        "drift": ["drift", str(config)],
        "export": ["export"],
    }
    for name, args in runs.items():
        done = subprocess.run(
            [sys.executable, "-c", probe, "--endpoint", sandbox.url, *args],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            cwd=tmp_path,
        )
        last = done.stdout.strip().splitlines()[-1]
        expected = "exit 2 False False" if name == "drift" else "exit 0 False False"
        assert last == expected, (name, done.stdout[-500:], done.stderr[-500:])
