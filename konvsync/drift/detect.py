"""Drift from a plan: the plan's changes read from the portal's side
(``drift.model``), so everything the plan honours (``ignore_changes``,
``protect``, ``--target``, the portal guard) holds for drift too. Objects of
configured kinds that are not pruned and not in the YAML are unmanaged; they
are only looked for with ``--include-unmanaged``."""

from __future__ import annotations

from konvsync.config.model import DesiredState
from konvsync.drift.model import DriftReport
from konvsync.kinds import kind
from konvsync.kinds.address import ObjectKey
from konvsync.kinds.custom_values import with_typed_maps
from konvsync.plan.changes import Change, Create, Delete, Plan, Update, replaced
from konvsync.plan.planner import PlanOutcome
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.targets import Targets
from konvsync.plan.value_types import ValueTypes, in_portal_types, types_now


def drift_report(
    outcome: PlanOutcome,
    desired: DesiredState,
    targets: Targets,
    include_unmanaged: bool,
) -> DriftReport:
    plan = outcome.plan
    # The portal's values as the YAML writes them (true/false, YYYY-MM-DD):
    # what drift shows and ``--write`` accepts.
    remote = in_portal_types(outcome.remote)
    types = types_now(outcome.remote)
    created = {c.address for c in plan.changes if isinstance(c, Create)}
    outside = _OutsideByKey(remote)
    # Not a location that goes or comes with its account (reported); a
    # change without a parent is no such location, without its address
    # made (the 1,200 addresses of the 10,000-user drift's changes were 14
    # million instructions, made again for their copies below).
    changes = [
        _from_portal(change, remote, outside, types)
        for change in plan.changes
        if not (
            change.cascade
            if isinstance(change, Delete)
            else change.parent is not None and change.address.parent in created
        )
    ]
    unmanaged = _unmanaged(desired, remote, targets) if include_unmanaged else []
    warnings = [w for w in plan.warnings if w.startswith("--target")]
    warnings += _owned_whole(desired, unmanaged)
    view = Plan([*changes, *unmanaged], plan.endpoint, plan.portal, warnings, scope=plan.scope)
    moved_out = frozenset(c.address for c in changes if outside.holds(c))
    return DriftReport(
        view, frozenset(c.address for c in unmanaged), include_unmanaged, moved_out=moved_out
    )


def _owned_whole(desired: DesiredState, unmanaged: list[Change]) -> list[str]:
    """A warning for each kind the scope leaves out while it names others,
    of which ``--include-unmanaged`` reports objects: such a kind is owned
    whole, so what it reports (and ``--write`` adds to the files) may be
    other configurations' objects, as validate warns of a prune of it."""
    scope = desired.policy.scope
    if not scope:
        return []
    counts: dict[str, int] = {}
    for change in unmanaged:
        if not scope.governs(change.kind):
            counts[change.kind] = counts.get(change.kind, 0) + 1
    return [
        f"--include-unmanaged: policy.scope does not name {kind_name}, so every one of the "
        f"portal's {kind_name} is this configuration's; the {count} reported here may be "
        f'other configurations\' too (add policy.scope.{kind_name}; ["*"] owns them all)'
        for kind_name, count in counts.items()
    ]


class _OutsideByKey:
    """The objects the portal holds outside the scope, by kind and key
    (each kind's made once): where a create of the plan would make an object
    the portal has outside the scope, someone moved it out by hand."""

    def __init__(self, remote: RemoteState) -> None:
        self.remote = remote
        self.kinds: dict[str, dict[ObjectKey, RemoteObject]] = {}

    def get(self, change: Change) -> RemoteObject | None:
        if not isinstance(change, Create) or self.remote.scope is None:
            return None
        if change.kind not in self.kinds:
            self.kinds[change.kind] = self.remote.get(change.kind).outside_by_key()
        return self.kinds[change.kind].get(change.filed_key)

    def holds(self, change: Change) -> bool:
        return self.get(change) is not None


def _from_portal(
    change: Change, remote: RemoteState, outside: _OutsideByKey, types: ValueTypes
) -> Change:
    """``change`` with the portal's time of the change and, for an update,
    the portal's whole object as ``before`` (a custom field value the same
    by its ``types`` as the config's, as the config writes it: "1.5" for the
    portal's "1.50"); a create of an object the portal holds outside the
    scope (moved out of it by hand) says so."""
    there = outside.get(change)
    if there is not None and remote.scope is not None:
        why = remote.scope.outside(change.kind, there.key, there.data)
        note = f"the portal has it outside policy.scope.{change.kind}" + (f": {why}" if why else "")
        return replaced(change, note=note, updated_at=there.updated_at)
    current = remote.find(change.kind, change.remote_id) if change.remote_id else None
    if current is None:
        return change
    before = (
        with_typed_maps(kind(change.kind), current.data, types, change.after)
        if isinstance(change, Update)
        else change.before
    )
    said = change.note
    if isinstance(change, Update) and change.renamed_from is not None:
        # The key differs because the YAML renames it, not by a hand edit.
        renaming = (
            f"the configuration renames it from {change.renamed_from!r} "
            f"({kind(change.kind).rename_field}), not applied yet"
        )
        said = f"{said}; {renaming}" if said else renaming
    return replaced(change, before=before, updated_at=current.updated_at, note=said)


def _unmanaged(desired: DesiredState, remote: RemoteState, targets: Targets) -> list[Change]:
    """Objects of configured, unpruned kinds that the YAML does not list
    (protected ones are left out: the policy says they are not konvsync's).
    Locations of accounts that do not list theirs are not konvsync's either."""
    out: list[Change] = []
    policy = desired.policy
    for kind_name, wanted in desired.objects.items():
        if kind(kind_name).parent is not None or kind_name in policy.prune:
            continue
        for key, obj in sorted(remote.get(kind_name).objects.items()):
            if key in wanted or policy.is_protected(kind_name, obj.path):
                continue
            if targets and not any(t == kind_name and k in (None, key) for t, k in targets):
                continue
            out.append(
                Delete(
                    kind_name, obj.key or "", obj.data, remote_id=obj.id, updated_at=obj.updated_at
                )
            )
    return out
