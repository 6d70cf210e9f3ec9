"""The scoped view: ``policy.scope`` applied once, to the portal as read.

The portal is read whole, as without a scope: the contract has no
server-side filter, so a scope costs no request and saves none. As the
objects are normalized, those outside the scope are set apart
(``RemoteKind.outside``): the plan, the safety rails, drift, apply's checks
before each step and its read-back all see the objects in scope and nothing
else, so another configuration's objects are never updated, pruned, counted,
adopted, reported nor taken for another writer on this one's.

What stays visible of the objects outside: what a reference may name (a
dealer user in the shared ``staff`` group), an object by its server ID (so
one that left the scope since the plan reads as changed, never as deleted),
and the keys a configuration may not take over (``check_owned``).

A reference field matches on the key the referenced object has *as this
configuration names it*: when the configuration renames an account
(``renamedFrom``), its users are matched on the new key, as the portal will
have it once the plan is applied. An object's own key is matched as the
portal has it now, so a configuration renames only objects it owns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from konvsync.config.renames import previous_keys
from konvsync.errors import ConfigInvalid, ConfigProblem
from konvsync.kinds import KINDS, kind, value_holders
from konvsync.kinds.base import value_text
from konvsync.kinds.custom_values import value_fits
from konvsync.plan.changes import Create, Delete, Update
from konvsync.plan.outside import Concern, OutsideConcern
from konvsync.plan.remote import RemoteObject, RemoteScope, RemoteState
from konvsync.plan.renames import renames_in
from konvsync.support.text import listed

if TYPE_CHECKING:
    from konvsync.config.model import DesiredObject, DesiredState
    from konvsync.plan.changes import Change, Plan


def remote_scope(desired: DesiredState) -> RemoteScope | None:
    """How the portal is read for ``desired`` (None: it has no scope)."""
    scope = desired.policy.scope
    if not scope:
        return None
    return RemoteScope(scope, declared_renames(desired))


def plan_scope(plan: Plan) -> RemoteScope | None:
    """How the portal is read to apply a saved ``plan``: within the scope it
    was made for, references matched through the renames it makes."""
    if not plan.scope:
        return None
    return RemoteScope(plan.scope, renames_in(plan.changes))


def declared_renames(desired: DesiredState) -> dict[str, dict[str, str]]:
    """kind -> previous key -> configured key, for every ``renamedFrom`` and
    ``previousEmails`` the configuration writes."""
    out: dict[str, dict[str, str]] = {}
    for kind_name, objects in desired.objects.items():
        k = kind(kind_name)
        if k.rename_field is None:
            continue
        for obj in objects.values():
            for old in previous_keys(k, obj.data):
                if old != obj.key:
                    out.setdefault(kind_name, {})[old] = obj.key
    return out


def check_owned(desired: DesiredState, view: RemoteState) -> None:
    """A configuration never takes over an object outside its scope: a
    configured key (or a key it renames from) that the portal has outside
    the scope is a config problem at the object, not a create that the
    portal would refuse nor an update of another configuration's object.
    Where keys may repeat (two invite links may share a title, one in scope
    and one outside), only a key it renames from that the portal has outside
    the scope alone, while the scope holds neither it nor the new key: the
    rename the configuration asks for cannot be made, and the plan would
    create instead (a new URL)."""
    problems: list[ConfigProblem] = []
    scope = desired.policy.scope
    for rule in scope.rules:
        k = kind(rule.kind)
        bucket = view.get(rule.kind)
        outside = bucket.outside_by_key()
        if not outside:
            continue
        for obj in desired.objects.get(rule.kind, {}).values():
            keys = [obj.key, *previous_keys(k, obj.data)]
            if not k.unique_key:
                if any(key in bucket.objects or key in bucket.twins for key in keys):
                    continue
                keys = keys[1:]
            for key in keys:
                there = outside.get(key)
                if there is None:
                    continue
                if key != obj.key and obj.key in bucket.objects:
                    problems.append(_taken_since(obj, key, there, rule.describe()))
                else:
                    problems.append(_taken(obj, key, there, view, rule.describe()))
                break
    if problems:
        raise ConfigInvalid(problems)


def _taken(
    obj: DesiredObject, key: str, there: RemoteObject, view: RemoteState, rule: str
) -> ConfigProblem:
    k = kind(obj.kind)
    scope = view.scope
    why = scope.outside(obj.kind, there.key, there.data) if scope is not None else None
    named = (
        f"{k.singular} {obj.key!r}"
        if key == obj.key
        else f"{k.singular} {obj.key!r} ({k.rename_field} {key!r})"
    )
    return obj.source.problem(
        f"{named}: the portal has it outside policy.scope.{obj.kind} {rule} (ID {there.id}"
        + (f"; {why}" if why else "")
        + "): a configuration changes only what it owns. Remove it from this configuration, "
        "or move it into the scope in the portal (or with the configuration that owns it)"
    )


def _taken_since(obj: DesiredObject, key: str, there: RemoteObject, rule: str) -> ConfigProblem:
    """The portal has the configured key in scope (the rename is made, or
    never was one) and the old key outside: another's object, or the old
    one made again. Which is konvsync's to guess no more than when both are
    in scope: the ``renamedFrom`` is what to change."""
    k = kind(obj.kind)
    return obj.source.problem(
        f"{k.singular} {obj.key!r} ({k.rename_field} {key!r}): the portal has both, "
        f"{key!r} outside policy.scope.{obj.kind} {rule} (ID {there.id}); if the rename is "
        f"made, remove {key!r} from {k.rename_field}: that {k.singular} is another's"
    )


def unadopted(desired: DesiredState, view: RemoteState) -> list[str]:
    """A warning for each object to be created while the portal has one of
    the same name without a key outside the scope: a scoped kind never
    adopts (a keyless object matches no glob), so the portal will hold two."""
    out: list[str] = []
    for rule in desired.policy.scope.rules:
        k = kind(rule.kind)
        keyless: dict[Any, list[str]] = {}
        for obj in view.get(rule.kind).outside:
            if obj.key is None and obj.data.get("name") is not None:
                keyless.setdefault(obj.data["name"], []).append(obj.id)
        if not keyless:
            continue
        present = view.get(rule.kind).objects
        for wanted in desired.objects.get(rule.kind, {}).values():
            ids = keyless.get(wanted.data.get("name"))
            if ids and wanted.filed_key not in present:
                out.append(
                    f"{wanted.source}: {k.singular} {wanted.path!r} is created although the "
                    f"portal has a {k.singular} named {wanted.data['name']!r} that has no "
                    f"{k.key_field} (ID {', '.join(ids)}): policy.scope.{rule.kind} never "
                    f"adopts one (it matches no glob); set its {k.key_field} in the portal "
                    "first to manage it instead"
                )
    return out


def excludes_matching_nothing(desired: DesiredState, view: RemoteState) -> list[str]:
    """A warning for each ``exclude`` glob that matches none of the keys the
    portal has of its kind (read whole, in scope or not): one that keeps
    nothing out is most often a typo (``dsit-*``), and the objects it was
    meant to keep out are then in scope, to be updated or pruned."""
    out: list[str] = []
    for rule in desired.policy.scope.rules:
        if not rule.exclude or rule.kind not in view.kinds:
            continue  # a kind not read says nothing of its keys
        read = view.get(rule.kind)
        keys = [obj.key for obj in (*read.all(), *read.outside) if isinstance(obj.key, str)]
        for glob in rule.excludes_matching_none(keys):
            out.append(
                f"policy.scope.{rule.kind}: exclude {glob!r} matches the "
                f"{kind(rule.kind).key_field} of none of the portal's {len(keys)} {rule.kind}; "
                "if it is meant to keep some out of the scope, check it for a typo"
            )
    return out


TAKEN_SHOWN = 5
"""How many of the objects a delete takes something from a warning names."""


def concerns_outside(
    changes: list[Change], view: RemoteState, remote: RemoteState
) -> list[OutsideConcern]:
    """Each way ``changes`` concern objects outside the scope, with the
    plan's warning about it: what deletes take from them (seen in ``view``,
    the portal as the plan's renames leave it) and what renames leave them
    referring to and holding, and account field changes they no longer fit
    (seen in ``remote``)."""
    return (
        taken_from_outside(changes, view)
        + kept_outside(changes, remote)
        + narrowed_outside(changes, remote)
        + referred_outside(changes, remote)
    )


def taken_from_outside(changes: list[Change], view: RemoteState) -> list[OutsideConcern]:
    """A warning for each object the plan deletes that objects outside the
    scope refer to: the portal takes it from them (an account's users are
    detached, a group leaves its members' groups), which changes objects
    this configuration does not own. (Only kinds that were read are seen.)"""
    deleted = {
        (c.kind, c.key)
        for c in changes
        if isinstance(c, Delete) and not c.cascade and kind(c.kind).parent is None
    }
    if not deleted:
        return []
    out = []
    for (kind_name, key), by_kind in sorted(_referrers_outside(deleted, view).items()):
        for holder_name, paths in by_kind.items():
            warning = (
                f"{kind(kind_name).singular} {key!r} is deleted: the portal also takes it from "
                f"{len(paths)} {holder_name} outside policy.scope "
                f"({listed(paths, TAKEN_SHOWN)}); protect it "
                "(policy.protect) to leave them as they are"
            )
            out.append(
                OutsideConcern(Concern.TAKEN_FROM, kind_name, key, holder_name, paths, warning)
            )
    return out + _values_outside(deleted, view)


def _referrers_outside(
    named: set[tuple[str, str]], view: RemoteState
) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
    """For each (kind, key) of ``named`` that objects outside the scope
    refer to (as the portal has them), the paths of those objects by kind,
    sorted."""
    targets = {kind_name for kind_name, _ in named}
    # Paths as the keys of a dict: an object named once however many of its
    # fields refer to the key, in one step (a list searched each time made a
    # rename of a group 20,000 users outside are in take seconds).
    referrers: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
    for holder in KINDS:
        fields = [f for f in holder.references if f.ref in targets and f is not holder.parent_field]
        for obj in view.get(holder.name).outside if fields else ():
            for f in fields:
                value = obj.data.get(f.name)
                keys = value if isinstance(value, list) else [value]
                for key in keys:
                    if isinstance(key, str) and (f.ref, key) in named:
                        by_kind = referrers.setdefault((f.ref or "", key), {})
                        by_kind.setdefault(holder.name, {})[obj.path] = None
    return {
        named_key: {holder_name: tuple(sorted(paths)) for holder_name, paths in by_kind.items()}
        for named_key, by_kind in referrers.items()
    }


def referred_outside(changes: list[Change], remote: RemoteState) -> list[OutsideConcern]:
    """A warning for each object the plan renames that objects outside the
    scope refer to: the portal keeps them with it (references are IDs), but
    their owner's configuration names it by the old key, and its next plan
    stops there until it writes the new one."""
    renamed = renames_in(changes)
    old_keys = {(kind_name, old) for kind_name, keys in renamed.items() for old in keys}
    out = []
    for (kind_name, old), by_kind in sorted(_referrers_outside(old_keys, remote).items()):
        new = renamed[kind_name][old]
        for holder_name, paths in by_kind.items():
            warning = (
                f"{kind(kind_name).singular} {new!r} is renamed from {old!r}: {len(paths)} "
                f"{holder_name} outside policy.scope refer to it "
                f"({listed(paths, TAKEN_SHOWN)}); the portal keeps them with it, but a "
                f"configuration that names it {old!r} stops planning until it says {new!r}"
            )
            out.append(
                OutsideConcern(
                    Concern.REFERRING_TO_OLD_KEY, kind_name, new, holder_name, paths, warning
                )
            )
    return out


def _values_outside(deleted: set[tuple[str, str]], view: RemoteState) -> list[OutsideConcern]:
    """A warning for each deleted key that objects outside the scope file
    values under (an account field's key, in accounts' customFields): the
    contract does not say what becomes of them, and a portal that drops a
    field's values with it changes objects this configuration does not own."""
    out = []
    for kind_name, key in sorted(deleted):
        for holder, maps in value_holders(kind_name):
            paths = sorted(
                {
                    obj.path: None
                    for obj in view.get(holder.name).outside
                    if any(key in (obj.data.get(name) or {}) for name in maps)
                }
            )  # each named once, as the other concerns name them (a plan lists them unique)
            if paths:
                warning = (
                    f"{kind(kind_name).singular} {key!r} is deleted: {len(paths)} "
                    f"{holder.name} outside policy.scope hold values under it "
                    f"({listed(paths, TAKEN_SHOWN)}); a portal that drops a field's values "
                    "with it drops theirs too: protect it (policy.protect) to leave them as "
                    "they are"
                )
                concern = Concern.VALUES_UNDER_DELETED
                out.append(OutsideConcern(concern, kind_name, key, holder.name, (*paths,), warning))
    return out


def kept_outside(changes: list[Change], remote: RemoteState) -> list[OutsideConcern]:
    """A warning for each key the plan renames that objects outside the
    scope file values under (an account field's key, in accounts'
    customFields): konvsync files anew only the values of objects in scope
    that a portal leaves under the old key, never those of the others."""
    out = []
    for kind_name, renamed in sorted(renames_in(changes).items()):
        for holder, maps in value_holders(kind_name):
            holding: dict[str, list[str]] = {}
            for obj in remote.get(holder.name).outside:
                for name in maps:
                    for old in renamed.keys() & set(obj.data.get(name) or {}):
                        holding.setdefault(old, []).append(obj.path)
            for old, paths in sorted(holding.items()):
                paths = sorted(dict.fromkeys(paths))
                warning = (
                    f"{kind(kind_name).singular} {renamed[old]!r} is renamed from {old!r}: "
                    f"{len(paths)} {holder.name} outside policy.scope hold values under {old!r} "
                    f"({listed(paths, TAKEN_SHOWN)}); a portal that keeps values under "
                    "the old key keeps "
                    f"theirs there (konvsync moves only those of the {holder.name} in scope)"
                )
                out.append(
                    OutsideConcern(
                        Concern.VALUES_UNDER_OLD_KEY,
                        kind_name,
                        renamed[old],
                        holder.name,
                        (*paths,),
                        warning,
                    )
                )
    return out


def narrowed_outside(changes: list[Change], remote: RemoteState) -> list[OutsideConcern]:
    """A warning for each account field the plan creates or updates that
    accounts outside the scope no longer fit: it takes away an option they
    hold (or changes its type from TEXT to one their values do not fit),
    or it now requires a value they do not have. A portal that keeps values
    fitting their field refuses the change, and this configuration cannot
    change their values, so it never converges; one that takes it leaves
    them unfit, and their owner's next plan is refused for a value it did
    not change. (A type change from another type than TEXT is named for
    every account by ``plan.unfit_types``.)"""
    out = []
    # The kinds whose objects' values objects outside the scope hold (none
    # without a scope): only their changes are looked at. (With the same
    # skip in plan.twins and plan.at_most_one when the portal holds no
    # twins and no open link, a cold plan of 2,000 users 95 -> 86 million
    # instructions.)
    narrowing = {
        k.name for k in KINDS if any(remote.get(h.name).outside for h, _ in value_holders(k.name))
    }
    for change in changes:
        if change.kind not in narrowing or not isinstance(change, Create | Update):
            continue
        holders = value_holders(change.kind)
        k = kind(change.kind)
        after = change.after or {}
        before: dict[str, Any] | None = None
        if isinstance(change, Update):
            before = change.before or {}
            now = {**before, **{name: after.get(name) for name in change.changed_fields()}}
        else:
            now = {**k.defaults, **after}
        requires = bool(now.get("required")) and not (before or {}).get("required")
        retyped = before is not None and before.get("type") not in ("TEXT", now.get("type"))
        refits = before is not None and not retyped and _definition(before) != _definition(now)
        if not requires and not refits:
            continue  # what values fit is as before (a label changed): no account to look at
        key = (change.renamed_from if isinstance(change, Update) else None) or change.key
        for holder, maps in holders:
            unfit: list[str] = []
            missing: list[str] = []
            for obj in remote.get(holder.name).outside:
                for name in maps:
                    value = (obj.data.get(name) or {}).get(key)
                    if value in (None, ""):
                        if requires:
                            missing.append(obj.path)
                    elif before is not None and not retyped:
                        text = value_text(value)
                        if _fits(text, before) and not _fits(text, now):
                            unfit.append(obj.path)
            verb = "created" if before is None else "updated"
            tail = (
                "a portal that keeps values fitting their field refuses the change, one that "
                "takes it leaves theirs unfit: have their owner change them first, or "
                + ("leave the field as it is" if before is not None else "create it not required")
            )
            for concern, paths, what in (
                (Concern.VALUES_UNFIT, unfit, "hold values it no longer allows"),
                (Concern.VALUES_MISSING, missing, "hold no value for it, which it now requires"),
            ):
                if paths:
                    paths = sorted(dict.fromkeys(paths))
                    warning = (
                        f"{k.singular} {change.key!r} is {verb}: {len(paths)} {holder.name} "
                        f"outside policy.scope {what} ({listed(paths, TAKEN_SHOWN)}); " + tail
                    )
                    out.append(
                        OutsideConcern(
                            concern, change.kind, change.key, holder.name, (*paths,), warning
                        )
                    )
    return out


def _definition(field: dict[str, Any]) -> tuple[str, list[Any]]:
    """What decides whether a value fits account field ``field``: its type and options."""
    return str(field.get("type") or "TEXT"), list(field.get("options") or [])


def _fits(value: str, definition: dict[str, Any]) -> bool:
    """Whether ``value`` fits the account field ``definition`` (its type and options)."""
    return value_fits(value, *_definition(definition))
