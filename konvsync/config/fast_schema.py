"""The config schema as fastjsonschema code, in parts: the schema with each
top-level list (users, groups ...) as a plain array, and each list's items
against the item's own schema. Compiled whole, fastjsonschema's code builds
every item's error path before checking the item (a ``format`` of its
locals): 89 ms of CPU for 10,000 users, against 24 ms in parts.

Compiling the parts takes 49 ms of CPU, at every run that reads a config.
So the generator (``python -m konvsync.cli.generate``) writes their code
once into ``schema_validators.py``, with the digest of the schema it was made
from, and konvsync imports it (2 ms); it compiles the parts itself only for
a schema that module was not made from (the overlay schema, or a schema
edited without regenerating), so the code in use always fits the schema in
use.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import fastjsonschema

Validate = Callable[..., Any]
"""A fastjsonschema validator: ``(data, custom_formats={}, name_prefix=None)``,
raising ``JsonSchemaException``."""

LISTS = "konvsync_lists"
"""The ``$defs`` name of the schema with its lists as plain arrays."""
ITEMS = "konvsync_items_"
"""The ``$defs`` name prefix of each list's items."""
MODULE = "konvsync/config/schema_validators.py"
"""The generated module, from the root of a source checkout."""


def schema_digest(schema: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def split(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The schema without its lists' items, and each list's item schema
    (each a schema of its own, with the definitions)."""
    definitions = {key: schema[key] for key in ("$schema", "$id", "$defs") if key in schema}
    items = {
        name: {**part["items"], **definitions}
        for name, part in schema["properties"].items()
        if part.get("type") == "array" and isinstance(part.get("items"), dict)
    }
    lists = dict(schema)
    lists["properties"] = {
        name: {key: value for key, value in part.items() if key != "items"}
        if name in items
        else part
        for name, part in schema["properties"].items()
    }
    return lists, items


def quick(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """The generated module's quick check (``quick_text``) when the module
    was made from ``schema``, else None."""
    generated = _generated()
    if generated is not None and schema_digest(schema) == generated.SCHEMA_DIGEST:
        check: Callable[[Any], bool] | None = getattr(generated, QUICK, None)
        return check
    return None


def compiled(schema: dict[str, Any]) -> tuple[Validate, dict[str, Validate]]:
    """The parts' validators, from the generated module when it was made
    from ``schema``, else compiled now."""
    generated = _generated()
    if generated is not None and schema_digest(schema) == generated.SCHEMA_DIGEST:
        parts: dict[str, Validate] = generated.VALIDATORS
        return parts[LISTS], {name[len(ITEMS) :]: v for name, v in parts.items() if name != LISTS}
    lists, items = split(schema)
    return fastjsonschema.compile(lists), {
        name: fastjsonschema.compile(item) for name, item in items.items()
    }


def in_parts(lists: Validate, items: dict[str, Validate]) -> Callable[[Any], None]:
    """One check of a document by its parts (``compiled``): the schema with
    each top-level list as a plain array, then each item of those lists
    against the item's own schema. An item that fails is checked again with
    its path, for the same message as a whole-document check."""

    def validate(data: Any) -> None:
        lists(data)
        for name, item_validator in items.items():
            listed = data.get(name)
            for index, item in enumerate(listed if isinstance(listed, list) else ()):
                try:
                    item_validator(item)
                except fastjsonschema.JsonSchemaException:
                    item_validator(item, {}, f"data.{name}[{index}]")

    return validate


def _generated() -> ModuleType | None:
    try:
        from konvsync.config import schema_validators
    except ImportError:  # an older fastjsonschema than the one that wrote it
        return None
    return schema_validators


def module_text(schema: dict[str, Any]) -> str:
    """The generated module: the parts as ``$defs`` of one schema, compiled
    to code once, and ``VALIDATORS``, each part's function by its name."""
    digest = schema_digest(schema)
    quick = quick_text(schema)
    schema = copy.deepcopy(schema)  # fastjsonschema edits what it is given
    lists, items = split(schema)
    parts = {LISTS: _own(lists), **{ITEMS + name: _own(item) for name, item in items.items()}}
    wrapper: dict[str, Any] = {
        **{key: schema[key] for key in ("$schema", "$id") if key in schema},
        "$defs": {**schema.get("$defs", {}), **parts},
        "anyOf": [{"$ref": f"#/$defs/{name}"} for name in parts],
    }
    code = fastjsonschema.compile_to_code(wrapper)
    functions = re.findall(r"^def (\w+)\(", code, re.MULTILINE)
    names: dict[str, str] = {}
    for part in parts:
        found = [f for f in functions if f.endswith("___defs_" + part.lower())]
        if len(found) != 1:
            raise ValueError(f"fastjsonschema's code has no one function for {part}: {found}")
        names[part] = found[0]
    table = "".join(f"    {part!r}: {name},\n" for part, name in names.items())
    return (
        f"# generated by python -m konvsync.cli.generate from schemas/konvsync.schema.json,\n"
        f"# do not edit (see konvsync/config/fast_schema.py)\n"
        f"# fmt: off\n"
        f"{code}\n\n"
        f"SCHEMA_DIGEST = {digest!r}\n"
        f"VALIDATORS = {{\n{table}}}\n"
        f"{quick}"
    )


def _own(schema: dict[str, Any]) -> dict[str, Any]:
    """A part as a definition (its definitions are the wrapper's)."""
    return {key: value for key, value in schema.items() if key not in ("$schema", "$id", "$defs")}


def module_is_current(text: str, schema: dict[str, Any]) -> bool:
    """Whether the generated module's ``text`` was made from ``schema``
    (by whatever fastjsonschema: its code may differ between versions), and
    its quick check by this konvsync (``quick_text``)."""
    digest = f"\nSCHEMA_DIGEST = {schema_digest(schema)!r}\n"
    return digest in text and text.endswith(quick_text(schema))


QUICK = "quick_fits"
"""The generated module's function that tells at once whether a whole
config document fits the schema (``quick_text``)."""
_ANNOTATIONS = frozenset(
    {"description", "$comment", "title", "$schema", "$id", "$defs", "default", "examples"}
)
_TYPES = {
    "string": "isinstance({v}, str)",
    "null": "{v} is None",
    "boolean": "isinstance({v}, bool)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "integer": "(type({v}) is int or type({v}) is float and {v}.is_integer())",
    "number": "(type({v}) is int or type({v}) is float)",
}
"""Each JSON type as a test of a value YAML read (str, int, float, bool,
None, dicts and lists), as jsonschema and fastjsonschema take it: a
boolean is no number, 1.0 is an integer."""
_DOLLAR = re.compile(r"(?<!\\)\$")
"""An un-escaped ``$``, which fastjsonschema's code reads as ``\\Z`` (the
end of the text; ``$`` also takes a text that ends with a line break)."""


def quick_text(schema: dict[str, Any]) -> str:
    """Python code of ``quick_fits(data) -> bool``: whether ``data`` fits
    ``schema`` by fastjsonschema's reading of it, in one pass without the
    error paths and messages fastjsonschema's code builds as it goes. The
    config's check runs it first and fastjsonschema (then jsonschema) only
    on a document it refuses, for their messages: the check of the
    10,000-user benchmark config took 463 million instructions, now 183
    million (load_config's were 2.91 billion).

    Written for the keywords the config schema uses; another keyword is a
    ``ValueError`` here, never a check skipped. Where it cannot tell at once
    (a list whose items must differ holding other than strings) it answers
    False, and fastjsonschema's code decides."""
    writer = _QuickWriter(schema)
    top = writer.function(schema, exact=False)
    return "".join(
        [
            "\n\n# The quick check (konvsync's own generator, fast_schema.quick_text).\n",
            "import re\n\n_QUICK_MISSING = object()\n",
            *writer.constants,
            *writer.functions,
            f"{QUICK} = {top}\n",
        ]
    )


class _QuickWriter:
    """Writes ``quick_text``'s functions: one per ``$ref`` target, ``not``
    and ``if``; every other keyword inline, as statements that return False
    where the value does not fit."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema
        self.constants: list[str] = []
        self.functions: list[str] = []
        self.names: dict[tuple[str, bool], str] = {}
        self.values: dict[str, str] = {}
        self.count = 0

    def constant(self, code: str) -> str:
        name = self.values.get(code)
        if name is None:
            name = self.values[code] = f"_Q{len(self.values)}"
            self.constants.append(f"{name} = {code}\n")
        return name

    def function(self, schema: Any, exact: bool, ref: str | None = None) -> str:
        """The name of a function ``(value) -> bool`` of ``schema``. ``exact``:
        its False must mean "does not fit" (under ``not`` and ``if``)."""
        if ref is not None and (ref, exact) in self.names:
            return self.names[(ref, exact)]
        name = f"_quick{self.count}"
        self.count += 1
        if ref is not None:
            self.names[(ref, exact)] = name
        self.functions.append("")  # its place, filled below (its own may come first)
        place = len(self.functions) - 1
        body = self.body(schema, "v0", 1, exact)
        self.functions[place] = "".join([f"def {name}(v0):\n", *body, "    return True\n\n"])
        return name

    def body(self, schema: Any, v: str, depth: int, exact: bool) -> list[str]:
        pad = "    " * depth
        fail = f"{pad}    return False\n"
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False\n"]
        if not isinstance(schema, dict):
            raise ValueError(f"not a schema: {schema!r}")
        unknown = [
            key
            for key in schema
            if key not in _ANNOTATIONS and not key.startswith("x-") and key not in _KEYWORDS
        ]
        if unknown:
            raise ValueError(f"the quick check knows no keyword {unknown[0]!r}")
        lines: list[str] = []
        types = schema.get("type")
        known = types if isinstance(types, str) else None
        """The one type the value has past the type's test, whose tests
        below are then left out."""

        def given(json_type: str) -> str:
            """The test that the value has ``json_type``, as a condition's
            first part ("" where the type's test has passed)."""
            return "" if known == json_type else f"isinstance({v}, {_PYTHON[json_type]}) and "

        if "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"the quick check follows only #/$defs/ references: {ref}")
            target = self.function(self.root["$defs"][ref[len("#/$defs/") :]], exact, ref)
            lines += [f"{pad}if not {target}({v}):\n", fail]
        if types is not None:
            test = " or ".join(_TYPES[t].format(v=v) for t in ([types] if known else types))
            lines += [f"{pad}if not ({test}):\n", fail]
        if "enum" in schema or "const" in schema:
            allowed = schema["enum"] if "enum" in schema else [schema["const"]]
            if all(isinstance(a, str) for a in allowed):
                names = self.constant(f"frozenset({sorted(allowed)!r})")
                lines += [f"{pad}if not (isinstance({v}, str) and {v} in {names}):\n", fail]
            elif all(type(a) is int for a in allowed):
                names = self.constant(f"frozenset({sorted(allowed)!r})")
                test = _TYPES["number"].format(v=v)
                lines += [f"{pad}if not ({test} and {v} in {names}):\n", fail]
            else:
                raise ValueError(f"the quick check takes strings or integers only: {allowed}")
        if "pattern" in schema:
            fixed = _DOLLAR.sub(r"\\Z", schema["pattern"])
            regex = self.constant(f"re.compile({fixed!r})")
            if schema["pattern"] == r"\S":  # as the regular expression reads it, 3x faster
                search = f"({v} and not {v}.isspace())"
            else:
                search = f"{regex}.search({v})"
            lines += [f"{pad}if {given('string')}not {search}:\n", fail]
        for keyword, kind, op in _BOUNDS:
            if keyword in schema:
                test = given(kind) if kind else _TYPES["number"].format(v=v) + " and "
                size = f"len({v})" if kind else v
                lines += [f"{pad}if {test}{size} {op} {schema[keyword]!r}:\n", fail]
        if "required" in schema:
            test = " and ".join(f"{name!r} in {v}" for name in schema["required"]) or "True"
            lines += [f"{pad}if {given('object')}not ({test}):\n", fail]
        within = self.object_body(schema, v, depth, exact)
        lines += [line[4:] for line in within[1:]] if known == "object" else within
        if "items" in schema:
            item = f"v{depth}"
            inner = self.body(schema["items"], item, depth + 2, exact)
            if inner and known == "array":
                lines += [f"{pad}for {item} in {v}:\n", *(line[4:] for line in inner)]
            elif inner:
                lines += [f"{pad}if isinstance({v}, list):\n", f"{pad}    for {item} in {v}:\n"]
                lines += inner
        if schema.get("uniqueItems") is True:
            items = schema.get("items")
            if isinstance(items, dict) and _strings_only(items):
                lines += [f"{pad}if {given('array')}len(set({v})) < len({v}):\n", fail]
            elif exact:
                raise ValueError("the quick check tells unique items under not or if for strings")
            else:
                lines += [
                    f"{pad}if isinstance({v}, list) and not (\n",
                    f"{pad}    all(type(i) is str for i in {v}) and len(set({v})) == len({v})\n",
                    f"{pad}):\n",
                    fail,
                ]
        if "not" in schema:
            lines += [f"{pad}if {self.function(schema['not'], True)}({v}):\n", fail]
        if "if" in schema:
            condition = self.function(schema["if"], True)
            then = self.body(schema.get("then", True), v, depth + 1, exact)
            otherwise = self.body(schema.get("else", True), v, depth + 1, exact)
            if then:
                lines += [f"{pad}if {condition}({v}):\n", *then]
            if otherwise:
                lines += [f"{pad}if not {condition}({v}):\n", *otherwise]
        for part in schema.get("allOf", ()):
            lines += self.body(part, v, depth, exact)
        if "anyOf" in schema:
            parts = " or ".join(f"{self.function(p, exact)}({v})" for p in schema["anyOf"])
            lines += [f"{pad}if not ({parts}):\n", fail]
        return lines

    def object_body(self, schema: dict[str, Any], v: str, depth: int, exact: bool) -> list[str]:
        pad = "    " * depth
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        lines: list[str] = []
        if extra is False:
            names = self.constant(f"frozenset({sorted(properties)!r})")
            lines += [f"{pad}    if not {v}.keys() <= {names}:\n", f"{pad}        return False\n"]
        item = f"v{depth}"
        for name, part in properties.items():
            inner = self.body(part, item, depth + 2, exact)
            if inner:
                lines += [
                    f"{pad}    {item} = {v}.get({name!r}, _QUICK_MISSING)\n",
                    f"{pad}    if {item} is not _QUICK_MISSING:\n",
                    *inner,
                ]
        if extra is not False and extra is not True:
            inner = self.body(extra, item, depth + 3, exact)
            if inner:
                names = self.constant(f"frozenset({sorted(properties)!r})")
                lines += [
                    f"{pad}    for k{depth}, {item} in {v}.items():\n",
                    f"{pad}        if k{depth} not in {names}:\n",
                    *inner,
                ]
        if not lines:
            return []
        return [f"{pad}if isinstance({v}, dict):\n", *lines]


_KEYWORDS = frozenset(
    {
        "$ref", "type", "enum", "const", "pattern", "minLength", "maxLength", "minItems",
        "maxItems", "minProperties", "maxProperties", "minimum", "maximum", "required",
        "properties", "additionalProperties", "items", "uniqueItems", "not", "if", "then",
        "else", "allOf", "anyOf",
    }
)  # fmt: skip
_PYTHON = {"string": "str", "object": "dict", "array": "list"}
_BOUNDS = (
    ("minLength", "string", "<"),
    ("maxLength", "string", ">"),
    ("minItems", "array", "<"),
    ("maxItems", "array", ">"),
    ("minProperties", "object", "<"),
    ("maxProperties", "object", ">"),
    ("minimum", "", "<"),
    ("maximum", "", ">"),
)
"""Keyword, the type it bounds (by its length; "": a number itself) and the
comparison that breaks it."""


def _strings_only(items: dict[str, Any]) -> bool:
    """Whether a value that fits ``items`` is always a string."""
    if items.get("type") == "string":
        return True
    allowed = items.get("enum", [items["const"]] if "const" in items else None)
    return isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
