"""Which files a config path means: the file itself, or every YAML file
below a directory."""

from __future__ import annotations

import os
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
