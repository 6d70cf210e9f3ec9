"""Which files a config path means: the file itself, or every YAML file
below a directory, and the files below it that look like config but are
not read (each is named in a warning: a file skipped without a word is a
file whose objects ``prune`` deletes).

Below a directory konvsync reads every ``*.yaml``/``*.yml`` file, the
extension in any case (``users.YAML``), in sorted order, and follows
symlinked folders (a shared ``teams -> ../shared-teams``); a folder reached
again by its real path (a link back up, or a second link to it) is not read
twice, nor is a file reached through a link to it as well. A link it
cannot follow (its target is missing, or it loops) is an error: it may
lead to config. It does not read, and names:

- hidden files and folders (``.draft.yaml``, ``.old/``; ``.git`` is
  skipped without a word, and so is one read through a link to it,
  ``users.yaml -> .users.yaml``, and konvsync's own ``.konvsync/`` unless
  it holds YAML);
- editor and backup leftovers whose name holds ``.yaml``/``.yml`` without
  ending in it (``users.yaml~``, ``.users.yaml.swp``, ``users.yml.bak``,
  ``#users.yaml#``);
- ``*.json`` files (JSON is YAML, but konvsync reads only the two YAML
  extensions: rename one to include it).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from konvsync.errors import ConfigError
from konvsync.support.redact import printable
from konvsync.support.text import LONE_SURROGATE

log = logging.getLogger("konvsync.config")

CONFIG_SUFFIXES = (".yaml", ".yml")
HIDDEN_FILE = "a hidden file"
HIDDEN_FOLDER = "a hidden folder"
QUIET_FOLDERS = frozenset({".git"})
"""Hidden folders skipped without a warning: they never hold a config."""
OWN_FOLDER = ".konvsync"
"""konvsync's own folder (the embedded sandbox's data, the editor's
``schema.json``): named as not read only when it holds YAML."""


@dataclass(frozen=True)
class SkippedFile:
    """A file (or folder) below a config directory that is not read."""

    path: str
    reason: str
    read_elsewhere: bool = False
    """Its content is read through another path (a link to a file or folder
    that is read, a loop): nothing it holds is missing from the config."""


@dataclass
class ConfigFiles:
    files: list[Path] = field(default_factory=list)
    """The files to read, in sorted order."""
    skipped: list[SkippedFile] = field(default_factory=list)
    """What looks like config but is not read, each with why."""
    broken: list[str] = field(default_factory=list)
    """Symbolic links that lead nowhere (or loop), each with why: an error,
    since konvsync cannot tell whether they held config."""
    linked_out: set[Path] = field(default_factory=set)
    """The files read through a link that leads out of the directory
    (``teams -> ../shared-teams``): other configurations may share them."""


def discover(path: str, listed: bool = True, empty_ok: bool = False) -> ConfigFiles:
    """The YAML files of a config path (the file itself, or the YAML files
    below a directory) and what looks like config below it but is not read;
    ``listed``: each file read is logged (``-v``); ``empty_ok``: a directory
    without any is no error."""
    root = Path(path)
    if LONE_SURROGATE.search(path):
        raise ConfigError(_not_text(path))
    try:
        is_dir = root.is_dir()
    except OSError as exc:  # a name too long, a folder on the way that may not be searched
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    if is_dir:
        found = ConfigFiles()
        try:
            # The folders below root itself first, so that a link to one of
            # them is the one not read, wherever it sorts.
            real_root = os.path.realpath(root)
            seen = {real_root: root}
            for real, folder in _folders(real_root, root):
                seen[real] = folder
            _walk(root, real_root, found, seen)
        except OSError as exc:
            raise ConfigError(
                f"{exc.filename or path}: cannot read directory: {exc.strerror or exc}"
            ) from None
        if found.broken:
            raise ConfigError("; ".join(found.broken))
        try:
            _read_once(found, real_root)
            _hidden_but_read(found, seen)
        except OSError as exc:  # a file's path too long to open (over PATH_MAX)
            raise ConfigError(f"{exc.filename or path}: {exc.strerror or exc}") from None
        found.files.sort()
        found.skipped.sort(key=lambda skipped: skipped.path)
        if not found.files and not empty_ok:
            names = ", ".join(skipped.path for skipped in found.skipped[:5])
            more = f" (not read: {names}{', ...' if len(found.skipped) > 5 else ''})"
            raise ConfigError(
                f"{path}: no *.yaml or *.yml files in this directory"
                + (more if found.skipped else "")
            )
        for file in found.files if listed else ():
            log.info("config file: %s", file)
        return found
    if root.exists() or root.is_symlink():
        # Reading it says what is wrong with a file that is not regular.
        log.info("config file: %s", root)
        return ConfigFiles([root])
    raise ConfigError(f"{path}: no such file or directory")


def _folders(real_root: str, root: Path) -> Iterator[tuple[str, Path]]:
    """The folders below ``root`` (whose real path is ``real_root``) that
    are not hidden, links not followed, each with its real path (a folder
    that cannot be read raises ``OSError``). A loop, not recursion, as
    every walk here: a tree may be deeper than Python's stack; and the real
    path of a folder that is no link is its parent's and its name (asked of
    the file system, each costs a look-up per folder above it)."""
    pending = [(real_root, root)]
    while pending:
        real, directory = pending.pop()
        with os.scandir(directory) as scan:
            for entry in scan:
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                    below = (os.path.join(real, entry.name), directory / entry.name)
                    pending.append(below)
                    yield below


def _sorted_entries(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as scan:
        return iter(sorted(scan, key=lambda entry: entry.name))


def _walk(root: Path, real_root: str, found: ConfigFiles, seen: dict[str, Path]) -> None:
    """Collect below ``root``, depth first in sorted order; ``seen``: the
    real path of every folder -> the one path it is read through. Each
    folder being walked is pending with the real paths of it and the
    folders above it (a link to one of those is a loop)."""
    pending: list[tuple[Path, tuple[str, ...], Iterator[os.DirEntry[str]]]] = [
        (root, (real_root,), _sorted_entries(root))
    ]
    while pending:
        directory, chain, entries = pending[-1]
        entry = next(entries, None)
        if entry is None:
            pending.pop()
            continue
        path = directory / entry.name
        not_text = LONE_SURROGATE.search(entry.name)
        if not_text and (_is_dir(entry) or skip_reason(entry.name) is None):
            found.broken.append(_not_text(str(path)))
            continue
        if entry.is_symlink() and not entry.name.startswith("."):
            try:
                os.stat(path)
            except OSError as exc:
                found.broken.append(
                    f"{path}: a symbolic link konvsync cannot follow ({exc.strerror or exc}); "
                    "it may lead to config, whose objects prune would delete: restore its "
                    "target or remove it"
                )
                continue
        if _is_dir(entry):
            if entry.name in QUIET_FOLDERS:
                continue
            if entry.name.startswith("."):
                if _holds_config(path, json=entry.name != OWN_FOLDER):
                    found.skipped.append(SkippedFile(str(path), HIDDEN_FOLDER))
                continue
            real = (
                os.path.realpath(path)
                if entry.is_symlink()
                else os.path.join(chain[-1], entry.name)
            )
            if seen.setdefault(real, path) != path:
                first = seen[real]
                why = (
                    f"a link back to {first} (a loop): not followed"
                    if real in chain
                    else f"the same folder as {first}, which is read once"
                )
                found.skipped.append(SkippedFile(str(path), why, read_elsewhere=True))
                continue
            pending.append((path, (*chain, real), _sorted_entries(path)))
            continue
        reason = skip_reason(entry.name)
        if reason is None:
            found.files.append(path)
        elif reason:
            found.skipped.append(SkippedFile(str(path), reason))


def _read_once(found: ConfigFiles, real_root: str) -> None:
    """A file reached through several paths (a link to it beside it) is
    read once, as a folder is: through a path that is not itself a link
    where there is one; the others are named as not read. Those whose real
    path is not below ``real_root`` are ``linked_out``."""
    by_real: dict[str, Path] = {}
    for file in sorted(found.files, key=lambda file: (file.is_symlink(), file)):
        first = by_real.setdefault(os.path.realpath(file), file)
        if first != file:
            found.skipped.append(
                SkippedFile(
                    str(file), f"the same file as {first}, which is read once", read_elsewhere=True
                )
            )
    found.files = list(by_real.values())
    inside = os.path.join(real_root, "")
    found.linked_out = {file for real, file in by_real.items() if not real.startswith(inside)}


def _hidden_but_read(found: ConfigFiles, seen: dict[str, Path]) -> None:
    """A hidden file or folder read through a link to it (``users.yaml ->
    .users.yaml``, ``teams -> .teams``) is not named as not read."""
    if not any(skipped.reason in (HIDDEN_FILE, HIDDEN_FOLDER) for skipped in found.skipped):
        return  # the real path of every file read is worth asking only then
    read = {os.path.realpath(file) for file in found.files} | seen.keys()
    found.skipped = [
        skipped
        for skipped in found.skipped
        if skipped.reason not in (HIDDEN_FILE, HIDDEN_FOLDER)
        or os.path.realpath(skipped.path) not in read
    ]


def skip_reason(name: str) -> str | None:
    """None for a file konvsync reads; why it does not read a file that
    looks like config; "" for any other file."""
    lower = name.lower()
    if lower.endswith(CONFIG_SUFFIXES):
        return HIDDEN_FILE if name.startswith(".") else None
    if any(suffix in lower for suffix in CONFIG_SUFFIXES):
        return "its name does not end in .yaml or .yml (an editor's backup or swap file?)"
    if lower.endswith(".json"):
        return "konvsync reads only *.yaml and *.yml files (rename it to include it)"
    return ""


def _not_text(path: str) -> str:
    try:  # UTF-8 read by a locale without it (LC_ALL=C with PYTHONUTF8=0)
        name = os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return (
            f"{printable(path)}: the file name is not UTF-8 text, and konvsync names the "
            "files it reads in its output: rename it"
        )
    return (
        f"{printable(name)}: the locale's encoding ({sys.getfilesystemencoding()}) cannot "
        "hold the file name, and konvsync names the files it reads in its output: run it "
        "with a UTF-8 locale (LC_ALL=C.UTF-8) or PYTHONUTF8=1"
    )


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symlink
    except OSError:
        return False


def _holds_config(folder: Path, json: bool = True) -> bool:
    """Whether a file below ``folder`` (links not followed) would be read or
    named, were the folder not hidden (``json``: a ``*.json`` file counts);
    what cannot be read holds nothing."""
    pending = [folder]
    while pending:
        try:
            with os.scandir(pending.pop()) as scan:
                entries = list(scan)
        except OSError:
            continue
        for entry in entries:
            if not _is_dir(entry):
                name = entry.name.lstrip(".")
                if skip_reason(name) != "" and (json or not name.lower().endswith(".json")):
                    return True
            elif not entry.is_symlink():
                pending.append(Path(entry.path))
    return False


def input_overwritten(output: str, inputs: Sequence[str | None]) -> str | None:
    """The input that writing ``output`` would replace, or None: ``output``
    is one of the ``inputs`` files (a saved plan, a config file, the
    credentials file), or a file that a folder of them reads as config.
    (``apply konvsync.plan --report konvsync.plan`` replaced the reviewed
    plan with the report before reading it.)"""
    try:
        if not os.path.isfile(output):
            return None  # a new file replaces nothing
        for given in inputs:
            if given is None or not os.path.exists(given):
                continue
            if os.path.isdir(given):
                files = discover(given, listed=False).files
                if any(os.path.samefile(output, file) for file in files):
                    return given
            elif os.path.samefile(output, given):
                return given
    except (OSError, ConfigError):
        return None  # the command itself says what is wrong with the inputs
    return None
