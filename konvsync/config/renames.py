"""Offline checks of ``renamedFrom`` and ``previousEmails``: a previous key
must not be one the configuration defines, nor be claimed by two objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from konvsync.config.model import DesiredObject, DesiredState, Source
from konvsync.errors import ConfigProblem
from konvsync.kinds import KINDS, kind
from konvsync.kinds.base import Kind


def check_renames(state: DesiredState, problems: list[ConfigProblem]) -> None:
    for k in KINDS:
        objects = state.objects.get(k.name)
        if k.rename_field is None or not objects:
            continue
        claimed: dict[str, tuple[str, Source]] = {}
        for obj in objects.values():
            key = obj.key
            for old in previous_keys(k, obj.data):
                if old == key:
                    continue
                other = objects.get(old)
                if other is not None:
                    problems.append(
                        obj.source.problem(
                            f"{k.singular} {key!r}: {k.rename_field} names {old!r}, which the "
                            f"configuration also defines (at {other.source}); an object cannot "
                            "be renamed to another one that stays"
                        )
                    )
                elif old in claimed:
                    first_key, first_at = claimed[old]
                    problems.append(
                        obj.source.problem(
                            f"{k.singular} {key!r}: {k.rename_field} names {old!r}, as "
                            f"{k.singular} {first_key!r} does (at {first_at}); one object can "
                            "become only one"
                        )
                    )
                else:
                    claimed[old] = (key, obj.source)


def previous_keys(k: Kind, data: Mapping[str, Any]) -> list[str]:
    """The keys an object of kind ``k`` says it had, normalized as keys compare."""
    if k.rename_field is None:
        return []
    value = data.get(k.rename_field)
    if value is None:
        return []  # most objects: asked for by several checks at every plan
    values = value if isinstance(value, list) else [value]
    keys = (k.normalize_key(v) for v in values)
    return [key for key in keys if key is not None]


def renamed_away(state: DesiredState, kind_name: str) -> dict[str, DesiredObject]:
    """The configured objects of a kind by each previous key they name (the
    keys this configuration renames away: a reference to one of them never
    resolves, since the plan renames that object). A key outside
    ``policy.scope`` is not one: a configuration renames only objects it
    owns, and an object of that key is another's, which a reference may name."""
    k = kind(kind_name)
    out: dict[str, DesiredObject] = {}
    if k.rename_field is None:
        return out
    rule = state.policy.scope.rule(kind_name)
    for obj in state.objects.get(kind_name, {}).values():
        for old in previous_keys(k, obj.data):
            if rule is None or not rule.outside_by_key(old):
                out.setdefault(old, obj)
    return out


def renamed_reference(k: Kind, key: str, renamed: Mapping[str, DesiredObject]) -> str | None:
    """Why a reference to ``key`` (of kind ``k``) cannot stand, when it is a
    key the configuration renames away; None when it is not."""
    new = renamed.get(k.normalize_key(key) or "")
    if new is None:
        return None
    return (
        f"the configuration renames to {new.key!r} ({k.rename_field} at {new.source}): "
        "refer to it by its new key"
    )
