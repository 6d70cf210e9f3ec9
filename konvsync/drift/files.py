"""The files ``drift --write`` edits, read and written only while they hold
the bytes the config loader read (that read placed the edits): all or none,
each atomically (a temporary file in its folder renamed over it) with its
permissions and owner, or in place when it has other hard links (a rename cuts them);
a file or folder made read-only is refused."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from konvsync.config.documents import MAX_FILE_BYTES
from konvsync.config.model import DesiredState
from konvsync.errors import OutputError, StalePlanError
from konvsync.support.files import (
    UnreadableFile,
    keep_mode_and_owner,
    read_bounded,
    refuse_read_only,
)


def read_unchanged(path: str, desired: DesiredState) -> bytes:
    """The bytes of ``path``, as the config loader read them."""
    try:
        raw = read_bounded(Path(path), MAX_FILE_BYTES)
    except UnreadableFile as exc:
        raise OutputError(f"{path}: {exc}; nothing was written") from None
    if hashlib.sha256(raw).hexdigest() != desired.file_digests.get(path):
        raise StalePlanError(
            f"{path} changed since drift read it; nothing was written (run drift --write again)"
        )
    return raw


def write_unchanged(changed: dict[str, str], desired: DesiredState) -> None:
    """Write each file of ``changed`` (path -> text) that holds what was read."""
    staged: list[tuple[Path, Path]] = []
    in_place: list[tuple[Path, bytes]] = []
    done: list[str] = []
    try:
        for path, text in changed.items():
            read_unchanged(path, desired)
            target = Path(path).resolve()  # a symlinked file is written where it points
            info = os.stat(target)
            data = text.encode("utf-8")
            refuse_read_only(path, target, in_place=info.st_nlink > 1, own_file=True)
            if info.st_nlink > 1:
                in_place.append((target, data))
                continue
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            staged.append((Path(temporary), target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            keep_mode_and_owner(temporary, info)
        for staged_path, final in staged:
            os.replace(staged_path, final)
            done.append(str(final))
        for linked, content in in_place:
            with open(linked, "r+b") as handle:
                handle.write(content)
                handle.truncate()
            done.append(str(linked))
    except BaseException as exc:
        for staged_path, _final in staged:
            staged_path.unlink(missing_ok=True)  # a later file's refusal leaves no temp file
        if not isinstance(exc, OSError):
            raise
        written = f"only {', '.join(done)} was written" if done else "nothing was written"
        where = exc.filename or next(iter(changed))
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}; {written}") from None
