"""Desired vs remote, kind by kind, by natural key.

Normalized objects are compared with ``==`` first; deepdiff runs only on the
objects that differ, to explain them field by field. Fields the config omits
and fields in ``policy.ignore_changes`` are not compared; ``null`` clears.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from konvsync.config.model import DesiredObject, DesiredState
from konvsync.errors import PlanError
from konvsync.kinds import KINDS, kind, value_holders
from konvsync.kinds.address import ObjectKey, RemoteRef
from konvsync.kinds.base import Kind
from konvsync.kinds.custom_values import with_typed_maps
from konvsync.kinds.schema_rules import implied_nulls
from konvsync.plan.changes import Change, Create, Delete, FieldChange, created, updated
from konvsync.plan.order import in_apply_order
from konvsync.plan.remote import RemoteKind, RemoteObject, RemoteState
from konvsync.plan.value_types import ValueTypes, typed_kinds, types_compared


def diff_state(desired: DesiredState, remote: RemoteState) -> list[Change]:
    """Every change, creates and updates in apply order, then deletes in reverse."""
    upserts: list[Change] = []
    deletes: list[list[Change]] = []
    adopted_by_kind: dict[str, dict[str, str]] = {}
    for k in KINDS:
        wanted = desired.objects.get(k.name)
        pruned = k.name in desired.policy.prune
        if wanted is None and not pruned and k.parent is None:
            continue
        remote_kind = _refer_to_adopted(k, remote.get(k.name), adopted_by_kind)
        if k.parent is not None:
            remote_kind = _rekey_children(k, remote_kind, adopted_by_kind.get(k.parent, {}))
        going = _definitions_going(k, desired, remote)
        types = types_compared(remote, upserts) if _holds_typed_values(k) else {}
        kind_upserts, adopted = _upserts(k, wanted or {}, remote_kind, desired, going, types)
        adopted_by_kind[k.name] = adopted
        upserts.extend(kind_upserts)
        deletes.append(_deletes(k, wanted or {}, remote_kind, desired, remote, adopted))
    return in_apply_order(upserts + [c for group in reversed(deletes) for c in group], remote)


def _holds_typed_values(k: Kind) -> bool:
    """Whether ``k`` files values under keys that give them a type (an
    account's customFields): its kinds (account fields) are diffed first."""
    return any(f.keys_ref in typed_kinds() for f in k.fields)


def _definitions_going(k: Kind, desired: DesiredState, remote: RemoteState) -> dict[str, set[str]]:
    """Map field of ``k`` -> the keys whose definitions this plan deletes
    (account fields pruned: ``customFields`` under them)."""
    going = {
        f.name: pruned_keys(kind(f.keys_ref), desired, remote)
        for f in k.fields
        if f.keys_ref is not None and f.keys_ref in desired.policy.prune
    }
    return {name: keys for name, keys in going.items() if keys}


def _keeping(
    after: dict[str, Any], current: RemoteObject, going: dict[str, set[str]]
) -> dict[str, Any]:
    """``after`` with the portal's values under keys whose definitions this
    plan deletes kept in each map field it gives: the definition (a field the
    portal may require) still stands when the object is updated, and the
    values go with it when it is deleted, after (deletes come last)."""
    out = after
    for name, keys in going.items():
        given, held = after.get(name), current.data.get(name)
        if not isinstance(given, dict) or not isinstance(held, dict):
            continue
        kept = {key: held[key] for key in keys if key in held and key not in given}
        if kept:
            out = {**out, name: dict(sorted({**given, **kept}.items()))}
    return out


def _upserts(
    k: Kind,
    wanted: dict[ObjectKey, DesiredObject],
    remote: RemoteKind,
    desired: DesiredState,
    going: dict[str, set[str]],
    types: ValueTypes,
) -> tuple[list[Change], dict[str, str]]:
    """Creates and updates of ``k``; ``types``: the type each typed value
    compares by (``plan.value_types``)."""
    ignored = desired.policy.ignore_changes.get(k.name, frozenset())
    changes: list[Change] = []
    adopted: dict[str, str] = {}
    adoptable = _adoptable(remote)
    rules = k.schema_rules
    for filed, obj in wanted.items():
        current = remote.objects.get(filed)
        if current is None and not adoptable:
            # Nothing to compare with or adopt (every object of a cold apply).
            changes.append(_create(k, obj))
            continue
        data = obj.data
        if (
            current is not None
            and not rules
            and (data == current.data or data.items() <= current.data.items())
        ):
            # Every value the config gives is the portal's as written (equal
            # dicts told first, at once: the common case): a normalized value
            # normalizes to itself, so ``after`` below would be these values,
            # all held, and no change (nor, without rules, an implied null).
            # Most objects of a no-op plan, compared at C speed without
            # normalizing them: plan_against of the 10,000-user benchmark
            # took 303 million instructions, now 93 million.
            continue
        key = obj.key
        after = k.normalize_desired(data)
        if current is None:
            candidate = _adoption(k, obj, after, adoptable)
            if candidate is None:
                changes.append(_create(k, obj))
                continue
            current = candidate
            adopted[candidate.id] = key
        if types and current.data != after:
            # The portal's values as the config writes them where they are
            # the same values by their type ("True", a date at midnight,
            # "1.50" for "1.5"): no change, and a changed one shown so.
            current = replace(current, data=with_typed_maps(k, current.data, types, after))
        if going:
            after = _keeping(after, current, going)
        if not ignored and current.data == after:
            continue  # the common case, compared at C speed
        rekeyed = current.key is None or current.renamed_from is not None
        compared = {
            name: value
            for name, value in after.items()
            if name not in ignored or (rekeyed and name == k.key_field)
        }
        # What the kind's rules forbid next to the values sent is cleared,
        # in ignore_changes or not: an OPEN link keeps no code, and a portal
        # refuses one (an access left alone by ignore_changes clears nothing).
        for name in implied_nulls(k.schema_rules, compared):
            if name not in after and current.data.get(name) is not None:
                compared[name] = None
        before = {name: current.data.get(name) for name in compared}
        if before == compared:
            continue
        adopt = current.key is None
        note = (
            f"adopts the existing {k.singular} {current.id} (same name, no {k.key_field})"
            if adopt
            else _rename_note(k, current.renamed_from, key)
        )
        changes.append(
            updated(
                k.name,
                key,
                before,
                compared,
                field_changes(before, compared),
                current.id,
                obj.source,
                note,
                obj.parent,
                adopt,
                current.renamed_from,
            )
        )
    return changes, adopted


def _rename_note(k: Kind, old: str | None, new: str) -> str | None:
    """What else a key's rename changes: values other objects file under the
    key (accounts' customFields) move to the new one."""
    if old is None:
        return None
    held = [f"{h.name}' {name}" for h, names in value_holders(k.name) for name in names]
    if not held:
        return None
    return f"{' and '.join(held)} under {old!r} move to {new!r} with it"


def _create(k: Kind, obj: DesiredObject) -> Create:
    return created(k.name, obj.key, k.normalize_desired(obj.data, True), obj.source, obj.parent)


def _adoptable(remote: RemoteKind) -> dict[Any, list[RemoteObject]]:
    """Keyless remote objects by name."""
    by_name: dict[Any, list[RemoteObject]] = {}
    for obj in remote.keyless:
        by_name.setdefault(obj.data.get("name"), []).append(obj)
    return by_name


def _adoption(
    k: Kind,
    obj: DesiredObject,
    after: dict[str, Any],
    adoptable: dict[Any, list[RemoteObject]],
) -> RemoteObject | None:
    """The keyless remote object ``obj`` adopts (same name), or None. Two or
    more with that name: the user must choose (PlanError), since creating a
    third would be the duplicate adoption exists to prevent."""
    if "name" not in after:
        return None
    candidates = adoptable.pop(after["name"], None)
    if not candidates:
        return None
    if len(candidates) > 1:
        ids = ", ".join(c.id for c in candidates)
        raise PlanError(
            f"{obj.source}: {k.singular} {obj.path!r} would adopt the existing {k.singular} named "
            f"{after['name']!r}, but the portal has {len(candidates)} without a "
            f"{k.key_field} (IDs {ids}); set the {k.key_field} of the one to adopt in the "
            "portal, or rename or delete the others"
        )
    return candidates[0]


def _refer_to_adopted(
    k: Kind, remote: RemoteKind, adopted_by_kind: dict[str, dict[str, str]]
) -> RemoteKind:
    """``remote`` with each reference to an object this plan adopts (a
    keyless group, ``<id grp_1>``) read as the key the plan gives it: what
    refers to it already refers to the object the config names, so it is no
    change (the kinds it refers to are diffed first, in apply order)."""
    fields = [f for f in k.references if adopted_by_kind.get(f.ref or "")]
    if not fields:
        return remote

    def key(value: Any, adopted: dict[str, str]) -> Any:
        if isinstance(value, RemoteRef):
            return adopted.get(value.remote_id, value)
        return value

    def referring(obj: RemoteObject) -> RemoteObject:
        data = dict(obj.data)
        for f in fields:
            adopted = adopted_by_kind[f.ref or ""]
            value = data.get(f.name)
            if value is None:
                continue
            if f.shape == "set" and isinstance(value, list):
                data[f.name] = sorted({key(item, adopted) for item in value})
            else:
                data[f.name] = key(value, adopted)
        return obj if data == obj.data else replace(obj, data=data)

    return RemoteKind(
        objects={filed: referring(obj) for filed, obj in remote.objects.items()},
        keyless=[referring(obj) for obj in remote.keyless],
        twins={filed: [referring(obj) for obj in twins] for filed, twins in remote.twins.items()},
        outside=remote.outside,
    )


def _rekey_children(k: Kind, remote: RemoteKind, adopted_parents: dict[str, str]) -> RemoteKind:
    """Children (locations) of an adopted parent take the parent's new key."""
    if not adopted_parents:
        return remote
    placeholders: dict[str, str] = {RemoteRef(rid): key for rid, key in adopted_parents.items()}
    link = k.parent_field.name if k.parent_field else ""

    def moved(obj: RemoteObject) -> RemoteObject:
        if obj.parent not in placeholders:
            return obj
        new_parent = placeholders[obj.parent]
        return RemoteObject(
            obj.kind, obj.key, obj.id, {**obj.data, link: new_parent}, parent=new_parent
        )

    rekeyed = RemoteKind(keyless=remote.keyless, outside=remote.outside)
    for filed, obj in remote.objects.items():
        obj = moved(obj)
        rekeyed.objects[obj.filed_key or filed] = obj
    for filed, twins in remote.twins.items():
        twins = [moved(obj) for obj in twins]
        rekeyed.twins[twins[0].filed_key or filed] = twins
    return rekeyed


def _deletes(
    k: Kind,
    wanted: dict[ObjectKey, DesiredObject],
    remote: RemoteKind,
    desired: DesiredState,
    state: RemoteState,
    adopted: dict[str, str],
) -> list[Change]:
    policy = desired.policy
    out: list[Change] = []
    if k.parent is not None:
        parent_kind = kind(k.parent)
        deleted_parents = pruned_keys(parent_kind, desired, state)
        owners = desired.owners.get(k.name, set())
        for filed, obj in remote.objects.items():
            parent, key = obj.parent, obj.key or ""
            if parent in deleted_parents:
                out.append(
                    Delete(
                        k.name,
                        key,
                        obj.data,
                        None,
                        remote_id=obj.id,
                        note=f"deleted with {parent_kind.singular} {parent}",
                        parent=parent,
                        cascade=True,
                    )
                )
            elif (
                parent in owners
                and filed not in wanted
                and not policy.is_protected(k.name, obj.path)
            ):
                out.append(Delete(k.name, key, obj.data, None, remote_id=obj.id, parent=parent))
        return out
    if k.name not in policy.prune:
        return out
    for key in sorted(pruned_keys(k, desired, state)):
        obj = remote.objects[key]
        note = _delete_note(k, key, desired, state)
        out.append(Delete(k.name, key, obj.data, None, remote_id=obj.id, note=note))
    return out


def _delete_note(k: Kind, key: str, desired: DesiredState, state: RemoteState) -> str | None:
    """What else a key's delete takes: the values objects in scope file under
    it (accounts' customFields; those of objects the plan deletes go with
    them), which go with it; where a portal keeps them (the contract is
    silent), apply clears them (``apply.deleted_values``)."""
    held = []
    for holder, names in value_holders(k.name):
        going = pruned_keys(holder, desired, state) if holder.parent is None else set()
        holding = [
            obj
            for obj in state.get(holder.name).all()  # those without a key too: apply clears them
            if obj.key not in going and any(key in (obj.data.get(name) or {}) for name in names)
        ]
        if holding:
            named = holder.singular if len(holding) == 1 else holder.name
            held.append(f"the {' and '.join(names)} values of {len(holding)} {named}")
    if not held:
        return None
    return f"{' and '.join(held)} under {key!r} go with it; apply clears any the portal keeps"


def pruned_keys(k: Kind, desired: DesiredState, state: RemoteState) -> set[str]:
    """Keys of the objects of top-level kind ``k`` that pruning deletes: not
    protected, and not holding a protected child (deleting an account
    deletes its locations, and a protected object is never deleted)."""
    policy = desired.policy
    if k.name not in policy.prune:
        return set()
    wanted = desired.objects.get(k.name, {})
    holding = {
        child.parent
        for child_kind in KINDS
        if child_kind.parent == k.name
        for child in state.get(child_kind.name).objects.values()
        if policy.is_protected(child_kind.name, child.path)
    }
    return {
        obj.key
        for filed, obj in state.get(k.name).objects.items()
        if obj.key is not None
        and filed not in wanted
        and not policy.is_protected(k.name, obj.key)
        and obj.key not in holding
    }


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    """Field-level changes between two normalized objects.

    Each field is compared with ``==``; deepdiff explains only a mapping
    field that differs on both sides (``customFields.tier``, ``address.city``),
    and only that field. Changes inside a list are reported as the whole list
    (a set of permissions reads better whole than by index), as is a field
    present on one side only or of another type. (deepdiff on the whole of
    each object that differs was a quarter of drift's CPU at 10,000 users.)"""
    paths: set[tuple[Any, ...]] = set()
    whole: list[str] = []
    # Both sides name the same fields (as the plan's updates do): the
    # names in ``before``'s order, as ``dict.fromkeys`` below gives them.
    same = before.keys() == after.keys()
    for name in before if same else dict.fromkeys([*before, *after]):
        old, new = before.get(name, _ABSENT), after.get(name, _ABSENT)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            paths.update((name, *path) for path in _dict_paths(old, new))
        else:
            whole.append(name)
    if not paths:
        # Only whole fields changed (most updates: a title, a name): each
        # its own path, none below another, in the order of their names.
        # With the names taken from one side, the 1,100 updates of the
        # 10,000-user drift took 48 million instructions, now 26 million.
        return tuple(FieldChange(name, before.get(name), after.get(name)) for name in sorted(whole))
    paths.update((name,) for name in whole)
    # A whole-object change (address: null -> {...}) hides its parts.
    paths = {p for p in paths if not any(p[: len(q)] == q and p != q for q in paths)}
    return tuple(
        FieldChange(".".join(map(str, p)), _at(before, p), _at(after, p))
        for p in sorted(paths, key=lambda p: tuple(map(str, p)))
    )


_ABSENT = object()


def _dict_paths(before: dict[str, Any], after: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The paths below two mappings where they differ, by deepdiff, each cut
    at the first list index."""
    from deepdiff import DeepDiff  # only mappings that differ need it (14 ms to import)

    tree = DeepDiff(before, after, view="tree", verbose_level=2)
    paths: set[tuple[Any, ...]] = set()
    for levels in tree.values():
        for level in levels:
            path: list[Any] = []
            for part in level.path(output_format="list"):
                if isinstance(part, int):
                    break
                path.append(part)
            paths.add(tuple(path))
    return paths


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
