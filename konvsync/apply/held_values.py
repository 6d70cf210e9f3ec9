"""The objects that file values under some keys of another kind (accounts'
``customFields`` under account fields' keys), as the plan saw them and as
the portal shows them now: what apply reads back after a step that renamed
or deleted such keys (``renamed_values``, ``deleted_values``)."""

from __future__ import annotations

from dataclasses import dataclass

from konvsync.apply.checks import PortalLookup, Wanted
from konvsync.kinds import value_holders
from konvsync.kinds.address import RemoteRef
from konvsync.plan.remote import RemoteObject


@dataclass(frozen=True)
class Holder:
    """One object holding values under one of the keys."""

    maps: tuple[str, ...]
    """Its map fields that file values under the keys."""
    planned: RemoteObject
    """As the plan saw it (after the renames it makes)."""
    now: RemoteObject | None
    """As the portal shows it now; None: deleted meanwhile."""
    key: str
    """The key its change is filed under (its ID when it has none)."""


async def holders_now(
    lookup: PortalLookup, kind_name: str, keys: set[str], deleting: set[tuple[str, str]]
) -> list[Holder]:
    """The objects that, as planned, hold values under one of ``keys`` (of
    kind ``kind_name``), read again from the portal; not those the plan
    deletes (``deleting``: kinds and remote IDs), whose values go with them."""
    out: list[Holder] = []
    for k, maps in value_holders(kind_name):
        holding = [
            obj
            for obj in lookup.planned.get(k.name).all()
            if (k.name, obj.id) not in deleting
            and any(keys & set(obj.data.get(name) or {}) for name in maps)
        ]
        if not holding:
            continue
        wanted = [
            Wanted(k.address(obj.key or RemoteRef(obj.id), obj.parent), obj.id, "", obj.parent)
            for obj in holding
        ]
        current = await lookup.current(k.name, wanted)
        out += [
            Holder(maps, planned, current[item.address], item.address.key)
            for item, planned in zip(wanted, holding, strict=True)
        ]
    return out
