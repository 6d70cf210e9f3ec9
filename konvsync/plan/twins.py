"""Portal objects konvsync cannot tell apart (``RemoteKind.twins``): two
locations named HQ in one account (the contract keeps a location's name
unique nowhere), two invite links with one title, or two keys that differ
only in surrounding spaces or Unicode form.

A real portal may hold them, and that must not stop every plan: they stop
one only where konvsync would have to address one of them, and the error
names them all (kind, key, IDs):

- the configuration lists them: the object's key, or a child's parent that
  lists its children (an account's ``locations:``);
- the plan renames one (``renamedFrom``), or pruning would delete them (for
  a child: the plan deletes its parent, and the portal the child with it).

Anywhere else (an account the configuration does not manage) they are left
alone, as everything outside the configuration is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from konvsync.config.model import DesiredState
from konvsync.config.renames import previous_keys
from konvsync.errors import PlanError
from konvsync.kinds import KINDS, kind
from konvsync.kinds.address import Address, RemoteRef
from konvsync.plan.changes import Change, Delete, Update
from konvsync.plan.remote import RemoteObject, RemoteState


def check_twins(desired: DesiredState, remote: RemoteState, changes: Sequence[Change]) -> None:
    """Refuse (``PlanError``) where the plan would have to tell twins apart."""
    if not any(remote.get(k.name).twins for k in KINDS):
        return  # most portals: no pass over the plan's changes (see plan.scope.narrowed_outside)
    deleted = {change.address for change in changes if isinstance(change, Delete)}
    # By kind: an ID may be unique within its type only (a group 3 and an account 3).
    adopted: dict[tuple[str, str], str] = {
        (change.kind, RemoteRef(change.remote_id)): change.key
        for change in changes
        if isinstance(change, Update) and change.adopt and change.remote_id
    }
    found: list[str] = []
    for k in KINDS:
        for twins in remote.get(k.name).twins.values():
            first = twins[0]
            parent = (k.parent or "", str(first.parent))
            if parent in adopted:  # a keyless parent the plan gives its key
                first = replace(first, parent=adopted[parent])
            reason = _why_it_matters(desired, first, deleted)
            if reason is not None:
                found.append(_described(twins, reason))
    if found:
        more = f" (and {len(found) - 1} more such)" if len(found) > 1 else ""
        raise PlanError(
            f"{found[0]}{more}: konvsync cannot tell them apart; rename or delete all but one "
            "in the portal first"
        )


def _why_it_matters(desired: DesiredState, obj: RemoteObject, deleted: set[Address]) -> str | None:
    k = kind(obj.kind)
    if k.parent is not None:
        parent = kind(k.parent)
        if obj.parent in desired.owners.get(k.name, set()):
            return f"the configuration lists the {k.name} of {parent.singular} {obj.parent!r}"
        if Address(parent.name, str(obj.parent)) in deleted:
            return f"the plan deletes {parent.singular} {obj.parent!r}, and them with it"
        return None
    configured = desired.objects.get(k.name, {})
    if obj.key in configured:
        return "the configuration names it"
    for other in configured.values():
        if obj.key in previous_keys(k, other.data):
            return f"{k.singular} {other.key!r} is renamed from it ({k.rename_field})"
    policy = desired.policy
    if k.name in policy.prune and not policy.is_protected(k.name, str(obj.key)):
        return "policy.prune would delete them"
    return None


def _described(twins: list[RemoteObject], reason: str) -> str:
    first = twins[0]
    k = kind(first.kind)
    ids = ", ".join(obj.id for obj in twins)
    spelled = sorted({repr(obj.written_key) for obj in twins if obj.written_key is not None})
    how = f", spelled {' and '.join(spelled)}" if len(spelled) > 1 else ""
    if k.parent is not None:
        where = f"{kind(k.parent).singular} {first.parent!r} has {_count(twins)} {k.name} named "
        return f"{where}{first.key!r} (IDs {ids}), and {reason}"
    return (
        f"the portal has {_count(twins)} {k.name} with the {k.key_field} {first.key!r} "
        f"(IDs {ids}{how}), and {reason}"
    )


def _count(twins: list[RemoteObject]) -> str:
    return {2: "two", 3: "three"}.get(len(twins), str(len(twins)))
