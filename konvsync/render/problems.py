"""Config problems for people and for tools: ``file:line:col: message``
lines, GitHub Actions annotations, or one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence

from konvsync.errors import ConfigProblem

PROBLEM_FORMATS = ("text", "github", "json")


def render_problems(
    problems: Sequence[ConfigProblem],
    fmt: str,
    error: str | None = None,
    warnings: Sequence[ConfigProblem] = (),
) -> str:
    """``problems`` found in a config (``error``: a problem without a place,
    such as a missing file) in format ``fmt``; ``warnings`` are part of the
    json document (the other formats show them apart, before it)."""
    if fmt == "json":
        document = problems_data(problems, error, warnings)
        return json.dumps(document, indent=2, ensure_ascii=False)
    if fmt == "github":
        lines = [github_annotation(problem) for problem in problems]
        if error is not None and not problems:
            lines.append(f"::error title=konvsync::{_escape_data(error)}")
        return "\n".join(lines)
    lines = [str(problem) for problem in problems]
    if error is not None and not problems:
        lines.append(f"Error: {error}")
    return "\n".join(lines)


def problems_data(
    problems: Sequence[ConfigProblem],
    error: str | None = None,
    warnings: Sequence[ConfigProblem] = (),
) -> dict[str, object]:
    return {
        "valid": not problems and error is None,
        "error": error,
        "problems": [_placed(problem) for problem in problems],
        "warnings": [_placed(warning) for warning in warnings],
    }


def _placed(problem: ConfigProblem) -> dict[str, object]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
    }


def github_annotation(problem: ConfigProblem, level: str = "error") -> str:
    """A workflow command that GitHub shows on the file's line
    (``::error file=...,line=...,col=...::message``; ``level``: ``error``
    or ``warning``)."""
    properties = ",".join(
        f"{name}={_escape_property(str(value))}"
        for name, value in (
            ("file", problem.file),
            ("line", problem.line),
            ("col", problem.column),
            ("title", "konvsync validate"),
        )
    )
    return f"::{level} {properties}::{_escape_data(problem.message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
