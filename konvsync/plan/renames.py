"""Renames: ``renamedFrom`` (groups, accounts, account fields) and
``previousEmails`` (users) turn a changed natural key into an update of the
same object, never a delete and a create.

When one of an object's previous keys is in the portal and its configured key
is not, the object is renamed. The plan, the apply and apply's checks then
work on a *renamed view* of the portal: the renamed object is filed under its
new key (its data still holds the old one, so the diff shows the key
change), and whatever refers to the old key (other objects' references, the
keys of an account's locations, custom field names) reads the new one, as
the portal will once the rename is applied. A saved plan carries its renames
(``Update.renamed_from``), so ``apply PLANFILE`` builds the same view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from konvsync.config.model import DesiredState
from konvsync.config.renames import previous_keys
from konvsync.errors import ConfigInvalid, ConfigProblem
from konvsync.kinds import KINDS, kind
from konvsync.kinds.base import Field
from konvsync.plan.changes import Change, Update
from konvsync.plan.remote import RemoteKind, RemoteObject, RemoteState

Renames = dict[str, dict[str, str]]
"""kind -> key in the portal -> configured key."""


def find_renames(desired: DesiredState, remote: RemoteState) -> Renames:
    """The renames this plan makes; a config problem (file:line) when the
    portal holds both an object's old and new key, or several old keys."""
    renames: Renames = {}
    problems: list[ConfigProblem] = []
    for k in KINDS:
        objects = desired.objects.get(k.name)
        if k.rename_field is None or not objects:
            continue
        present = remote.get(k.name).objects
        for obj in objects.values():
            if obj.data.get(k.rename_field) is None:
                # Names no previous key (most objects): a cold plan of 2,000
                # users 100 -> 95 million instructions.
                continue
            key = obj.key
            found = [old for old in previous_keys(k, obj.data) if old != key and old in present]
            if not found:
                continue
            what = f"{k.singular} {key!r}"
            if key in present:
                problems.append(
                    obj.source.problem(
                        f"{what} has {k.rename_field} {found[0]!r}, but the portal has both "
                        f"{k.singular} {found[0]!r} (ID {present[found[0]].id}) and {key!r} "
                        f"(ID {present[key].id}): delete one in the portal, or remove "
                        f"{found[0]!r} from {k.rename_field}"
                    )
                )
            elif len(found) > 1:
                listed = ", ".join(f"{old!r} (ID {present[old].id})" for old in found)
                problems.append(
                    obj.source.problem(
                        f"{what}: the portal has several of its {k.rename_field}: {listed}; "
                        "konvsync cannot tell which one to rename"
                    )
                )
            else:
                renames.setdefault(k.name, {})[found[0]] = key
    if problems:
        raise ConfigInvalid(problems)
    return renames


def renames_in(changes: Iterable[Change]) -> Renames:
    """The renames a (saved) plan makes."""
    renames: Renames = {}
    for change in changes:
        if isinstance(change, Update) and change.renamed_from is not None:
            renames.setdefault(change.kind, {})[change.renamed_from] = change.key
    return renames


def renamed_view(remote: RemoteState, renames: Renames) -> RemoteState:
    """``remote`` as it reads once ``renames`` are applied (see the module
    docstring); ``remote`` itself when there are none."""
    if not renames:
        return remote
    kinds: dict[str, RemoteKind] = {}
    for name, bucket in remote.kinds.items():
        k = kind(name)
        own = renames.get(name, {})
        parents = renames.get(k.parent, {}) if k.parent else {}
        refs = [(f, renames[f.ref]) for f in k.fields if f.ref in renames]
        maps = [(f, renames[f.keys_ref]) for f in k.fields if f.keys_ref in renames]
        if not (own or parents or refs or maps):
            kinds[name] = bucket
            continue
        view = RemoteKind(
            keyless=[_remapped(obj, obj.key, None, refs, maps) for obj in bucket.keyless],
            outside=bucket.outside,  # as the portal has them: they are not renamed
        )
        for twins in bucket.twins.values():
            moved_twins = [as_renamed(obj, renames) for obj in twins]
            view.twins[moved_twins[0].filed_key or ""] = moved_twins
        for obj in bucket.objects.values():
            key = obj.key or ""
            new_key, renamed_from, new_parent = key, None, obj.parent
            if obj.parent is None and key in own:
                new_key, renamed_from = own[key], key
            elif obj.parent in parents:
                new_parent = parents[obj.parent]
            moved = _remapped(obj, new_key, renamed_from, refs, maps, new_parent)
            view.objects[moved.filed_key or new_key] = moved
        kinds[name] = view
    return RemoteState(kinds, remote.portal_name, remote.scope)


def as_renamed(obj: RemoteObject, renames: Renames) -> RemoteObject:
    """``obj`` (as read at any time) as the renamed view shows what it refers
    to: references, map keys and its parent's key that name an old key read
    the new one; its own key is left as it is. Whether the portal has made a
    rename yet, and whether it moved the values filed under the old key
    (the contract does not say), reads the same, so comparing with the view
    never takes konvsync's own rename for another writer's change."""
    if not renames:
        return obj
    k = kind(obj.kind)
    refs = [(f, renames[f.ref]) for f in k.fields if f.ref in renames]
    maps = [(f, renames[f.keys_ref]) for f in k.fields if f.keys_ref in renames]
    parents = renames.get(k.parent, {}) if k.parent else {}
    parent = parents.get(obj.parent, obj.parent) if obj.parent is not None else None
    return _remapped(obj, obj.key, obj.renamed_from, refs, maps, parent)


def _remapped(
    obj: RemoteObject,
    key: str | None,
    renamed_from: str | None,
    refs: list[tuple[Field, dict[str, str]]],
    maps: list[tuple[Field, dict[str, str]]],
    parent: str | None = None,
) -> RemoteObject:
    data = obj.data
    changed: dict[str, Any] = {}
    for f, mapping in refs:
        value = data.get(f.name)
        if isinstance(value, list):
            if any(v in mapping for v in value):
                changed[f.name] = sorted({mapping.get(v, v) for v in value})
        elif value in mapping:
            changed[f.name] = mapping[value]
    for f, mapping in maps:
        value = data.get(f.name)
        if isinstance(value, dict) and any(v in mapping for v in value):
            changed[f.name] = dict(sorted((mapping.get(n, n), v) for n, v in value.items()))
    if not changed and key == obj.key and renamed_from is None and parent == obj.parent:
        return obj
    return replace(
        obj,
        key=key,
        data={**data, **changed} if changed else data,
        renamed_from=renamed_from,
        parent=parent if parent is not None else obj.parent,
    )
