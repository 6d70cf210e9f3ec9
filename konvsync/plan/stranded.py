"""Values a portal left under a renamed key: an account's customFields under
the old key of an account field whose rename is already made (the contract
does not say that a server moves them; ``apply`` moves them right after its
rename, see ``apply.renamed_values``, but an apply stopped in between leaves
them there).

A plan finds them: when the config renames a key (``renamedFrom``) that the
portal already has under its new name only, every object still filing values
under the old key gets an update that files them under the new one (merged
into that object's own update when it has one that does not set the map).
So running apply again converges, and no value stays behind under a key no
field has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from konvsync.config.model import DesiredState
from konvsync.config.renames import previous_keys
from konvsync.kinds import KINDS, value_holders
from konvsync.plan.changes import Change, Update
from konvsync.plan.diff import field_changes
from konvsync.plan.order import in_apply_order
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.renames import Renames


def made_renames(desired: DesiredState, remote: RemoteState) -> Renames:
    """Renames of keys other objects file values under that the portal has
    already made: the new key is there, the old one is not."""
    out: Renames = {}
    for k in KINDS:
        if k.rename_field is None or not value_holders(k.name):
            continue
        present = remote.get(k.name).objects
        for obj in desired.objects.get(k.name, {}).values():
            if obj.key not in present:
                continue
            for old in previous_keys(k, obj.data):
                if old != obj.key and old not in present:
                    out.setdefault(k.name, {})[old] = obj.key
    return out


def with_stranded_values(
    changes: list[Change], desired: DesiredState, remote: RemoteState
) -> list[Change]:
    """``changes`` plus the updates that file stranded values under their new key."""
    renames = made_renames(desired, remote)
    if not renames:
        return changes
    out = list(changes)
    index = {change.address: position for position, change in enumerate(out)}
    for key_kind, renamed in renames.items():
        for holder, maps in value_holders(key_kind):
            for obj in remote.get(holder.name).objects.values():
                update = stranded_update(obj, maps, renamed)
                if update is None:
                    continue
                position = index.get(obj.address)
                if position is None:
                    out.append(update)
                    continue
                own = out[position]
                if isinstance(own, Update) and not set(update.after or {}) & set(
                    own.changed_fields()
                ):
                    out[position] = replace(
                        own,
                        before={**(own.before or {}), **(update.before or {})},
                        after={**(own.after or {}), **(update.after or {})},
                        fields=own.fields + update.fields,
                    )
    return in_apply_order(out, remote)


def stranded_update(
    obj: RemoteObject,
    maps: Sequence[str],
    renamed: dict[str, str],
    key: str | None = None,
    expected: RemoteObject | None = None,
) -> Update | None:
    """The update that files ``obj``'s values under the new keys of
    ``renamed`` (old key -> new key) in its map fields ``maps``, or None when
    it holds none under an old key. ``key``: the one to file the change
    under, when ``obj`` has none of its own. ``expected``: the object as the
    plan expected it after the rename (values under the new keys): a value
    it holds under a new key that ``obj`` holds under neither key (the
    portal dropped it with the rename) is filed there again."""
    moved = _moved(obj, maps, renamed, expected)
    if moved is None:
        return None
    before, after = moved
    old = sorted({name for values in before.values() for name in values} & renamed.keys())
    listed = ", ".join(f"{name!r} (now {renamed[name]!r})" for name in old)
    note = f"the portal kept its values under the old key {listed}; filed under the new one"
    if not old:
        new = sorted({name for values in after.values() for name in values} & _new(renamed))
        listed = ", ".join(repr(name) for name in new)
        note = f"the portal dropped its values with the rename; filed again under {listed}"
    return Update(
        obj.kind,
        key or obj.key or "",
        before,
        after,
        field_changes(before, after),
        obj.id,
        note=note,
        parent=obj.parent,
    )


def _new(renamed: dict[str, str]) -> set[str]:
    return set(renamed.values())


def _moved(
    obj: RemoteObject,
    maps: Sequence[str],
    renamed: dict[str, str],
    expected: RemoteObject | None = None,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in maps:
        found = obj.data.get(name)
        values: dict[str, Any] = found if isinstance(found, dict) else {}
        planned = expected.data.get(name) if expected is not None else None
        wanted: dict[str, Any] = planned if isinstance(planned, dict) else {}
        held = set(values) | {renamed[old] for old in renamed.keys() & values.keys()}
        dropped = {new: wanted[new] for new in _new(renamed) & wanted.keys() if new not in held}
        if not renamed.keys() & values.keys() and not dropped:
            continue
        kept = {
            renamed.get(key, key): value
            for key, value in values.items()
            if not (key in renamed and renamed[key] in values)  # a value under the new key wins
        }
        before[name] = values
        after[name] = dict(sorted({**kept, **dropped}.items()))
    return (before, after) if after else None
