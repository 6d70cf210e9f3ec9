"""Values filed under a deleted key (an account's ``customFields`` under an
account field's key), after the delete.

The contract does not say what a server does with them when the object
that defines the key is deleted: one drops them with it, another keeps them
under a key no object has. konvsync depends on neither: the plan keeps an
object's values under a key it deletes (the definition, maybe required,
stands until deletes come, last), and right after the delete is done, apply
reads back the objects the plan saw holding values under the key and, for
each one the portal kept them on, sends an update that clears them (the
whole map without them, as the contract's update replaces it). So the
delete converges in one apply either way; where the portal dropped them,
nothing more is sent. An apply stopped in between leaves them to the next
plan (``plan.stranded``).
"""

from __future__ import annotations

from konvsync.apply.checks import PortalLookup
from konvsync.apply.held_values import holders_named, holders_now
from konvsync.kinds import kind
from konvsync.plan.changes import Update
from konvsync.plan.stranded import cleared_update


async def values_kept(
    lookup: PortalLookup, kind_name: str, deleted: set[str], deleting: set[tuple[str, str]]
) -> list[Update]:
    """For each object that the portal still shows holding values under a
    key of ``deleted`` (keys of kind ``kind_name`` whose delete is done),
    the update that clears them; none for an object the plan deletes
    (``deleting``: kinds and remote IDs), whose values go with it."""
    updates: list[Update] = []
    for held in await holders_now(lookup, kind_name, deleted, deleting):
        if held.now is None:
            continue  # deleted meanwhile, its values with it
        update = cleared_update(held.now, held.maps, deleted, held.key)
        if update is not None:
            updates.append(update)
    return updates


def kept_warning(updates: list[Update], kind_name: str, deleted: set[str], cleared: int) -> str:
    """What apply says when it clears values the portal kept: ``cleared`` of
    the ``updates`` that clear them are done (the rest were not sent, or
    failed: the next plan clears them)."""
    holders = holders_named(len(updates), sorted({update.kind for update in updates}))
    held = {
        key
        for update in updates
        for values in (update.before or {}).values()
        if isinstance(values, dict)
        for key in values
    }
    keys = ", ".join(repr(key) for key in sorted(held & deleted))
    kept = f"the portal kept the values of {len(updates)} {holders} under the deleted "
    kept += f"{kind(kind_name).singular} {keys}"
    if cleared == len(updates):
        return f"{kept}; konvsync cleared them (counted as changed)"
    if cleared == 0:
        return f"{kept}; konvsync did not clear them; the next plan does"
    return (
        f"{kept}; konvsync cleared {cleared} of them (counted as changed); "
        "the next plan clears the rest"
    )
