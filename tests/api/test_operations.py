"""Every document konvsync sends is printed from a generated model of its
operation (``konvsync/api/operations.json``), so that no command needs
graphql-core: the models must give the very documents and answer checks
the kinds' ``.graphql`` files and the contract give, and be used only while
they fit those sources."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
    validate,
)

from konvsync.api import documents, operations
from konvsync.api.answers import Misfit, check_data, check_field
from konvsync.api.documents import contract_schema
from konvsync.api.operations import Selection, operation_document, read_document, viewer_document
from konvsync.kinds import KINDS, children_of, kind
from konvsync.kinds.base import Kind
from konvsync.sandbox.server import RunningSandbox
from tests.api import graphql_core_documents as before
from tests.cli.test_ci import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
GENERATED = json.loads(operations.FILE.read_text(encoding="utf-8"))
DOCUMENTED = operations.documented_kinds(KINDS)


def _operation_names(k: Kind) -> list[str]:
    return [
        d.name.value
        for d in k.document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]


OPERATIONS = [(k.name, name) for k in DOCUMENTED for name in _operation_names(k)]


def normalized(text: str) -> tuple[Any, ...]:
    """What a document asks, without its layout: operation, name,
    variables, and the selection tree (aliases, arguments) with fragments
    spread out."""
    document = parse(text)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    (op,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    variables = [
        (v.variable.name.value, print_ast(v.type), v.default_value is not None)
        for v in op.variable_definitions or ()
    ]
    return (
        op.operation.value,
        op.name.value if op.name else None,
        variables,
        _tree(op.selection_set, fragments),
    )


def _tree(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[Any] | None:
    if selection_set is None:
        return None
    return [
        (
            f.alias.value if f.alias else None,
            f.name.value,
            [(a.name.value, print_ast(a.value)) for a in f.arguments or ()],
            bool(f.directives),
            _tree(f.selection_set, fragments),
        )
        for f in before.inlined_fields(selection_set, fragments)
    ]


def assert_same_document(new: operations.Document, old_text: str) -> None:
    """``new`` fits the contract and asks, and is checked, as ``old_text``."""
    assert validate(contract_schema(), parse(new.text)) == []
    assert normalized(new.text) == normalized(old_text)
    shapes = before.document_shapes(old_text, contract_schema())
    assert before.document_shapes(new.text, contract_schema()) == shapes
    assert {key: new.model.shape for key in new.keys} == shapes


def test_every_operation_of_every_kind_and_the_viewer_has_a_generated_model() -> None:
    assert operations.fitting(GENERATED) == GENERATED
    assert {name: sorted(models) for name, models in GENERATED["kinds"].items()} == {
        k.name: sorted(_operation_names(k)) for k in DOCUMENTED
    }
    assert GENERATED["viewer"]["field"] == "viewer"
    assert {k.name for k in DOCUMENTED} >= {k.name for k in KINDS if k.read_via is None}


@pytest.mark.parametrize("count", [None, 1, 2, 50])
@pytest.mark.parametrize(("kind_name", "operation"), OPERATIONS)
def test_a_document_is_the_one_graphql_core_makes_of_the_source(
    kind_name: str, operation: str, count: int | None
) -> None:
    k = kind(kind_name)
    new = operation_document(k, operation, count)
    if count is None:
        assert_same_document(new, before.operation_text(k, operation))
    else:
        assert_same_document(new, before.aliased_document(k, operation, count))
    assert new.field == documents.kind_models(k)[operation].field


def _selections(k: Kind) -> list[Selection]:
    """Every kind of selection apply's checks send (``PortalLookup._selection``):
    no field, each field, all fields; with each child kind the same."""
    names = ["updatedAt", *(f.name for f in k.managed_fields)]
    out: list[Selection] = [((k.name, frozenset()),), ((k.name, frozenset(names)),)]
    out += [((k.name, frozenset({name})),) for name in names]
    for child in children_of(k.name):
        child_names = [f.name for f in child.managed_fields]
        out.append(((k.name, frozenset()), (child.name, frozenset())))
        out.append(((k.name, frozenset(names)), (child.name, frozenset(child_names))))
        out += [((k.name, frozenset()), (child.name, frozenset({n}))) for n in child_names]
    return out


SELECTED = [
    (k.name, operation, selection)
    for k in DOCUMENTED
    for operation in (k.read_operation, k.get_operation)
    if operation in _operation_names(k)
    for selection in _selections(k)
]


@pytest.mark.parametrize(("kind_name", "operation", "selection"), SELECTED)
def test_a_selection_asks_what_graphql_core_made_of_it(
    kind_name: str, operation: str, selection: Selection
) -> None:
    k = kind(kind_name)
    if operation == k.read_operation:
        new = read_document(k, selection)
        assert_same_document(new, before.operation_text(k, operation, selection))
        return
    for count in (1, 2, 50):
        new = operation_document(k, operation, count, selection)
        assert_same_document(new, before.aliased_document(k, operation, count, selection))


def test_a_selection_leaves_out_what_it_does_not_name() -> None:
    accounts = kind("accounts")
    text = read_document(accounts, (("accounts", frozenset({"name"})),)).text
    assert "name" in text and "website" not in text and "locations" not in text
    text = read_document(
        accounts, (("accounts", frozenset()), ("locations", frozenset({"phone"})))
    ).text
    assert "locations" in text and "phone" in text and "website" not in text


def test_the_viewer_query_is_its_file() -> None:
    assert_same_document(viewer_document(), operations.viewer_query())


@pytest.mark.parametrize("k", DOCUMENTED, ids=lambda k: k.name)
def test_models_made_from_the_sources_are_the_generated_ones(k: Kind) -> None:
    """What runs when operations.json does not fit (``documents.kind_models``)."""
    made = {name: model.to_json() for name, model in documents.kind_models(k).items()}
    assert made == GENERATED["kinds"][k.name]
    assert documents.viewer_model().to_json() == GENERATED["viewer"]


def test_generated_models_of_other_sources_are_not_used() -> None:
    assert operations.fitting({**GENERATED, "sources": "0" * 64}) == {}
    assert operations.fitting({}) == {}


def test_answers_are_checked_by_the_models_shape() -> None:
    document = operation_document(kind("groups"), "CreateGroup", 3)
    with pytest.raises(Misfit, match=r"m2.permissions is \"MANAGE_DAMS\" \(a string\)"):
        check_field(
            document,
            "m2",
            {
                "id": "grp_1",
                "updatedAt": "2026-11-30T12:00:00Z",
                "externalId": "x",
                "name": "X",
                "permissions": "MANAGE_DAMS",
                "lmsModules": [],
                "damCategories": [],
            },
        )
    selected = read_document(kind("users"), (("users", frozenset({"title"})),))
    node = {"id": "usr_1", "email": "a@acme.example", "title": 5}
    page = {"nodes": [node], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    with pytest.raises(Misfit, match=r"users.nodes\[0\].title is 5 \(a number\)"):
        check_data(selected, {"users": {**page, "totalCount": 1}})
    node["title"] = "Boss"
    check_data(selected, {"users": {**page, "totalCount": 1}})
    with pytest.raises(Misfit, match=r"users.totalCount is missing"):
        check_data(selected, {"users": page})


BAD = {
    "two root fields": "query Bad { viewer { apiKey } users(first: 1) { totalCount } }",
    "an argument's value": "query Bad { users(first: 1) { totalCount } }",
    "a default value": "query Bad($first: Int! = 1) { users(first: $first) { totalCount } }",
    "an inner alias": "query Bad { viewer { key: apiKey } }",
    "a directive": "query Bad($on: Boolean!) { viewer { apiKey @include(if: $on) } }",
    "a field twice": "query Bad { viewer { apiKey apiKey } }",
    "a fragment on another type": "query Bad { viewer { ... on User { id } } }",
    "an undefined fragment": "query Bad { viewer { ...Nowhere } }",
}


@pytest.mark.parametrize("text", BAD.values(), ids=list(BAD))
def test_the_generator_refuses_what_a_model_cannot_hold(text: str) -> None:
    with pytest.raises(ValueError, match=r"^konvsync/kinds/bad.graphql: operation Bad: .*cannot"):
        documents.operation_models(parse(text), contract_schema(), "konvsync/kinds/bad.graphql")


def test_the_generate_command_refuses_a_document_a_model_cannot_hold(tmp_path: Path) -> None:
    """A copy of the checkout whose groups.graphql aliases a field: the
    generator names the file and the operation and writes nothing."""
    shutil.copytree(ROOT / "konvsync", tmp_path / "konvsync", ignore=_no_caches)
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    groups = tmp_path / "konvsync" / "kinds" / "groups.graphql"
    text = groups.read_text(encoding="utf-8")
    groups.write_text(text.replace("\n  name\n", "\n  title: name\n", 1), encoding="utf-8")
    models = tmp_path / "konvsync" / "api" / "operations.json"
    before_run = models.read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "konvsync.cli.generate", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**subprocess_env(), "PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
    )
    assert done.returncode == 1, (done.stdout, done.stderr[-2000:])
    assert done.stdout.startswith("cannot generate: konvsync/kinds/groups.graphql: operation ")
    assert "an alias, argument or directive on field name" in done.stdout
    assert "Traceback" not in done.stderr
    assert models.read_text(encoding="utf-8") == before_run


def test_a_document_edited_without_regenerating_is_sent_as_edited(tmp_path: Path) -> None:
    """A copy of the package whose users.graphql no longer selects a user's
    title: the models in its operations.json do not fit it, so every
    document is made from the sources (with graphql-core), and a create
    neither asks for the title nor expects it in the answer."""
    shutil.copytree(ROOT / "konvsync", tmp_path / "konvsync", ignore=_no_caches)
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    probe = (
        "import sys\n"
        "import konvsync\n"
        "from konvsync.api.operations import operation_document, read_document\n"
        "from konvsync.kinds import kind\n"
        "users = kind('users')\n"
        "create = operation_document(users, 'CreateUser', 2)\n"
        "read = read_document(users)\n"
        "shape = str(create.model.shape)\n"
        "print(konvsync.__file__.startswith(sys.argv[1]), 'title' in create.text,\n"
        "      'title' in read.text, \"'title'\" in shape, 'graphql' in sys.modules)\n"
    )

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path)],
            capture_output=True,
            text=True,
            env={**subprocess_env(), "PYTHONPATH": str(tmp_path)},
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    assert run() == "True True True True False"  # the copy as generated
    users = tmp_path / "konvsync" / "kinds" / "users.graphql"
    edited = re.sub(r"\n  title\n", "\n", users.read_text(encoding="utf-8"), count=1)
    assert edited != users.read_text(encoding="utf-8")
    users.write_text(edited, encoding="utf-8")
    assert run() == "True False False False True"


def _no_caches(_folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


def test_the_documents_and_checks_import_no_graphql_core() -> None:
    """Every document of every kind built and an answer checked in a fresh
    process: graphql-core (55-60 ms to import) stays out. (The input check
    imports it only for a portal whose schema differs from the contract:
    ``api.schema_facts``.)"""
    probe = (
        "import sys\n"
        "from konvsync.api import batching, client, pagination\n"
        "from konvsync.apply import checks, executor\n"
        "from konvsync.api.answers import check_data\n"
        "from konvsync.api.operations import (documented_kinds, has_operation,\n"
        "    operation_document, read_document, viewer_document)\n"
        "from konvsync.app import drift, export, plan, reading\n"
        "from konvsync.export import portal\n"
        "from konvsync.kinds import KINDS\n"
        "for k in documented_kinds(KINDS):\n"
        "    for name in (k.read_operation, k.get_operation, k.create_operation,\n"
        "                 k.update_operation, k.delete_operation):\n"
        "        if has_operation(k, name):\n"
        "            operation_document(k, name, 50)\n"
        "    if has_operation(k, k.get_operation):\n"
        "        operation_document(k, k.get_operation, 50, ((k.name, frozenset()),))\n"
        "    if has_operation(k, k.read_operation):\n"
        "        read_document(k, ((k.name, frozenset()),))\n"
        "check_data(viewer_document(), {'viewer': {'apiKey': 'k', 'portalName': 'p'}})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('graphql', 'gql')))\n"
        "print('konvsync.api.documents' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=subprocess_env()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["[]", "False"]


def _importers(importtime: str, package: str) -> set[str]:
    """The modules whose import imported ``package`` (``python -X
    importtime``: a module's line comes after those it imported, indented
    less)."""
    rows = []
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    out = set()
    for index, (depth, name) in enumerate(rows):
        if name == package:
            importer = next((n for d, n in rows[index + 1 :] if d < depth), None)
            out.add(importer or "__main__")
    return out


ONE_OF_EACH = (
    "konvsync: 1\n"
    "groups:\n  - {externalId: sales, name: Sales}\n"
    "accounts:\n  - {externalId: acme, name: ACME, locations: [{name: HQ}]}\n"
    "users:\n  - {email: jane@acme.example, firstName: Jane, lastName: Doe, account: acme}\n"
)
"""A config with groups, an account with a location and a user (the import tests below)."""


def test_a_cold_apply_on_a_portal_that_fits_the_contract_imports_no_graphql_core(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Its documents come from the generated models, its input check from
    the generated facts (the sandbox's schema is the contract's)."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(ONE_OF_EACH)
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "konvsync",
            "--endpoint",
            sandbox.url,
            "apply",
            str(config),
            "--auto-approve",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert "Apply complete!" in done.stdout
    assert _importers(done.stderr, "konvsync.api.operations")  # the probe sees imports
    assert _importers(done.stderr, "graphql") == set()
    assert _importers(done.stderr, "konvsync.api.documents") == set()


def test_plan_drift_and_export_do_not_import_graphql_core(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """graphql-core takes 55 ms to import: what every plan sends is generated."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(ONE_OF_EACH)
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
        "export-target": ["export", "--target", "groups/sales"],
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
        expected = {"drift": 2, "export-target": 1}.get(name, 0)  # no such group: exit 1
        assert last == f"exit {expected} False False", (
            name,
            done.stdout[-500:],
            done.stderr[-500:],
        )


def test_documents_are_values_not_texts_looked_up() -> None:
    """A document carries its model: two documents of one operation share
    its shape whatever their number of aliases (one checker each)."""
    groups = kind("groups")
    one = operation_document(groups, "UpdateGroup", 1)
    many = operation_document(groups, "UpdateGroup", 50)
    assert one.model is many.model
    selection = (("groups", frozenset({"name"})),)
    selected = operation_document(groups, "GetGroup", 50, selection)
    assert selected.model is operation_document(groups, "GetGroup", 3, selection).model
    assert selected.model is not operation_document(groups, "GetGroup", 3).model
    assert many.keys == tuple(f"m{i}" for i in range(50))
    assert isinstance(parse(many.text), DocumentNode)
