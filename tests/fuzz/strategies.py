"""Hypothesis strategies for configs: documents generated from
schemas/konvsync.schema.json, example configs mutated, and YAML text that can
hold what a Python value cannot (``.nan``, a 5,000-digit number, tags)."""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from konvsync.support.resources import config_schema

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = [
    *sorted((ROOT / "tests" / "configs" / "good").glob("*.yaml")),
    ROOT / "examples" / "quickstart" / "konvsync.yaml",
    *sorted((ROOT / "examples" / "multi-file").rglob("*.yaml")),
]

CI_EXAMPLES = 1000
"""Cases per CI run, over validate and plan together (KONVSYNC_FUZZ_EXAMPLES
raises it for a nightly run)."""


def examples_for(share: float) -> int:
    """This test's share of the run's cases."""
    total = int(os.environ.get("KONVSYNC_FUZZ_EXAMPLES", CI_EXAMPLES))
    return max(1, round(total * share))


POOL = ["a", "b", "sales", "acme", "tier", "HQ", "x@y.example", "A", "REGION"]
"""Words that keys and references share, so generated references often resolve."""


@dataclass(frozen=True)
class RawYaml:
    """A scalar written into the YAML text as is."""

    text: str


NASTY = [
    ".nan",
    "-.inf",
    ".Inf",
    "1.0e+999",
    "9" * 5000,
    "-" + "1" * 120,
    "0x" + "f" * 200,
    "1e999",
    "!!float nan",
    "!!int " + "7" * 4400,
    "!!int word",
    "!!bool word",
    "!!int",
    '!!float ""',
    "!!null x",
    "!!str",
    "!!map [1]",
    "!!seq []",
    "!!timestamp x",
    "!!binary aGVsbG8=",
    "!!python/object:os.system x",
    "!custom x",
    "*undefined",
    "~",
    "yes",
    "0o777",
    "1_000",
    "2024-02-30",
    "[[groups]]",
    "[[]]",
    "{a: {b: [1, {c: .nan}]}}",
    "[1, 2.5, true, null, {}]",
    "{}",
    "[]",
    '""',
    '"${env:KONVERT_API_SECRET}"',
    '"${env:KONVSYNC_ENDPOINT:-x}"',
    '"$${env:KONVERT_API_SECRET}"',
    '"${env:HOME}"',
    '"${env:REGION:-east}"',
    '"${env:"',
    '"\\e[31m\\u202e\\x9b\\0"',
    '"space@example.com "',
    '"' + "x" * 20000 + '"',
]


def yaml_text(value: Any, indent: int = 0) -> str:
    """Block-style YAML of ``value`` (RawYaml scalars as written; strings
    double-quoted, which JSON's escapes are valid in)."""
    return "\n".join(_lines(value, indent)) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, RawYaml):
        return value.text
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    if isinstance(value, float) and value != value:  # never from the generators
        return ".nan"
    return json.dumps(value)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key, item in value.items():
            name = key.text if isinstance(key, RawYaml) else json.dumps(str(key))
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{name}:")
                lines.extend(_lines(item, indent + 2))
            else:
                lines.append(f"{pad}{name}: {_scalar(item)}")
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}-")
                lines.extend(_lines(item, indent + 2))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return lines
    return [pad + _scalar(value)]


# ------------------------------------------------------------ from the schema


def from_schema(schema: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Documents of the JSON Schema (the subset konvsync's schema uses)."""
    root = schema or config_schema()
    return _strategy(root, root, depth=0)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        node = root["$defs"][ref[len("#/$defs/") :]]
    return node


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    pattern = node.get("pattern")
    minimum = node.get("minLength", 0)
    if pattern:
        compiled = re.compile(pattern)
        pooled = [word for word in POOL if compiled.search(word)]
        base = st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) <= 60)
        strategy = st.one_of(st.sampled_from(pooled), base) if pooled else base
    else:
        strategy = st.one_of(
            st.sampled_from(POOL), st.text(min_size=minimum, max_size=20), st.just("${")
        )
    negated = node.get("not", {}).get("pattern")
    if negated:
        strategy = strategy.filter(lambda s: not re.search(negated, s))
    return strategy.filter(lambda s: len(s) >= minimum)


def _strategy(node: dict[str, Any], root: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    node = _resolve(node, root)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([_strategy(option, root, depth) for option in node["anyOf"]])
    types = node.get("type")
    if isinstance(types, list):
        return st.one_of([_strategy({**node, "type": t}, root, depth) for t in types])
    if types == "null":
        return st.none()
    if types == "boolean":
        return st.booleans()
    if types == "integer":
        return st.integers(node.get("minimum", -(10**6)), node.get("maximum", 10**6))
    if types == "number":
        low, high = node.get("minimum", -1e6), node.get("maximum", 1e6)
        return st.one_of(st.integers(int(low), int(high)), st.floats(low, high, allow_nan=False))
    if types == "string":
        return _string(node)
    if types == "array":
        items = _strategy(node.get("items", {}), root, depth + 1)
        unique = node.get("uniqueItems", False)
        return st.lists(
            items,
            max_size=3 if depth < 2 else 1,
            unique_by=(lambda v: json.dumps(v, sort_keys=True)) if unique else None,
        )
    if types == "object" or "properties" in node:
        return _object(node, root, depth)
    return st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))


