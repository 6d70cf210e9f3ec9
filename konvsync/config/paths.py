"""Which files a config path means: the file itself, or every YAML file
below a directory (kept apart from the loader so that ``config.outline``
can look at them without importing YAML and JSON Schema)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from konvsync.errors import ConfigError


def discover(path: str) -> list[Path]:
    """The YAML files of a config path: the file itself, or every
    ``*.yaml``/``*.yml`` below a directory in sorted order."""
    root = Path(path)
    if root.is_dir():
        files: list[Path] = []
        try:
            for directory, subdirectories, names in os.walk(root, onerror=_raise):
                # Hidden directories (.git, .konvsync) are skipped; symlinked
                # directories are not followed (os.walk's default), so no loops.
                subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
                files.extend(
                    Path(directory) / name
                    for name in names
                    if name.endswith((".yaml", ".yml")) and not name.startswith(".")
                )
        except OSError as exc:
            raise ConfigError(
                f"{exc.filename or path}: cannot read directory: {exc.strerror or exc}"
            ) from None
        files.sort()
        if not files:
            raise ConfigError(f"{path}: no *.yaml or *.yml files in this directory")
        return files
    if root.exists() or root.is_symlink():
        return [root]  # reading it says what is wrong with a file that is not regular
    raise ConfigError(f"{path}: no such file or directory")


def _raise(error: OSError) -> None:
    raise error


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
