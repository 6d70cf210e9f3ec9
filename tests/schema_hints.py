"""The ``# yaml-language-server: $schema=...`` hint of a YAML file, checked
as an editor would: the schema it names (the repository's published URL is
read from this checkout's ``schemas/``, no network), applied with
check-jsonschema."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from konvsync.support.resources import PUBLISHED_SCHEMAS

ROOT = Path(__file__).resolve().parent.parent
_HINT = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def hinted_schema(path: Path) -> Path:
    """The schema file the first line of ``path`` names."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = _HINT.match(first)
    assert match, f"{path}: no schema hint on its first line: {first!r}"
    target = match.group(1)
    if target.startswith(PUBLISHED_SCHEMAS):
        return ROOT / "schemas" / target.removeprefix(PUBLISHED_SCHEMAS)
    assert "://" not in target, f"{path}: {target} is not the repository's published schema"
    return (path.parent / target).resolve()


def check_jsonschema(schema: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
