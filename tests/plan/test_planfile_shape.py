"""A saved plan's shape is cleared by fastjsonschema's code and explained by
jsonschema: whatever jsonschema finds wrong in an edited plan file, reading
it says, in jsonschema's words (the quick check never lets through what the
full one refuses)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest

from konvsync.errors import ConfigError
from konvsync.plan.planfile import _KEPT_SCHEMA, _kept_quick_schema, read_planfile
from konvsync.sandbox.server import RunningSandbox
from konvsync.support.resources import json_schema
from tests.conftest import invoke

CONFIG = """\
konvsync: 1
policy: {prune: [users, groups]}
groups:
  - {externalId: g1, name: One, permissions: [MANAGE_NEWS]}
  - {externalId: g2, name: Two}
accounts:
  - externalId: a1
    name: Dealer
    locations: [{name: HQ, phone: '+47 5555 0000'}]
users:
  - {email: ann@example.com, firstName: Ann, lastName: Lee, account: a1, groups: [g1]}
  - {email: bob@example.com, firstName: Bob, lastName: Ray, groups: [g2]}
"""
CHANGED = CONFIG.replace("name: One", "name: Uno").replace(
    "  - {email: bob@example.com, firstName: Bob, lastName: Ray, groups: [g2]}\n", ""
)
VALUES: list[Any] = [None, True, False, 0, -1, 1.0, 2.5, "", "x", "create", [], ["x"], {}, {"a": 1}]


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


def _edited(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``document`` with one place replaced, removed or given an unknown key
    (not the format names, whose edits are another release's files)."""
    copy = json.loads(json.dumps(document))
    places = [
        p
        for p in _places(copy)
        if p not in [(), ("plan",), ("planfile",)] and p[-1] != "format_version"
    ]
    path = rng.choice(places)
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    how = rng.random()
    if how < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
    elif how < 0.25 and isinstance(parent[path[-1]], dict):
        parent[path[-1]]["unknown"] = rng.choice(VALUES)
    else:
        parent[path[-1]] = rng.choice(VALUES)
    return copy


def _misfit(schema: dict[str, Any], document: Any, prefix: str) -> str | None:
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(document)
    )
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(top)"
    return f"({prefix}{where}: {error.message})"


