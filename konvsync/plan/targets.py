"""What ``--target KIND[/KEY]`` names, checked against the kinds (light to
import: the command line checks it before reading anything)."""

from __future__ import annotations

import unicodedata

from konvsync.errors import UsageError
from konvsync.kinds import KINDS, KINDS_BY_NAME, kind

Targets = list[tuple[str, str | None]]
"""Parsed ``--target`` values: (kind, key or None for the whole kind)."""


def parse_targets(targets: tuple[str, ...]) -> Targets:
    out = []
    for target in targets:
        kind_name, sep, key = target.partition("/")
        if kind_name not in KINDS_BY_NAME or kind(kind_name).reference:
            raise UsageError(
                f"--target {target!r}: unknown kind {kind_name!r} "
                f"(one of {', '.join(k.name for k in KINDS if not k.reference)})"
            )
        if sep and not key:
            raise UsageError(f"--target {target!r}: give KIND or KIND/KEY")
        k = kind(kind_name)
        if key and k.parent is None:
            key = k.normalize_key(key) or key
        elif key:  # keys from the top, joined by "/": each compares in form NFC
            key = unicodedata.normalize("NFC", key)
        out.append((kind_name, key or None))
    return out
