"""Values filed under a renamed key (an account's ``customFields`` under an
account field's key), after the rename.

The contract does not say what a server does with them when the key is
renamed: one moves them to the new key, another leaves them under the old
one, a third drops them. konvsync depends on none: right after the step that
renamed the keys, it reads back the objects that hold such values and, for
each one the portal left under an old key or dropped (the values read before
the rename, as the plan expects them under the new key), sends an update
that files them under the new key (the whole map, as the contract's update
replaces it). So the rename
converges in one apply either way, and a later step's check against the
plan reads the values as the plan expected them (``renames.as_renamed``).
"""

from __future__ import annotations

from konvsync.apply.checks import PortalLookup
from konvsync.apply.held_values import holders_named, holders_now
from konvsync.kinds import kind
from konvsync.plan.changes import Update
from konvsync.plan.stranded import stranded_update


async def values_left_behind(
    lookup: PortalLookup, kind_name: str, renamed: dict[str, str], deleting: set[tuple[str, str]]
) -> list[Update]:
    """For each object whose values the portal left under an old key of
    ``renamed`` (old key -> new key of kind ``kind_name``), the update that
    files them under the new key; none for an object the plan deletes
    (``deleting``: kinds and remote IDs), whose values go with it."""
    updates: list[Update] = []
    # as planned, holding values under a new key (the renamed view files
    # them there): those the portal may have left under the old key
    for held in await holders_now(lookup, kind_name, set(renamed.values()), deleting, renamed):
        if held.now is None:
            continue  # deleted meanwhile (its own step says so)
        update = stranded_update(held.now, held.maps, renamed, held.key, expected=held.planned)
        if update is not None:
            updates.append(update)
    return updates


def left_behind_warning(updates: list[Update], kind_name: str, renamed: dict[str, str]) -> str:
    """What apply says when it moves values the portal left behind (or
    files again those it dropped with the rename)."""
    kinds = sorted({update.kind for update in updates})
    moved = ", ".join(f"{old!r} (now {new!r})" for old, new in sorted(renamed.items()))
    kept = sum(1 for update in updates if _held_old_key(update, renamed))
    dropped = len(updates) - kept
    did = [
        f"kept the values of {kept} {holders_named(kept, kinds)} under the old key" if kept else "",
        f"dropped the values of {dropped} {holders_named(dropped, kinds)}" if dropped else "",
    ]
    return (
        f"the portal {' and '.join(filter(None, did))} of {kind(kind_name).singular} {moved}; "
        "konvsync filed them under the new key (counted as changed)"
    )


def _held_old_key(update: Update, renamed: dict[str, str]) -> bool:
    return any(
        isinstance(values, dict) and renamed.keys() & values.keys()
        for values in (update.before or {}).values()
    )
