"""What ``export --kinds``, ``export --target`` and ``export --scope`` name,
checked against the kinds (light to import: the command line checks them
before connecting)."""

from __future__ import annotations

from collections.abc import Sequence

from konvsync.config.scope import EXCLUDE, Scope, parse_scope, scope_fields, scoped_kinds
from konvsync.errors import UsageError
from konvsync.kinds import KINDS_BY_NAME, TOP_LEVEL_KINDS, kind
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


def parse_scope_options(values: Sequence[str]) -> Scope:
    """``--scope KIND=GLOB``, ``--scope KIND.FIELD=GLOB`` and ``--scope
    KIND.exclude=GLOB``, each repeatable, as the ``policy.scope`` they spell
    (``accounts=dealer-*`` is ``accounts: [dealer-*]``)."""
    data: dict[str, dict[str, list[str]]] = {}
    names = [k.name for k in scoped_kinds()]
    for value in values:
        target, sep, glob = value.partition("=")
        kind_name, _, field_name = target.partition(".")
        if not sep or not glob or kind_name not in names:
            child = KINDS_BY_NAME.get(kind_name)
            hint = (
                f" ({kind_name} follow their {kind(child.parent).singular}'s scope)"
                if child is not None and child.parent is not None
                else f" (KIND one of {', '.join(names)})"
            )
            raise UsageError(
                f"--scope {value!r}: give KIND=GLOB, KIND.FIELD=GLOB or KIND.exclude=GLOB{hint}"
            )
        k = kind(kind_name)
        allowed = [f.name for f in scope_fields(k)] + [EXCLUDE]
        field_name = field_name or k.key_field
        if field_name not in allowed:
            raise UsageError(
                f"--scope {value!r}: {k.name} are scoped by {', '.join(allowed)}, "
                f"not {field_name!r}"
            )
        # parse_scope drops a repeated glob (config.scope._globs)
        data.setdefault(kind_name, {}).setdefault(field_name, []).append(glob)
    return parse_scope(data)
