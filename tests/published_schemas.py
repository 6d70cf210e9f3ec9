"""Every JSON document konvsync makes in the tests, checked against the
schema it publishes in schemas/: ``validated`` for one document, and
``OutputCheck`` for a whole command line, which ``tests.conftest.invoke``
runs on every CLI call (stdout of ``--format json``, the ``--report`` file of
apply, the plan inside plan's ``--out`` file)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from konvsync.support.resources import json_schema

JSON_STDOUT = {"plan": "plan", "show": "plan", "drift": "drift", "validate": "validate"}
"""Command -> the schema of what it prints with ``--format json``."""
FILE_OPTIONS = {("apply", "--report"): "apply-report", ("plan", "--out"): "planfile"}
"""(command, option) -> the schema of the file the option names."""


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json_schema(f"{name}.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validated(document: str | bytes | dict[str, Any], name: str) -> Any:
    """``document`` (JSON text or parsed) after checking it against
    ``schemas/<name>.schema.json``; ``planfile``: a saved plan, whose
    ``plan`` is checked against the plan schema."""
    data = json.loads(document) if isinstance(document, str | bytes) else document
    if name == "planfile":
        validated(data["plan"], "plan")
        return data
    error = best_match(_validator(name).iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise AssertionError(
            f"konvsync's JSON does not fit schemas/{name}.schema.json at {where}: {error.message}"
        )
    return data


def _option_value(args: Sequence[str], option: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == option and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


@dataclass
class OutputCheck:
    """The JSON a command line makes: note the files before the run
    (``before``), check everything it made after (``after``)."""

    args: Sequence[str]
    command: str | None = None
    files: dict[Path, tuple[str, bytes | None]] = field(default_factory=dict)

    @classmethod
    def before(cls, args: Sequence[str]) -> OutputCheck:
        command = next((arg for arg in args if arg in {*JSON_STDOUT, "apply"}), None)
        check = cls(args, command)
        for (name, option), schema in FILE_OPTIONS.items():
            value = _option_value(args, option) if command == name else None
            if value is not None:
                path = Path(value)
                check.files[path] = (schema, path.read_bytes() if os.path.isfile(path) else None)
        return check

    def after(self, stdout: str) -> None:
        schema = JSON_STDOUT.get(self.command or "")
        if schema is not None and _option_value(self.args, "--format") == "json" and stdout:
            validated(stdout, schema)
        for path, (name, earlier) in self.files.items():
            if os.path.isfile(path) and path.read_bytes() != earlier:
                validated(path.read_bytes(), name)
