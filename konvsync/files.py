"""Writing output files all-or-nothing: every file goes to a temporary name
in its directory first and is renamed into place only when all are written,
so a failure never leaves a half-written plan or export behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from konvsync.errors import OutputError


def write_files(files: dict[Path, str]) -> None:
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            staged.append((Path(temporary), target))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        for temporary_path, target in staged:
            os.replace(temporary_path, target)
    except OSError as exc:
        for temporary_path, _ in staged:
            temporary_path.unlink(missing_ok=True)
        where = exc.filename or next(iter(files), "")
        raise OutputError(
            f"cannot write {where}: {exc.strerror or exc}; nothing was written"
        ) from None
