"""Reading config files: discovery, limits, decoding, YAML, env substitution
and JSON Schema validation, each problem with its file, line and column."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from konvsync.config import fast_schema
from konvsync.config.fast_schema import Validate
from konvsync.config.model import Source
from konvsync.config.overlay import OverlayMap, object_definition, overlay_schema
from konvsync.config.scope import EXCLUDE
from konvsync.config.substitution import Substitution, in_a_key, literal_parts
from konvsync.config.yaml_loader import YamlList, YamlLoadError, YamlMap, empty_map, load_yaml
from konvsync.errors import ConfigProblem
from konvsync.kinds import KINDS, REFERENCE_KINDS, children_of, kind
from konvsync.support import redact
from konvsync.support.files import UnreadableFile, read_bounded
from konvsync.support.resources import config_schema
from konvsync.support.suggest import did_you_mean
from konvsync.support.text import shortened

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_EXPANDED_NODES = 3_000_000


@dataclass
class ConfigDocument:
    """One parsed file: its top-level mapping, or None when it had problems."""

    path: str
    data: YamlMap | None
    digest: str = ""
    """sha256 of the file's bytes (the config's digest adds the environment
    values it used, ``variables``)."""
    substitutes: bool = False
    """Whether the text has a ``${`` at all (else substitution is skipped)."""
    env_values: dict[Source, str] = field(default_factory=dict)
    """Values that were one ``${env:NAME}`` and nothing else, by place -> NAME
    (a saved plan keeps the name of a sensitive value, not the value)."""
    patch: bool = False
    """A file of an overlay path: its objects may name only what they change."""
    file_digest: str = ""
    """sha256 of the file's bytes alone (``drift --write`` edits only a file
    that still has them)."""
    unset: dict[Source, list[str]] = field(default_factory=dict)
    """Offline: places whose value uses listed variables that are not set
    (``Substitution.unset``)."""
    variables: dict[str, str | None] = field(default_factory=dict)
    """The environment variables the file used and their values (None: not
    set), once ``check_document`` has run."""
    retold: dict[Source, str] = field(default_factory=dict)
    """Places of plain scalars YAML read as a number or boolean of another
    text (``yaml_loader.retells``) -> the text written."""
    substitution_problems: list[ConfigProblem] = field(default_factory=list)
    """The problems of its ``${env:...}`` references (a variable not set, not
    listed...): every other problem at one of their places follows from the
    reference left as written, and is not reported."""


def read_document(
    path: Path, problems: list[ConfigProblem], patch: bool = False, raw: bytes | None = None
) -> ConfigDocument:
    """Read and parse one file; substitution and the schema check follow in
    ``check_document``, once every file's ``variables:`` is known. ``patch``:
    a file of an overlay path (``config.overlay``), whose objects may name
    only the fields they change (required fields are checked after merging).
    ``raw``: the file's bytes as they are about to be written, read instead."""
    name = str(path)
    try:
        raw = read_bounded(path, MAX_FILE_BYTES) if raw is None else raw
    except UnreadableFile as exc:
        problems.append(ConfigProblem(name, 1, 1, str(exc)))
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
    digest = hashlib.sha256(raw).hexdigest()
    if data is None:
        return ConfigDocument(name, empty_map(name), digest, file_digest=digest)
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
    retold = {Source(name, *place): text for place, text in loaded.retold.items()}
    return ConfigDocument(
        name, data, digest, "${" in text, patch=patch, file_digest=digest, retold=retold
    )


def check_document(
    document: ConfigDocument,
    variables: frozenset[str],
    problems: list[ConfigProblem],
    offline: bool = False,
) -> None:
    """Substitute the allowed ``variables`` and check the JSON Schema.
    ``offline``: a listed variable that is not set is left as written."""
    data = document.data
    if data is None:
        return
    substitution = Substitution(variables, problems, offline=offline)
    if document.substitutes:
        before = len(problems)
        substitution.apply(data)
        document.substitution_problems = problems[before:]
    _register_sensitive(data)
    _schema_problems(data, document.path, problems, document.patch, document.retold)
    # A document with schema problems still takes part in the duplicate and
    # reference checks, so that one run reports everything; those checks skip
    # what they cannot read.
    document.variables = dict(substitution.used)
    document.env_values = substitution.whole
    document.unset = substitution.unset


def _register_sensitive(data: YamlMap) -> None:
    """Mask what a sensitive field holds (an invite link's code) before the
    schema check, whatever the shape around it: a message may show the map
    or list that holds it (``inviteLinks`` written as a map), and the check
    that registers sensitive values (``rules``) sees only objects of the
    right shape."""
    for k in KINDS:
        names = k.sensitive_names.union(*(c.sensitive_names for c in children_of(k.name)))
        if names and k.parent is None:
            _register_under(data.get(k.name), names)


