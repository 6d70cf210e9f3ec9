"""Drift from a plan: the plan says what apply would do to the portal; drift
is the same difference read from the portal's side. An update is a change
made in the portal, a create is an object deleted in the portal, a delete
(of a pruned kind, or a location of an account that lists its locations)
is an object created in the portal. Objects of configured kinds that are
not pruned and not in the YAML are unmanaged; they are only looked for with
``--include-unmanaged``.

Everything the plan honours (``ignore_changes``, ``protect``, ``--target``,
the safety rules) therefore holds for drift too."""

from __future__ import annotations

from konvsync.config.model import DesiredState
from konvsync.drift.model import DriftReport, FieldDrift, ObjectDrift
from konvsync.kinds import kind
from konvsync.kinds.address import Address
from konvsync.plan.changes import Change, Create, Delete, Update
from konvsync.plan.planner import PlanOutcome
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.targets import Targets


def drift_report(
    outcome: PlanOutcome,
    desired: DesiredState,
    targets: Targets,
    include_unmanaged: bool,
) -> DriftReport:
    plan = outcome.plan
    remote = outcome.remote
    created = {c.address for c in plan.changes if isinstance(c, Create)}
    items: list[ObjectDrift] = []
    for change in plan.changes:
        item = _from_change(change, desired, remote, created)
        if item is not None:
            items.append(item)
    if include_unmanaged:
        items.extend(_unmanaged(desired, remote, targets))
    warnings = [w for w in plan.warnings if w.startswith("--target")]
    return DriftReport(items, plan.endpoint, plan.portal, include_unmanaged, warnings)


def _from_change(
    change: Change, desired: DesiredState, remote: RemoteState, created: set[Address]
) -> ObjectDrift | None:
    k = kind(change.kind)
    if isinstance(change, Update):
        current = remote.find(change.kind, change.remote_id)
        fields = tuple(
            FieldDrift(
                f.path,
                f.before,
                f.after,
                sensitive=_sensitive(change.kind, f.top),
            )
            for f in change.fields
        )
        note = (
            f"the portal's {k.singular} has no {k.key_field}; apply would set it (adoption)"
            if change.adopt
            else None
        )
        return ObjectDrift(
            "changed",
            change.kind,
            change.key,
            fields,
            portal=current.data if current else change.before,
            parent=change.parent,
            config=change.after,
            updated_at=current.updated_at if current else None,
            source=change.source,
            remote_id=change.remote_id,
            note=note,
        )
    if isinstance(change, Create):
        if change.address.parent is not None and change.address.parent in created:
            return None  # deleted with its parent (account), which is reported
        obj = desired.objects.get(change.kind, {}).get(change.filed_key)
        return ObjectDrift(
            "deleted",
            change.kind,
            change.key,
            parent=change.parent,
            config=change.after,
            source=obj.source if obj else change.source,
        )
    if isinstance(change, Delete):
        if change.cascade:
            return None  # comes with its account, which is reported
        current = remote.find(change.kind, change.remote_id)
        return ObjectDrift(
            "created",
            change.kind,
            change.key,
            parent=change.parent,
            portal=change.before,
            updated_at=current.updated_at if current else None,
            remote_id=change.remote_id,
        )
    return None


def _unmanaged(desired: DesiredState, remote: RemoteState, targets: Targets) -> list[ObjectDrift]:
    """Objects of configured, unpruned kinds that the YAML does not list
    (protected ones are left out: the policy says they are not konvsync's).
    Locations of accounts that do not list theirs are not konvsync's either."""
    items: list[ObjectDrift] = []
    policy = desired.policy
    for kind_name, wanted in desired.objects.items():
        k = kind(kind_name)
        if k.parent is not None or kind_name in policy.prune:
            continue
        for key, obj in sorted(remote.get(kind_name).objects.items()):
            if key in wanted or policy.is_protected(kind_name, obj.path):
                continue
            if targets and not _targeted(kind_name, obj.path, targets):
                continue
            items.append(_created(obj, managed=False))
    return items


def _created(obj: RemoteObject, managed: bool) -> ObjectDrift:
    return ObjectDrift(
        "created",
        obj.kind,
        obj.key or "",
        portal=obj.data,
        updated_at=obj.updated_at,
        remote_id=obj.id,
        managed=managed,
    )


def _targeted(kind_name: str, key: str, targets: Targets) -> bool:
    return any(t_kind == kind_name and t_key in (None, key) for t_kind, t_key in targets)


def _sensitive(kind_name: str, field_name: str) -> bool:
    f = kind(kind_name).field_map.get(field_name)
    return bool(f and f.sensitive)