@pytest.fixture
def saved_plans(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> list[dict[str, Any]]:
    """Plan files of every action: a first plan (creates), and after it is
    applied, one with an update, a delete and their values."""
    config = write_config(CONFIG)
    first = tmp_path / "first.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(first)])
    assert made.exit_code == 0, made.output
    applied = invoke(["--endpoint", sandbox.url, "apply", str(first)])
    assert applied.exit_code == 0, applied.output
    write_config(CHANGED)
    second = tmp_path / "second.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(second)])
    assert made.exit_code == 0 and "1 to change, 1 to destroy" in made.stdout, made.output
    return [json.loads(path.read_text()) for path in (first, second)]


def test_every_edit_jsonschema_refuses_is_named_in_its_words(
    saved_plans: list[dict[str, Any]], tmp_path: Path
) -> None:
    rng = random.Random(25)
    plan_schema = json_schema("plan.schema.json")
    refused = 0
    for trial in range(1500):
        document = _edited(saved_plans[trial % 2], rng)
        expected = _misfit(plan_schema, document.get("plan"), "plan/")
        if expected is None and isinstance(document.get("plan"), dict):
            expected = _misfit(_KEPT_SCHEMA, document, "")
        if expected is None:
            continue
        refused += 1
        path = tmp_path / f"edited-{trial}.plan"
        path.write_text(json.dumps(document))
        with pytest.raises(ConfigError) as raised:
            read_planfile(str(path))
        assert expected in str(raised.value), (trial, document)
    assert refused > 500  # the edits reach the checks, not only the other ones


def _keywords(schema: Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("properties", "$defs", "patternProperties"):
                for part in value.values():
                    _keywords(part, found)
            else:
                found.add(key)
                _keywords(value, found)
    elif isinstance(schema, list):
        for part in schema:
            _keywords(part, found)
    return found


def test_the_quick_check_knows_every_keyword_of_the_schemas_it_checks() -> None:
    """fastjsonschema passes over a keyword its drafts do not know
    (``dependentRequired``, ``unevaluatedProperties``): a plan file that
    breaks only that rule would pass the quick check unexplained. Nor may
    they hold a ``default`` (fastjsonschema's code writes it into the plan
    it checks) or a ``$ref`` beside other keywords (its code checks the
    ``$ref`` alone, where draft 2020-12 applies both)."""
    known = {
        *fastjsonschema.draft07.CodeGeneratorDraft07({})._json_keywords_to_function,
        *("then", "else", "$schema", "$id", "$defs", "$ref", "$comment"),
        *("title", "description", "examples"),
    }
    for schema in (json_schema("plan.schema.json"), _kept_quick_schema()):
        assert _keywords(schema, set()) <= known, _keywords(schema, set()) - known
        assert not _refs_beside_keywords(schema), _refs_beside_keywords(schema)


def _refs_beside_keywords(schema: Any) -> list[Any]:
    found = []
    if isinstance(schema, dict):
        if "$ref" in schema and set(schema) - {"$ref", "$comment", "description", "title"}:
            found.append(schema)
        for value in schema.values():
            found += _refs_beside_keywords(value)
    elif isinstance(schema, list):
        for part in schema:
            found += _refs_beside_keywords(part)
    return found


def test_values_kept_without_their_salt_are_a_damaged_plan_file(
    saved_plans: list[dict[str, Any]], tmp_path: Path
) -> None:
    """In jsonschema's words for the rule as it was written (``dependentRequired``),
    though fastjsonschema's code checks it as an ``if``/``then``."""
    document = {**saved_plans[0], "sensitive": {"values": {}}}
    path = tmp_path / "unsalted.plan"
    path.write_text(json.dumps(document))
    _refused_as_damaged(path, "sensitive: 'salt' is a dependency of 'values'")


DEEP = "[" * 600 + "]" * 600
"""A list nested deeper than fastjsonschema's ``uniqueItems`` code recurses
(two frames a level), though not as deep as Python's json reads."""


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        (("read_kinds",), "(read_kinds/0: [[[["),
        (("plan", "outside"), "(plan/outside/0/objects/0: [[[["),
    ],
)
def test_a_deeply_nested_value_where_items_must_be_unique_is_a_damaged_plan_file(
    saved_plans: list[dict[str, Any]], tmp_path: Path, place: tuple[str, ...], expected: str
) -> None:
    """fastjsonschema's ``uniqueItems`` code recurses into the items before it
    checks their type: a nested list ran out of stack there ("unexpected
    RecursionError ... please report it"), where jsonschema names the item."""
    document = json.loads(json.dumps(saved_plans[1]))
    marker = "DEEP-VALUE"
    if place == ("read_kinds",):
        document["read_kinds"] = [marker]
    else:
        document["plan"]["outside"] = [
            {"concern": "taken_from", "kind": "groups", "key": "g2", "holders": "users"}
            | {"objects": [marker]}
        ]
    path = tmp_path / "deep.plan"
    path.write_text(json.dumps(document).replace(json.dumps(marker), DEEP))
    for args in (["show", str(path)], ["apply", "--auto-approve", str(path)]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert "unexpected" not in result.stderr, result.stderr
        assert "damaged konvsync plan file " + expected in result.stderr, result.stderr[:300]


def test_a_plan_file_nested_deeper_than_json_reads_is_not_readable(tmp_path: Path) -> None:
    """Python's json stops at about 1,000 levels with a RecursionError, not a
    ValueError: such a file was "unexpected RecursionError ... please report
    it" instead of a file konvsync cannot read."""
    path = tmp_path / "deep.plan"
    path.write_text('{"planfile": ' + "[" * 5000 + "]" * 5000 + "}")
    for args in (["show", str(path)], ["apply", "--auto-approve", str(path)]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert result.stderr == f"Error: {path}: not a readable konvsync plan file\n", result.stderr


def test_deeply_nested_values_jsonschema_cannot_compare_are_a_damaged_plan_file(
    saved_plans: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Two nested lists where names must differ: jsonschema's ``uniqueItems``
    compares them recursively and ran out of stack ("unexpected
    RecursionError ... please report it")."""
    document = {**saved_plans[0], "read_kinds": ["DEEP-VALUE", "DEEP-VALUE"]}
    path = tmp_path / "deep.plan"
    path.write_text(json.dumps(document).replace('"DEEP-VALUE"', DEEP))
    _refused_as_damaged(path, "(top): a value is nested too deeply to check")


def _refused_as_damaged(path: Path, reason: str) -> None:
    """``show`` and ``apply`` of the plan file at ``path`` exit 1 with one
    line: a damaged plan file, for ``reason``."""
    for args in (["show", str(path)], ["apply", "--auto-approve", str(path)]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert result.stderr == (
            f"Error: {path}: damaged konvsync plan file ({reason}); run plan again\n"
        ), result.stderr


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_plan_file_with_a_number_json_has_not_is_not_readable(
    saved_plans: list[dict[str, Any]], sandbox: RunningSandbox, tmp_path: Path, constant: str
) -> None:
    """Python's json reads NaN and Infinity, which are no JSON: a plan file
    holding one is not konvsync's (it never writes them), and a request
    would carry such a value as no portal reads it. Nothing is sent."""
    text = json.dumps(saved_plans[0])
    assert '"name": "One"' in text
    path = tmp_path / "constant.plan"
    path.write_text(text.replace('"name": "One"', f'"name": {constant}', 1))
    requests_before = dict(sandbox.state.requests)
    for args in (["show", str(path)], ["--endpoint", sandbox.url, "apply", str(path)]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert result.stderr == f"Error: {path}: not a readable konvsync plan file\n", result.stderr
    assert dict(sandbox.state.requests) == requests_before
