"""Where ``export --out DIR`` writes, without destroying configuration:

- a folder that already holds konvsync YAML (any file ``plan DIR`` would
  read) is refused unless ``--force``, before the portal is read;
- with ``--force``, the ``policy`` of an existing ``konvsync.yaml`` is kept,
  as written (comments and substitutions included), and YAML files export
  does not write are named in a warning, since ``plan DIR`` reads them too;
- with ``--force``, the keys the folder's files hold (``keys_held``) are the
  objects the new export must not lose to a read that missed them: the
  kept policy may prune what the files no longer name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from konvsync.config.documents import MAX_FILE_BYTES
from konvsync.config.paths import discover
from konvsync.config.scope import Scope, parse_scope
from konvsync.config.yaml_loader import YamlLoadError, YamlMap, load_yaml
from konvsync.errors import ConfigError, OutputError
from konvsync.kinds import TOP_LEVEL_KINDS, kind
from konvsync.kinds.base import normalize_text
from konvsync.support.files import UnreadableFile, read_bounded
from konvsync.support.text import listed

_POLICY = re.compile(r"^policy\s*:")


def config_files(out_dir: Path) -> list[Path]:
    """The YAML files ``plan out_dir`` would read (none when it does not
    exist), found as plan finds them (``Users.YAML``, symlinked folders)."""
    if not os.path.isdir(out_dir):  # a name too long is the write's to report
        return []
    try:
        return discover(str(out_dir), listed=False, empty_ok=True).files
    except ConfigError as exc:
        raise OutputError(f"{exc}; nothing was written") from None


def check_out_dir(out_dir: Path, force: bool) -> list[Path]:
    """Refuse (``OutputError``) a folder holding configuration unless ``force``;
    return the configuration files found."""
    found = config_files(out_dir)
    if found and not force:
        shown = listed([str(p.relative_to(out_dir)) for p in found], 3)
        raise OutputError(
            f"{out_dir} holds konvsync configuration ({shown}); export would overwrite "
            "or duplicate it. Nothing was written. Export into an empty folder, or pass "
            "--force to overwrite (the policy of konvsync.yaml is kept)"
        )
    return found


def _kept_policy(config_file: Path) -> tuple[str, Any] | None:
    """The top-level ``policy`` of a konvsync.yaml as written and as it loads,
    or None; refused (``OutputError``) when the lines taken do not hold the
    very policy the file does (a key written another way, a file that does
    not load): a policy kept in part would protect less than it did."""
    if not os.path.isfile(config_file):
        return None
    try:
        text = config_file.read_text(encoding="utf-8-sig")  # a byte-order mark is no text
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(
            f"cannot read {config_file} to keep its policy: {exc}; nothing was written"
        ) from None
    policy = _policy_of(text, config_file)
    block = _policy_lines(text.splitlines())
    try:
        same = _policy_of(block or "", config_file) == policy
    except OutputError:  # the lines alone do not load (an alias to the rest of the file)
        same = False
    if not same:
        raise OutputError(
            f"{config_file}: cannot keep its policy as written (write it as a plain "
            "'policy:' block at the start of a line, without aliases to the rest of "
            "the file); nothing was written"
        )
    return None if block is None else (block, policy)


def _policy_lines(lines: list[str]) -> str | None:
    """The lines of a top-level ``policy:`` block: the key's line and the
    lines indented below it, comments at the first column among them."""
    for start, line in enumerate(lines):
        if _POLICY.match(line):
            end = start + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
                end += 1
            while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1][0] == "#"):
                end -= 1  # blank lines and comments after the block are the next key's
            return "\n".join(lines[start:end]) + "\n"
    return None


def _policy_of(text: str, config_file: Path) -> object:
    """The ``policy`` value ``text`` loads to (None without one)."""
    try:
        loaded = load_yaml(text, str(config_file)).data
    except YamlLoadError as exc:
        raise OutputError(
            f"{exc}; --force keeps this file's policy and cannot read it; nothing was written"
        ) from None
    return loaded.get("policy") if isinstance(loaded, YamlMap) else None


def kept_policy(out_dir: Path, scope: Scope) -> str | None:
    """The policy of ``out_dir``'s konvsync.yaml as written, which ``--force``
    keeps (read once, before the portal is), or None; refused
    (``OutputError``) when its ``policy.scope`` is not ``scope``: the export
    would then hold objects its own configuration does not own."""
    config_file = out_dir / "konvsync.yaml"
    kept = _kept_policy(config_file)
    if kept is None:
        return None
    block, policy = kept
    kept_scope = parse_scope(policy.get("scope") if isinstance(policy, dict) else None)
    if kept_scope != scope:
        shown = kept_scope.describe() if kept_scope else "none"
        raise OutputError(
            f"{config_file}: --force keeps its policy, and its policy.scope ({shown}) is not "
            f"--scope ({scope.describe() if scope else 'none'}); nothing was written. Make "
            "them the same, or export into an empty folder"
        )
    return block


def keep_policy(block: str | None, files: dict[str, str]) -> dict[str, str]:
    """``files`` with the kept policy (``kept_policy``) added to the new konvsync.yaml."""
    if block is None or "konvsync.yaml" not in files:
        return files
    return {**files, "konvsync.yaml": files["konvsync.yaml"] + block}


def leftover_warnings(out_dir: Path, found: list[Path], written: list[str]) -> list[str]:
    """Warnings for configuration files the export did not overwrite."""
    names = {out_dir / name for name in written}
    others = [p for p in found if p not in names]
    if not others:
        return []
    shown = listed([str(p.relative_to(out_dir)) for p in others], 5)
    return [
        f"{out_dir} also holds {shown}, which the export did not write: plan reads "
        "them too, so remove what the export now defines (a key defined twice is an error)"
    ]


@dataclass(frozen=True)
class FoundFile:
    """What ``--force`` needs of one configuration file already in the
    folder, read once (a 10,000-user file takes 0.2 s to load: twice was
    0.16 s of a 0.63 s export)."""

    path: Path
    kinds: frozenset[str]
    """The top-level kinds it lists objects of."""
    holds_policy: bool
    keys: dict[str, dict[str, str]]
    """Kind -> the keys of its objects there (as keys compare) -> each
    key's spelling (an e-mail's case: a portal may find one only as stored);
    a key written with a substitution is left out."""


def read_found(found: list[Path], kind_names: list[str]) -> list[FoundFile]:
    """``FoundFile`` of each file ``found`` that loads (one that does not is
    left out: ``--force`` overwrites what it can); ``kind_names``: the
    kinds whose keys are taken."""
    files = []
    for path in found:
        loaded = _loaded(path)
        if loaded is None:
            continue
        keys: dict[str, dict[str, str]] = {}
        for name in kind_names:
            k = kind(name)
            entries = loaded.get(name)
            if k.parent is not None or not isinstance(entries, list):
                continue
            for entry in entries:
                key = k.key_of(entry) if isinstance(entry, dict) else None
                if key is not None and "${" not in key:
                    spelled = normalize_text(str(entry[k.key_field])) or key
                    keys.setdefault(name, {})[key] = spelled
        listed_kinds = frozenset(k.name for k in TOP_LEVEL_KINDS if loaded.get(k.name))
        files.append(FoundFile(path, listed_kinds, "policy" in loaded, keys))
    return files


def refuse_dropped_kinds(
    out_dir: Path, found: list[FoundFile], written: list[str], kind_names: list[str]
) -> None:
    """Refuse (``OutputError``) to replace a configuration file (``found``)
    that lists objects of a kind this export does not write (``--kinds``):
    they would be gone from the configuration, and with that kind pruned,
    from the portal at the next apply. (One that does not load is replaced,
    as ``read_found`` leaves it out.) Nor one other than konvsync.yaml that
    holds the policy: ``--force`` keeps konvsync.yaml's only."""
    replaced = {os.path.realpath(out_dir / name) for name in written}
    policy_kept = os.path.realpath(out_dir / "konvsync.yaml")
    for file in found:
        path = file.path
        if os.path.realpath(path) not in replaced:
            continue
        if file.holds_policy and os.path.realpath(path) != policy_kept:
            raise OutputError(
                f"{path} holds the policy, which export --force keeps only from konvsync.yaml: "
                "replacing the file would drop it from the configuration (prune, scope, "
                "max_delete_percent and the rest); nothing was written. Move it to "
                f"{out_dir / 'konvsync.yaml'}"
            )
        dropped = [
            k.name for k in TOP_LEVEL_KINDS if k.name not in kind_names and k.name in file.kinds
        ]
        if dropped:
            raise OutputError(
                f"{path} holds {listed(dropped, 5)}, which this export (--kinds "
                f"{','.join(kind_names)}) does not write: replacing the file would drop them "
                "from the configuration (and a pruned kind's objects from the portal at the "
                "next apply); nothing was written. Move them to a file of their own, or "
                "export those kinds too"
            )


def _loaded(path: Path) -> dict[Any, Any] | None:
    """The top-level mapping of a configuration file, or None where it does
    not load (a regular file only, as plan reads them: a FIFO would block)."""
    try:
        text = read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
        loaded = load_yaml(text, str(path)).data
    except (OSError, UnreadableFile, UnicodeDecodeError, YamlLoadError):
        return None
    return loaded if isinstance(loaded, dict) else None


def keys_held(found: list[FoundFile]) -> dict[str, dict[str, str]]:
    """Kind -> the natural keys of its objects in the configuration files
    ``found`` -> each key's spelling there (``FoundFile.keys``, merged)."""
    held: dict[str, dict[str, str]] = {}
    for file in found:
        for name, keys in file.keys.items():
            held.setdefault(name, {}).update(keys)
    return held