def _object(node: dict[str, Any], root: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    properties = node.get("properties", {})
    required = set(node.get("required", []))
    fields = {
        name: _strategy(sub, root, depth + 1)
        for name, sub in properties.items()
        if name in required
    }
    optional = {
        name: _strategy(sub, root, depth + 1)
        for name, sub in properties.items()
        if name not in required
    }
    extra = node.get("additionalProperties")
    extras: st.SearchStrategy[dict[str, Any]] = st.just({})
    if isinstance(extra, dict):
        extras = st.dictionaries(
            st.sampled_from(POOL), _strategy(extra, root, depth + 1), max_size=2
        )
    return st.builds(
        lambda fixed, chosen, more: {**more, **fixed, **chosen},
        st.fixed_dictionaries(fields),
        st.fixed_dictionaries({}, optional=optional),
        extras,
    )


# ------------------------------------------------------------ mutations


def example_documents() -> list[Any]:
    # Dates as the strings konvsync reads them as.
    loaded = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in EXAMPLES]
    return [json.loads(json.dumps(document, default=str)) for document in loaded]


KEYS = sorted(
    {
        "konvsync",
        "variables",
        "policy",
        "prune",
        "protect",
        "ignore_changes",
        "max_delete_percent",
        "groups",
        "users",
        "accounts",
        "accountFields",
        "options",
        "type",
        "customFields",
        "locations",
        "externalId",
        "email",
        "userGroups",
        "account",
        "address",
        "<<",
    }
)

RAW_KEYS = [
    RawYaml(text)
    for text in ("1", "~", ".nan", "9" * 5000, "true", "2024-01-01", "!!binary aGVsbG8=", "<<")
]
"""Mapping keys that are not strings (or are the merge key)."""
ANY_KEY = st.one_of(st.sampled_from(KEYS + POOL), st.sampled_from(RAW_KEYS))

_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        st.sampled_from(POOL),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(KEYS + POOL), children, max_size=3),
    ),
    max_leaves=8,
)
ANY_VALUE = st.one_of(_json_values, st.sampled_from(NASTY).map(RawYaml))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[Any]) -> Any:
    """A document from ``base`` with one to four mutations."""
    document = {"root": json.loads(json.dumps(draw(base), default=str))}
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(document) if p]
        path = draw(st.sampled_from(paths))
        parent, last = _parent(document, path), path[-1]
        operation = draw(st.sampled_from(["replace", "delete", "duplicate", "insert", "wrap"]))
        if operation == "replace":
            parent[last] = draw(ANY_VALUE)
        elif operation == "delete" and len(path) > 1:
            del parent[last]
        elif operation == "duplicate" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif operation == "insert" and isinstance(parent[last], dict):
            parent[last][draw(ANY_KEY)] = draw(ANY_VALUE)
        elif operation == "wrap":
            parent[last] = draw(st.sampled_from([[parent[last]], {"a": parent[last]}]))
    return document["root"]


PIECES = [":", "- ", "&a ", "*a", "[", "{", "'", "#", "\t", "\x00", "<<: ", "!!int "]


@st.composite
def text_mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """YAML text with lines dropped, repeated, or bytes put in."""
    lines = draw(base).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["drop", "repeat", "insert", "indent"]))
        if operation == "drop":
            del lines[index]
        elif operation == "repeat":
            lines.insert(index, lines[index])
        elif operation == "insert":
            column = draw(st.integers(0, len(lines[index])))
            piece = draw(st.sampled_from(PIECES))
            lines[index] = lines[index][:column] + piece + lines[index][column:]
        else:
            lines[index] = "  " + lines[index]
    return "\n".join(lines) + "\n"


def documents() -> st.SearchStrategy[Any]:
    """Configs from the schema and from the examples, mutated or not."""
    generated = from_schema()
    examples = st.sampled_from(example_documents())
    return st.one_of(generated, mutated(generated), mutated(examples))


def texts() -> st.SearchStrategy[str]:
    """YAML texts of ``documents()``, some of them mangled as text."""
    plain = documents().map(yaml_text)
    return st.one_of(plain, text_mutated(plain))


def _versioned(document: Any) -> Any:
    if isinstance(document, dict):
        return {"konvsync": 1, **document}
    return document


def plannable() -> st.SearchStrategy[Any]:
    """Like ``documents()``, more often valid enough to reach the portal."""
    generated = from_schema().map(_versioned)
    examples = st.sampled_from(example_documents())
    return st.one_of(generated, examples, mutated(generated), mutated(examples))
