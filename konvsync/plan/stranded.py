"""Values a portal left under a renamed key: an account's customFields under
the old key of an account field whose rename is already made (the contract
does not say that a server moves them; ``apply`` moves them right after its
rename, see ``apply.renamed_values``, but an apply stopped in between leaves
them there). Likewise values a portal kept under a deleted key: an
account's customFields under the key of an account field already deleted
(``apply.deleted_values`` clears them right after the delete).

A plan finds them: when the config renames a key (``renamedFrom``) that the
portal already has under its new name only, every object still filing values
under the old key gets an update that files them under the new one; when the
config prunes the kind whose keys the values are filed under, every object
holding values under a key the portal has no such object for gets an update
that clears them (merged into that object's own update when it has one; one
that sets the map gets it without them). So running apply again converges,
and no value stays behind under a key no field has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from dataclasses import replace
from typing import Any

from konvsync.config.model import DesiredState
from konvsync.config.renames import previous_keys
from konvsync.kinds import KINDS, KINDS_BY_NAME, kind, value_holders
from konvsync.kinds.address import Address
from konvsync.kinds.custom_values import with_typed_maps
from konvsync.plan.changes import Change, Update
from konvsync.plan.diff import field_changes
from konvsync.plan.order import in_apply_order
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.renames import Renames
from konvsync.plan.value_types import types_after


def made_renames(desired: DesiredState, remote: RemoteState) -> Renames:
    """Renames of keys other objects file values under that the portal has
    already made: the new key is there, the old one is not, in scope or
    outside it (values under an old key another owner's object has since
    are under that object's key)."""
    out: Renames = {}
    for k in KINDS:
        if k.rename_field is None or not value_holders(k.name):
            continue
        present = remote.get(k.name).objects
        shown = remote.get(k.name).shown_keys()
        for obj in desired.objects.get(k.name, {}).values():
            if obj.key not in present:
                continue
            for old in previous_keys(k, obj.data):
                if old != obj.key and old not in shown:
                    out.setdefault(k.name, {})[old] = obj.key
    return out


def unheld_keys(desired: DesiredState, remote: RemoteState) -> dict[str, set[str]]:
    """Kind -> the keys that objects in scope file values under although
    the portal has no object of that kind with the key (its delete is
    already made, and the portal kept the values), for each kind the config
    prunes (it owns them, within its ``policy.scope``: a key outside it is
    another owner's, whose values are left as they are); the old keys of
    renames the config declares are left to ``made_renames``."""
    out: dict[str, set[str]] = {}
    for key_kind in desired.policy.prune:
        holders = value_holders(key_kind)
        if not holders or key_kind not in remote.kinds:
            continue
        known = remote.get(key_kind).referable().keys() | previous_keys_of(desired, key_kind)
        owned = _owned_keys(desired, key_kind)
        for holder, maps in holders:
            for obj in remote.get(holder.name).objects.values():
                for name in maps:
                    values = obj.data.get(name)
                    if isinstance(values, dict):
                        gone = {key for key in values.keys() - known if owned(key)}
                        if gone:
                            out.setdefault(key_kind, set()).update(gone)
    return out


def _owned_keys(desired: DesiredState, kind_name: str) -> Callable[[str], bool]:
    """Whether a key of ``kind_name`` (as a map holds it) is in the config's
    ``policy.scope``: one no object with it could be owned is not."""
    rule = desired.policy.scope.rule(kind_name)
    if rule is None:
        return lambda _key: True
    k = KINDS_BY_NAME[kind_name]

    def owned(key: str) -> bool:
        compared = k.normalize_key(key)
        return compared is not None and not rule.outside_by_key(compared)

    return owned


def previous_keys_of(desired: DesiredState, kind_name: str) -> set[str]:
    """The keys the config's objects of ``kind_name`` are renamed from."""
    k = KINDS_BY_NAME[kind_name]
    return {
        old
        for obj in desired.objects.get(kind_name, {}).values()
        for old in previous_keys(k, obj.data)
    }


def with_stranded_values(
    changes: list[Change], desired: DesiredState, remote: RemoteState
) -> list[Change]:
    """``changes`` plus the updates that file stranded values under their
    new key, and those that clear values kept under a deleted key."""
    renames = made_renames(desired, remote)
    unheld = unheld_keys(desired, remote)
    if not renames and not unheld:
        return changes
    out = list(changes)
    index = {change.address: position for position, change in enumerate(out)}
    # The values sent again go as the config writes them ("true", not a
    # portal's "True"); one under an old key has its new key's type.
    types = types_after(remote, changes)
    for renamed in renames.values():
        types.update({old: types[new] for old, new in renamed.items() if new in types})

    def in_config_form(obj: RemoteObject) -> RemoteObject:
        return replace(obj, data=with_typed_maps(kind(obj.kind), obj.data, types))

    for key_kind, renamed in renames.items():
        for holder, maps in value_holders(key_kind):
            for obj in remote.get(holder.name).objects.values():
                _merge(out, index, stranded_update(in_config_form(obj), maps, renamed))
    for key_kind, gone in unheld.items():
        for holder, maps in value_holders(key_kind):
            for obj in remote.get(holder.name).objects.values():
                update = cleared_update(in_config_form(obj), maps, gone)
                _merge(out, index, update, frozenset(gone))
    return in_apply_order(out, remote)


def _merge(
    out: list[Change],
    index: dict[Address, int],
    update: Update | None,
    gone: frozenset[str] = frozenset(),
) -> None:
    """``update`` added to ``out``, or merged into the object's own update
    there: beside the fields that one changes; for the keys ``gone`` (values
    cleared), a map it sets already drops them (or gives the config's value
    under a key it creates anew), and its note says why."""
    if update is None:
        return
    position = index.get(update.address)
    if position is None:
        index[update.address] = len(out)
        out.append(update)
        return
    own = out[position]
    if not isinstance(own, Update):
        return  # a delete: the values go with the object
    changed = set(own.changed_fields())
    if not set(update.after or {}) & changed:
        out[position] = replace(
            own,
            before={**(own.before or {}), **(update.before or {})},
            after={**(own.after or {}), **(update.after or {})},
            fields=own.fields + update.fields,
            note=own.note or update.note if gone else own.note,
        )
        return
    if not gone:
        return
    # The map it sets is the config's: it drops the values under a key gone,
    # unless it gives one (a field it creates anew with that key): say why.
    after = own.after or {}
    if any(
        key not in (after.get(name) or {})
        for name in changed & set(update.after or {})
        for key in gone & set((update.before or {}).get(name) or {})
    ):
        out[position] = replace(own, note=own.note or update.note)


def cleared_update(
    obj: RemoteObject, maps: Sequence[str], gone: Set[str], key: str | None = None
) -> Update | None:
    """The update that clears ``obj``'s values under the keys ``gone`` (whose
    definitions are deleted) in its map fields ``maps`` (the whole map is
    sent without them, as the contract's update replaces it), or None when
    it holds none there. ``key``: the one to file the change under, when
    ``obj`` has none of its own."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in maps:
        values = obj.data.get(name)
        if isinstance(values, dict) and values.keys() & gone:
            before[name] = values
            after[name] = {k: v for k, v in values.items() if k not in gone}
    if not after:
        return None
    held = sorted({k for values in before.values() for k in values} & gone)
    listed = ", ".join(repr(name) for name in held)
    note = f"the portal kept its values under the deleted key {listed}; cleared"
    return _maps_update(obj, key, before, after, note)


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
    return _maps_update(obj, key, before, after, note)


def _maps_update(
    obj: RemoteObject, key: str | None, before: dict[str, Any], after: dict[str, Any], note: str
) -> Update:
    """The update of ``obj``'s map fields from ``before`` to ``after``,
    filed under ``key`` when it has none of its own, saying why."""
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
