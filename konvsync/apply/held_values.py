"""The objects that file values under some keys of another kind (accounts'
``customFields`` under account fields' keys), as the plan saw them and as
the portal shows them now: what apply reads back after a step that renamed
or deleted such keys (``renamed_values``, ``deleted_values``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from konvsync.apply.checks import PortalLookup, Wanted
from konvsync.kinds import kind, value_holders
from konvsync.kinds.address import RemoteRef
from konvsync.kinds.custom_values import with_typed_maps
from konvsync.plan.remote import RemoteObject


def holders_named(count: int, kind_names: list[str]) -> str:
    """The kinds of ``count`` objects holding values, as a warning counts
    them: "1 account", "2 accounts"."""
    return " and ".join(kind(name).singular if count == 1 else name for name in kind_names)


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
    lookup: PortalLookup,
    kind_name: str,
    keys: set[str],
    deleting: set[tuple[str, str]],
    renamed: dict[str, str] | None = None,
) -> list[Holder]:
    """The objects that, as planned, hold values under one of ``keys`` (of
    kind ``kind_name``), read again from the portal; not those the plan
    deletes (``deleting``: kinds and remote IDs), whose values go with them.
    Both with their values in the config's form by their types (what is
    sent again is what the config would send: "true", not a portal's
    "True"); ``renamed`` (old key -> new key): a value under an old key
    has the new key's type."""
    types = dict(lookup.types)
    for old, new in (renamed or {}).items():
        if new in lookup.types:
            types[old] = lookup.types[new]
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
        for item, planned in zip(wanted, holding, strict=True):
            now = current[item.address]
            now = None if now is None else _typed(now, types)
            out.append(Holder(maps, _typed(planned, types), now, item.address.key))
    return out


def _typed(obj: RemoteObject, types: dict[str, str]) -> RemoteObject:
    """``obj`` with its values in the config's form by their ``types``."""
    if not types:
        return obj
    return replace(obj, data=with_typed_maps(kind(obj.kind), obj.data, types))
