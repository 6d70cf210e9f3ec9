"""Files konvsync reads at run time: schemas and GraphQL documents.

The top-level ``schemas/`` folder ships inside the wheel as
``konvsync/_schemas`` (see pyproject); in a source checkout it is read in place.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent.parent

PUBLISHED_SCHEMAS = "https://raw.githubusercontent.com/konvsync/konvsync/main/schemas/"
"""Where the repository publishes ``schemas/``: editors read a config file's
schema from there (``# yaml-language-server: $schema=...``, which export
writes)."""


def schemas_dir() -> Path:
    installed = _PACKAGE / "_schemas"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "schemas"


@cache
def konvert_sdl() -> str:
    return (schemas_dir() / "konvert.graphql").read_text(encoding="utf-8")


@cache
def _schema_text(name: str) -> str:
    return (schemas_dir() / name).read_text(encoding="utf-8")


def json_schema(name: str) -> dict[str, Any]:
    """A fresh copy on every call: some validators (fastjsonschema) modify
    the schema they are given."""
    loaded: dict[str, Any] = json.loads(_schema_text(name))
    return loaded


def config_schema() -> dict[str, Any]:
    return json_schema("konvsync.schema.json")