def _register_under(value: Any, names: frozenset[str], sensitive: bool = False) -> None:
    if isinstance(value, str) and sensitive:
        for part in literal_parts(value):
            redact.register(part)
    elif isinstance(value, dict):
        for key, item in value.items():
            _register_under(item, names, sensitive or key in names)
    elif isinstance(value, list):
        for item in value:
            _register_under(item, names, sensitive)


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


TOO_DEEP = "a value is nested too deeply to check"
"""A config (or a saved plan, ``plan.planfile``) whose values are nested
fewer levels deep than YAML (or JSON) reads, but too deeply for the
schema's checks (lists whose items must differ, compared recursively)."""


def schema_problem(data: dict[str, Any]) -> str | None:
    """The first way ``data`` breaks the config schema, or None if it fits
    (in the schema's own words where it has them: ``x-message``)."""
    try:
        _fast_validator()(data)
    except fastjsonschema.JsonSchemaException as exc:
        return _fast_message(exc)
    return None


def _fast_message(exc: fastjsonschema.JsonSchemaException) -> str:
    """``exc`` as one line: the schema's ``x-message`` for the rule broken
    where it has one (``access CODE needs a code``), else the validator's."""
    definition = getattr(exc, "definition", None)
    message = definition.get("x-message") if isinstance(definition, dict) else None
    name = getattr(exc, "name", None)
    if isinstance(message, str) and isinstance(name, str):
        return f"{name}: {message}"
    return str(exc)


def item_problem(kind_name: str, item: Any) -> str | None:
    """The first way ``item``, an entry of the top-level list ``kind_name``,
    breaks the config schema, or None; the item is named by its kind's
    singular (``user``) where the schema's words give its path
    (``data.users[0]``): export and drift show it as one object."""
    path = f"data.{kind_name}[0]"
    try:
        _item_validators(False)[kind_name](item, {}, path)
    except fastjsonschema.JsonSchemaException as exc:
        return _fast_message(exc).replace(path, kind(kind_name).singular, 1)
    return None


def schema_for(patch: bool) -> dict[str, Any]:
    """The config format's JSON Schema, or with ``patch`` the overlay schema."""
    return overlay_schema(config_schema()) if patch else config_schema()


@cache
def _validator(patch: bool = False) -> jsonschema.protocols.Validator:
    # jsonschema only explains invalid documents, so it is imported only then
    # (21 ms of imports, python -X importtime; valid ones pass fastjsonschema).
    import jsonschema

    cls = jsonschema.validators.validator_for(schema_for(patch))
    return cls(schema_for(patch))


@cache
def _fast_validator(patch: bool = False) -> Callable[[Any], None]:
    """fastjsonschema's validator, run in parts (``fast_schema.in_parts``)."""
    return fast_schema.in_parts(*_parts(patch))


@cache
def _quick_check(patch: bool) -> Callable[[Any], bool] | None:
    """The generated quick check of the schema (``fast_schema.quick``): a
    document it takes needs no other check; one it refuses is checked again
    by fastjsonschema's code and explained by jsonschema, as before."""
    return fast_schema.quick(schema_for(patch))


def _item_validators(patch: bool) -> dict[str, Validate]:
    """A validator of the items of each top-level list of the schema."""
    return _parts(patch)[1]


@cache
def _parts(patch: bool) -> tuple[Validate, dict[str, Validate]]:
    return fast_schema.compiled(schema_for(patch))


def _schema_problems(
    data: YamlMap,
    file: str,
    problems: list[ConfigProblem],
    patch: bool = False,
    retold: Mapping[Source, str] | None = None,
) -> None:
    """Schema problems, best match per location. fastjsonschema clears valid
    documents quickly; jsonschema explains invalid ones in full. ``retold``:
    where YAML read a plain scalar as another value, the text written there
    (``ConfigDocument.retold``), which a message about a key names."""
    quick = _quick_check(patch)
    try:
        if quick is not None and quick(data):
            return
    except RecursionError:
        pass  # fastjsonschema's code and jsonschema say what they make of it
    try:
        _fast_validator(patch)(data)
        return
    except fastjsonschema.JsonSchemaException as exc:
        fast_message = str(exc)
    except RecursionError:  # its uniqueItems code recurses into the items
        fast_message = TOO_DEEP
    try:
        found = _explained(_validator(patch).iter_errors(data))
    except RecursionError:  # its uniqueItems compares lists recursively
        problems.append(ConfigProblem(file, 1, 1, TOO_DEEP))
        return
    for path, error in found:
        unknown = _unknown_keys(data, path, error, retold or {})
        if unknown:  # each at its own line, with its own suggestion
            problems.extend(
                ConfigProblem(file, where.line, where.column, message) for where, message in unknown
            )
            continue
        where, subject = _locate(data, path, error)
        message = _number_for_text(error, (retold or {}).get(where)) or _message(error)
        problems.append(ConfigProblem(file, where.line, where.column, f"{subject}: {message}"))
    if not found:
        problems.append(ConfigProblem(file, 1, 1, fast_message))


