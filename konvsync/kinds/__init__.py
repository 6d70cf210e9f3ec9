"""The registry of kinds, in apply order."""

from __future__ import annotations

from konvsync.kinds import account_fields, accounts, groups, locations, users
from konvsync.kinds.base import Field, Kind

KINDS: tuple[Kind, ...] = tuple(
    sorted(
        (m.KIND for m in (groups, account_fields, accounts, locations, users)),
        key=lambda k: k.step,
    )
)
KINDS_BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
TOP_LEVEL_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k.parent is None)


def kind(name: str) -> Kind:
    return KINDS_BY_NAME[name]


__all__ = ["KINDS", "KINDS_BY_NAME", "TOP_LEVEL_KINDS", "Field", "Kind", "kind"]
