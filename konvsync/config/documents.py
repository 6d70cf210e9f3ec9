"""Reading config files: discovery, limits, decoding, YAML, env substitution
and JSON Schema validation, each problem with its file, line and column."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from konvsync.config.model import Source
from konvsync.config.yaml_loader import YamlList, YamlLoadError, YamlMap, empty_map, load_yaml
from konvsync.errors import ConfigProblem
from konvsync.resources import config_schema

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_EXPANDED_NODES = 3_000_000
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class ConfigDocument:
    """One parsed file: its top-level mapping, or None when it had problems."""

    path: str
    data: YamlMap | None
    digest: str = ""
    """sha256 of the file's bytes and of the environment values it used."""


def read_document(path: Path, problems: list[ConfigProblem], patch: bool = False) -> ConfigDocument:
    """``patch``: a file of an overlay path (``config.overlay``), whose objects
    may name only the fields they change (required fields are checked after
    merging)."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                ConfigProblem(
                    name,
                    1,
                    1,
                    f"file is {size / 1e6:.1f} MB; "
                    f"konvsync reads config files up to "
                    f"{MAX_FILE_BYTES // (1024 * 1024)} MB",
                )
            )
            return ConfigDocument(name, None)
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(ConfigProblem(name, 1, 1, f"cannot read file: {exc.strerror}"))
        return ConfigDocument(name, None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problems.append(ConfigProblem(name, line, column, "file is not UTF-8 text"))
        return ConfigDocument(name, None)
    if "\x00" in text:
        problems.append(ConfigProblem(name, 1, 1, "file is binary, not YAML text"))
        return ConfigDocument(name, None)
    try:
        loaded = load_yaml(text, name)
    except YamlLoadError as exc:
        problems.append(exc.problem)
        return ConfigDocument(name, None)
    data = loaded.data
    if data is None:
        return ConfigDocument(name, empty_map(name))
    if not isinstance(data, YamlMap):
        problems.append(
            ConfigProblem(
                name, 1, 1, "the top level must be a mapping (konvsync: 1, groups: [...], ...)"
            )
        )
        return ConfigDocument(name, None)
    expanded = _expanded_size(data, {}) if loaded.aliased else 0
    if expanded > MAX_EXPANDED_NODES:
        problems.append(
            ConfigProblem(
                name,
                1,
                1,
                f"file expands to {expanded:,} values (YAML aliases?); refusing to read it",
            )
        )
        return ConfigDocument(name, None)
    env_used: dict[str, str | None] = {}
    if "${env:" in text:
        _substitute_env(data, problems, set(), env_used)
    _schema_problems(data, name, problems, patch)
    # A document with schema problems still takes part in the duplicate and
    # reference checks, so that one run reports everything; those checks skip
    # what they cannot read.
    digest = hashlib.sha256(raw)
    digest.update(json.dumps(env_used, sort_keys=True).encode())
    return ConfigDocument(name, data, digest.hexdigest())


def _expanded_size(value: Any, seen: dict[int, int]) -> int:
    if isinstance(value, dict | list):
        ident = id(value)
        if ident in seen:
            return seen[ident]
        seen[ident] = 1
        children = value.values() if isinstance(value, dict) else value
        total = 1 + sum(_expanded_size(child, seen) for child in children)
        seen[ident] = total
        return total
    return 1


def _substitute_env(
    value: Any, problems: list[ConfigProblem], done: set[int], used: dict[str, str | None]
) -> None:
    if id(value) in done:
        return
    done.add(id(value))
    if isinstance(value, YamlMap):
        for key, item in value.items():
            if isinstance(item, str):
                value[key] = _expand(item, value.value_source(key), problems, used)
            else:
                _substitute_env(item, problems, done, used)
    elif isinstance(value, YamlList):
        for index, item in enumerate(value):
            if isinstance(item, str):
                value[index] = _expand(item, value.item_source(index), problems, used)
            else:
                _substitute_env(item, problems, done, used)


def _expand(
    text: str, where: Source, problems: list[ConfigProblem], used: dict[str, str | None]
) -> str:
    if "${env:" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        used[name] = value
        if value is not None:
            return value
        if default is not None:
            return default
        problems.append(
            where.problem(
                f"environment variable {name} is not set "
                f"(write ${{env:{name}:-default}} for a default)",
            )
        )
        return match.group(0)

    return _ENV.sub(replace, text)


def _schema(patch: bool) -> dict[str, Any]:
    schema = config_schema()
    if patch:
        for definition in schema.get("$defs", {}).values():
            definition.pop("required", None)
    return schema


@cache
def _validator(patch: bool = False) -> jsonschema.protocols.Validator:
    # jsonschema only explains invalid documents, so it is imported only then.
    import jsonschema

    cls = jsonschema.validators.validator_for(_schema(patch))
    return cls(_schema(patch))


@cache
def _fast_validator(patch: bool = False) -> Any:
    return fastjsonschema.compile(_schema(patch))


def _schema_problems(
    data: YamlMap, file: str, problems: list[ConfigProblem], patch: bool = False
) -> None:
    """Schema problems, best match per location. fastjsonschema clears valid
    documents quickly; jsonschema explains invalid ones in full."""
    try:
        _fast_validator(patch)(data)
        return
    except fastjsonschema.JsonSchemaException as exc:
        fast_message = str(exc)
    from jsonschema.exceptions import best_match

    by_path: dict[tuple[Any, ...], list[ValidationError]] = {}
    for error in _validator(patch).iter_errors(data):
        by_path.setdefault(tuple(error.absolute_path), []).append(error)
    for path, errors in by_path.items():
        either = [e for e in errors if e.validator == "anyOf"]
        error = either[0] if either else best_match(errors)
        where, subject = _locate(data, path, error)
        problems.append(
            ConfigProblem(file, where.line, where.column, f"{subject}: {_message(error)}")
        )
    if not by_path:
        problems.append(ConfigProblem(file, 1, 1, fast_message))


def _message(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key")
    if error.validator == "const" and error.absolute_path and error.absolute_path[0] == "konvsync":
        return f"unknown format version {error.instance!r}; this release reads konvsync: 1"
    if error.validator in ("enum", "anyOf") and isinstance(error.instance, str | int | float):
        allowed = _allowed(error)
        if allowed:
            return f"{error.instance!r} is not one of {', '.join(map(str, allowed))}"
    if error.validator == "type" and isinstance(error.instance, bool):
        return (
            f"{error.message} (YAML reads unquoted yes/no/on/off/true/false as booleans: "
            "quote the value)"
        )
    return error.message


def _allowed(error: ValidationError) -> list[Any]:
    options: Any = error.validator_value
    if error.validator == "enum":
        return list(options)
    values: list[Any] = []
    for option in options:
        values.extend(option.get("enum", []))
        if "pattern" in option:
            values.append("an http(s) URL")
    return values


def _locate(data: YamlMap, path: tuple[Any, ...], error: ValidationError) -> tuple[Source, str]:
    """The position of the value at ``path`` and a name for it."""
    node: Any = data
    where = data.source
    subject = ".".join(_path_words(path)) or "top level"
    for part in path:
        if isinstance(node, YamlMap) and part in node:
            where = node.value_source(part)
            node = node[part]
        elif isinstance(node, YamlList) and isinstance(part, int) and part < len(node):
            where = node.item_source(part)
            node = node[part]
        else:
            break
    if error.validator == "additionalProperties" and isinstance(node, YamlMap):
        schema: Any = error.schema
        allowed = schema.get("properties", {})
        extra = [k for k in node if k not in allowed]
        if extra:
            where = node.key_source(extra[0])
            subject = ".".join([*_path_words(path), str(extra[0])])
    return where, subject


def _path_words(path: tuple[Any, ...]) -> Iterator[str]:
    for part in path:
        yield f"[{part}]" if isinstance(part, int) else str(part)