def check_merged(kind_name: str, item: YamlMap, problems: list[ConfigProblem]) -> None:
    """One object that a later config path added or changed, checked whole
    against its definition in the config schema: the fields every object
    must give and the rules between fields (CODE needs its code), wherever
    each field was set; a problem points at the file that set the value."""
    if item_problem(kind_name, item) is None:  # the files' own item validator, compiled once
        return
    k = kind(kind_name)
    name = f"{k.singular} {k.key_of(item)!r}"
    # What the files' own check could not see (the overlay schema has no
    # required fields and no rules between fields); the rest it reported.
    unseen = (
        error
        for error in _object_validator(kind_name).iter_errors(item)
        if error.validator == "required" or "allOf" in error.schema_path
    )
    for path, error in _explained(unseen):
        where, subject = _locate(item, path, error)
        if not path and isinstance(item, OverlayMap):
            where = item.patched_at  # the object as the path that changed it gives it
        within = f".{subject}" if path else ""
        problems.append(where.problem(f"{name}{within}: {_message(error)}"))


def _object_schema(kind_name: str) -> dict[str, Any]:
    """The config schema's definition of one object of ``kind_name``, as a
    schema of its own (with the definitions it refers to)."""
    return {"$defs": config_schema().get("$defs", {}), **object_definition(kind_name)}


@cache
def _object_validator(kind_name: str) -> jsonschema.protocols.Validator:
    import jsonschema  # as in _validator

    schema = _object_schema(kind_name)
    return jsonschema.validators.validator_for(config_schema())(schema)


def _explained(errors: Iterable[ValidationError]) -> list[tuple[tuple[Any, ...], ValidationError]]:
    """The errors worth telling, by the place they are at: each rule with a
    message of its own (an invite link may break several); otherwise the
    best match explains the place. A value of the wrong type is told only
    that: the rules between an object's fields hold or fail vacuously on a
    value that is no object (a title written alone in ``inviteLinks``)."""
    from jsonschema.exceptions import best_match

    by_path: dict[tuple[Any, ...], list[ValidationError]] = {}
    for error in errors:
        by_path.setdefault(tuple(error.absolute_path), []).append(error)
    out = []
    for path, found in by_path.items():
        either = [e for e in found if e.validator == "anyOf"]
        typed = [e for e in found if e.validator == "type"]
        ruled = [e for e in found if isinstance(e.schema, dict) and "x-message" in e.schema]
        if typed:
            ruled = []
        out += [(path, error) for error in ruled or [either[0] if either else best_match(found)]]
    return out


