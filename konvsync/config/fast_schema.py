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
    )


def _own(schema: dict[str, Any]) -> dict[str, Any]:
    """A part as a definition (its definitions are the wrapper's)."""
    return {key: value for key, value in schema.items() if key not in ("$schema", "$id", "$defs")}


def module_is_current(text: str, schema: dict[str, Any]) -> bool:
    """Whether the generated module's ``text`` was made from ``schema``
    (by whatever fastjsonschema: its code may differ between versions)."""
    return f"\nSCHEMA_DIGEST = {schema_digest(schema)!r}\n" in text
