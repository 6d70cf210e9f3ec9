"""Files in and out: reading a regular file up to a size, refusing FIFOs and
devices; writing output files all-or-nothing (every file goes to a temporary
name in its directory first and is renamed into place only when all are
written, so a failure never leaves a half-written plan or export behind),
each with the mode and owner of the file it replaces (``keep_mode_and_owner``),
or the umask's mode for a new one, and where a symlink at its name points
(the link stays, as ``drift --write`` keeps a symlinked config file's)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from konvsync.errors import OutputError


def write_files(files: dict[Path, str]) -> None:
    staged: list[tuple[Path, Path]] = []
    done: list[str] = []
    try:
        targets = {named: _written_at(named) for named in files}
        for named, target in targets.items():
            if target.is_dir():  # a rename over it fails once the files before it are in place
                raise OutputError(f"cannot write {named}: it is a folder; nothing was written")
            blocking = _file_in_the_way(target)
            if blocking is not None:  # its folder cannot be made ("File exists")
                raise OutputError(
                    f"cannot write {named}: {blocking} is a file, not a folder; nothing was written"
                )
            refuse_read_only(str(named), target)
        for named, text in files.items():
            target = targets[named]
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            staged.append((Path(temporary), target))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            _set_mode(temporary, target)
        for temporary_path, target in staged:
            os.replace(temporary_path, target)
            done.append(str(target))
    except OSError as exc:
        for temporary_path, _ in staged:
            temporary_path.unlink(missing_ok=True)
        where = exc.filename or next(iter(files), "")
        written = f"only {', '.join(done)} was written" if done else "nothing was written"
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}; {written}") from None


def refuse_read_only(
    named: str, target: Path, in_place: bool = False, own_file: bool = False
) -> None:
    """Refuse (``OutputError``) to replace ``target`` (the file ``named``
    names) when the user made it or its folder read-only. The mode bits
    are asked as well as ``os.access``: root may write anything, and a
    rename needs no permission on the file it replaces. ``in_place``: the
    file is written where it is (a file with other hard links), its folder
    untouched. ``own_file``: a file this user may not write is refused too
    (a config file ``drift --write`` edits); a plan, report or export file
    is replaced as ``sed -i`` would, also when its owner is one the writer
    cannot name (root in a user namespace). A file or folder that does not
    exist yet is made."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        pass
    else:
        if not info.st_mode & 0o222 or (own_file and not os.access(target, os.W_OK)):
            raise OutputError(f"cannot write {named}: the file is read-only; nothing was written")
    if in_place:
        return
    try:
        folder = os.stat(target.parent)
    except FileNotFoundError:
        return
    if not folder.st_mode & 0o222 or not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {named}: its folder is read-only; nothing was written")


def _file_in_the_way(target: Path) -> Path | None:
    """The nearest of ``target``'s folders that exists, where it is no
    folder (a file named as one of them), else None."""
    for parent in target.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _written_at(named: Path) -> Path:
    """Where the file named ``named`` is written: where a symlink there points."""
    if not named.is_symlink():
        return named
    try:
        return named.resolve()
    except RuntimeError:  # a loop (Python 3.13 raises OSError, handled by the caller)
        raise OutputError(
            f"cannot write {named}: its symlinks form a loop; nothing was written"
        ) from None


def _set_mode(temporary: str, target: Path) -> None:
    """Give ``temporary`` what ``target`` has, or what ``open`` would give a
    new file under the umask (mkstemp's temporary file is 0600)."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        umask = os.umask(0o022)  # read by setting it: there is no other portable way
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        return
    keep_mode_and_owner(temporary, info)


def keep_mode_and_owner(temporary: str | Path, info: os.stat_result) -> None:
    """Give ``temporary``, renamed over a file whose status is ``info`` next,
    that file's mode, and its owner and group where this process may set
    them (as ``sed -i`` does): root in a container writing a checkout
    mounted from the host would otherwise leave the file root's. A user
    who may not keep them (EPERM), or cannot name them (EINVAL: root in a
    user namespace, a rootless container, and an owner it does not map),
    writes the file as their own, as any editor would. (The owner goes
    first: changing it clears set-ID bits.)"""
    chown = getattr(os, "chown", None)  # not on Windows
    if chown is not None and (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        for uid, gid in ((info.st_uid, info.st_gid), (-1, info.st_gid)):
            try:
                chown(temporary, uid, gid)
                break
            except OSError:
                continue
    os.chmod(temporary, info.st_mode & 0o7777)


class UnreadableFile(Exception):
    """A config file konvsync refuses to read; the message says why."""


def read_bounded(path: Path, limit: int, what: str = "config files") -> bytes:
    """The bytes of the regular file at ``path``, refusing before reading
    anything what is not a regular file (a FIFO, /dev/zero behind a symlink)
    or is larger than ``limit``; at most ``limit + 1`` bytes are read, in
    case the file grows meanwhile."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UnreadableFile("not a regular file; konvsync reads only regular files")
        # O_NONBLOCK: should the path have been swapped for a FIFO since the
        # stat, opening it must not wait for a writer.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile("not a regular file; konvsync reads only regular files")
        if info.st_size > limit:
            raise UnreadableFile(_too_large(info.st_size, limit, what))
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UnreadableFile(_too_large(len(data), limit, what))
    return data


def _too_large(size: int, limit: int, what: str) -> str:
    most = f"{limit // 1024**2} MB" if limit >= 1024**2 else f"{limit // 1024} KB"
    return f"file is {size / 1e6:.1f} MB; konvsync reads {what} up to {most}"


def read_generated(path: Path) -> dict[str, Any]:
    """The JSON object a generator wrote in the package at ``path`` (``{}``
    when it is missing or not JSON: what it held is then made from its
    sources)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
