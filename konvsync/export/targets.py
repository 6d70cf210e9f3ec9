"""What ``export --kinds`` and ``export --target`` name, checked against the
kinds (light to import: the command line checks them before connecting)."""

from __future__ import annotations

from konvsync.errors import UsageError
from konvsync.kinds import TOP_LEVEL_KINDS, kind
from konvsync.kinds.base import Kind


def parse_kinds(value: str | None) -> list[str]:
    if not value:
        return [k.name for k in TOP_LEVEL_KINDS]
    names = [part.strip() for part in value.split(",") if part.strip()]
    known = {k.name for k in TOP_LEVEL_KINDS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"--kinds: unknown kind(s) {', '.join(unknown)} "
            f"(choose from {', '.join(sorted(known))})"
        )
    return [k.name for k in TOP_LEVEL_KINDS if k.name in names]


def parse_target(value: str) -> tuple[Kind, str]:
    """``KIND/KEY`` of ``export --target``."""
    kind_name, _, key = value.partition("/")
    names = [k.name for k in TOP_LEVEL_KINDS]
    if kind_name not in names or not key:
        raise UsageError(
            f"--target {value!r}: give KIND/KEY, KIND one of {', '.join(names)} "
            "(a location comes with its account)"
        )
    k = kind(kind_name)
    return k, k.normalize_key(key) or key