def _message(error: ValidationError) -> str:
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if isinstance(custom, str):
        return custom
    reference = _reference_kind(error)
    if reference is not None:
        return (
            f"{reference} is a reference kind: read from the portal, never written, so it "
            "cannot be listed, pruned, protected, ignored or scoped (refer to its slugs in a group)"
        )
    if error.absolute_path and error.absolute_path[0] == "variables":
        if error.validator == "not":
            return (
                f"{error.instance!r}: KONVERT_* and KONVSYNC_* variables hold credentials and "
                "konvsync's settings and are never substituted"
            )
        if error.validator == "pattern":
            return f"{_named(error.instance)} is not a variable name (letters, digits and _)"
    if error.validator == "pattern" and error.validator_value == NOT_BLANK:
        return (
            f"{_named(error.instance)} is blank: give a value (an empty or blank string is "
            "no value)"
        )
    in_scope = tuple(error.absolute_path)[:2] == ("policy", "scope")
    if error.validator in ("minItems", "minProperties") and in_scope:
        if error.absolute_path[-1] == EXCLUDE:
            return (
                "is empty: an exclude without globs keeps nothing out (give one or more "
                "globs, or remove the key)"
            )
        return (
            "is empty: a scope owns what its globs match, so an empty one would own nothing "
            "(give one or more globs, or leave the kind out of policy.scope to own all of it)"
        )
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key")
    if error.validator == "const" and error.absolute_path and error.absolute_path[0] == "konvsync":
        return f"unknown format version {_named(error.instance)}; this release reads konvsync: 1"
    if error.validator in ("enum", "anyOf") and isinstance(error.instance, str | int | float):
        allowed = _allowed(error)
        if allowed:
            hint = did_you_mean(str(error.instance), [a for a in allowed if isinstance(a, str)])
            named = _named(error.instance)
            if tuple(error.absolute_path) == ("endpoint",) and isinstance(error.instance, str):
                named = _named(redact.shown_url(error.instance))  # never a password in it
            return f"{named} is not one of {', '.join(map(str, allowed))}{hint}"
    if error.validator == "type" and error.validator_value == "array":
        # What people new to YAML write: a key with its items commented out,
        # or one item's fields without the '- ' that makes it an item.
        key = error.absolute_path[-1] if error.absolute_path else None
        if error.instance is None and isinstance(key, str) and in_scope:
            # Not "write []": an empty list of globs is refused in a scope.
            return f"is empty (nothing after '{key}:'): list its globs, or remove the key"
        if error.instance is None and isinstance(key, str):
            return (
                f"is empty (nothing after '{key}:'): list its items, write {key}: [] for none, "
                "or remove the key"
            )
        if isinstance(error.instance, dict):
            return "must be a list, not a mapping: start each item with '- '"
    if error.validator == "type" and error.instance is None:
        return error.message.replace("None", "null", 1)  # as YAML and JSON write it
    if error.validator == "type" and isinstance(error.instance, bool):
        return (
            f"{error.message} (YAML reads unquoted yes/no/on/off/true/false as booleans: "
            "quote the value)"
        )
    if len(error.message) > _LONGEST_MESSAGE:
        shown = repr(error.instance)
        return error.message.replace(shown, shortened(shown), 1)
    return error.message


def _number_for_text(error: ValidationError, written: str | None) -> str | None:
    """A number where text is expected (``postalCode: 01234``) named as
    written: YAML 1.1 reads ``01234`` as octal 668, which the file does not
    say (``written``: the text where YAML read another number)."""
    expected = error.validator_value
    if (
        error.validator != "type"
        or not isinstance(error.instance, int | float)
        or isinstance(error.instance, bool)
        or "string" not in (expected if isinstance(expected, list) else [expected])
    ):
        return None
    if written is not None:
        return (
            f"written {written}, which YAML reads as the number {error.instance}: quote it "
            f"('{written}') to give the text"
        )
    return f"{error.instance} is a number to YAML: quote it to give the text"


def _named(instance: Any) -> str:
    """A value a message names (its repr, shortened): worked out only by the
    messages that name it, as an instance may be a whole list of users."""
    return shortened(repr(instance))


def _unknown_keys(
    data: YamlMap, path: tuple[Any, ...], error: ValidationError, retold: Mapping[Source, str]
) -> list[tuple[Source, str]]:
    """For keys the schema does not know (``nmae``), one problem per key at
    that key's own place, each with its closest known key; none for other
    errors (and for a reference kind named in policy, which has its own
    message). A key YAML read as another value is named as written: a CI
    workflow's ``on:`` is the key ``True`` to YAML 1.1."""
    if error.validator != "additionalProperties" or _reference_kind(error) is not None:
        return []
    node: Any = data
    for part in path:
        if isinstance(node, YamlMap | YamlList) and _holds(node, part):
            node = node[part]
        else:
            return []
    if not isinstance(node, YamlMap):
        return []
    schema: Any = error.schema
    known = [str(key) for key in schema.get("properties", {})]
    words = list(_path_words(path))
    found = []
    for key in node:
        if str(key) in known:
            continue
        where = node.key_source(key)
        written = retold.get(where)
        name = str(key) if written is None else written
        read = "" if written is None else f", which YAML reads as {key!r}"
        found.append(
            (
                where,
                f"{'.'.join([*words, name])}: unknown key ({name!r} was unexpected{read})"
                + (in_a_key(name) or did_you_mean(name, known, limit=1)),
            )
        )
    return found


def _holds(node: YamlMap | YamlList, part: Any) -> bool:
    if isinstance(node, YamlMap):
        return part in node
    return isinstance(part, int) and part < len(node)


def _reference_kind(error: ValidationError) -> str | None:
    """The reference kind (lmsModules...) a policy error is about, if any."""
    names = {k.name for k in REFERENCE_KINDS}
    if error.validator == "enum" and isinstance(error.instance, str) and error.instance in names:
        return str(error.instance)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return next((str(key) for key in error.instance if key in names), None)
    return None


_LONGEST_MESSAGE = 300
NOT_BLANK = r"\S"
"""The schema's pattern of a string that must hold a value: konvsync compares
and sends strings without surrounding whitespace, and a blank one as null."""


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
