"""Making a plan: read what the config needs, normalize, diff, check
references and safety, narrow to ``--target``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from konvsync.config.model import DesiredObject, DesiredState, Policy
from konvsync.config.rules import ref_only_problem, reference_source
from konvsync.config.scope import NO_SCOPE, Scope
from konvsync.errors import ConfigInvalid, ConfigProblem, UnsafePlanError, UsageError
from konvsync.kinds import (
    KINDS,
    KINDS_BY_NAME,
    Reference,
    children_of,
    kind,
    references,
    value_holders,
)
from konvsync.kinds.address import Address, ObjectKey, RemoteRef, key_path
from konvsync.kinds.datetimes import now_utc, parse_utc, utc_second
from konvsync.plan.at_most_one import check_at_most_one
from konvsync.plan.changes import Change, Create, Delete, Plan, Update, saved_key
from konvsync.plan.diff import diff_state
from konvsync.plan.field_checks import check_custom_fields
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.renames import Renames, find_renames, renamed_view, renames_in
from konvsync.plan.safety import (
    check_mass_delete,
    check_mass_update,
    check_portal,
    check_welcome_emails,
    welcome_emails,
)
from konvsync.plan.scope import (
    check_owned,
    concerns_outside,
    excludes_matching_nothing,
    remote_scope,
    unadopted,
)
from konvsync.plan.stranded import with_stranded_values
from konvsync.plan.targets import Targets, parse_targets
from konvsync.plan.twins import check_twins
from konvsync.plan.unfit_types import unfit_type_changes
from konvsync.support.suggest import did_you_mean

ProgressCallback = Callable[[str, int], None]


@dataclass(frozen=True)
class PlanOptions:
    targets: tuple[str, ...] = ()
    allow_mass_delete: bool = False
    allow_mass_update: bool = False
    allow_welcome_emails: int = 0
    """--allow-welcome-emails N: accept up to N welcome e-mails over the policy's limit."""
    owned_elsewhere_is_drift: bool = False
    """Drift: a configured object the portal holds outside the scope (moved
    out of it by hand) is planned as a create, which drift reads as gone
    from the scope, instead of refused as a take-over (``check_owned``)."""


@dataclass
class PlanOutcome:
    plan: Plan
    remote: RemoteState
    read_kinds: list[str]


class PlanRefused(UnsafePlanError):
    """A safety check refused the plan (exit 3); ``outcome`` holds the whole
    plan, with ``plan.refused`` set, so that it can still be shown."""

    def __init__(self, outcome: PlanOutcome) -> None:
        assert outcome.plan.refused is not None
        self.outcome = outcome
        super().__init__(outcome.plan.refused.reason)


def kinds_to_read(desired: DesiredState) -> list[str]:
    """Kinds the config names or prunes, the kinds they reference, the kinds
    that carry them (locations come with accounts), and the reference kinds
    (LMS modules...) that its objects actually refer to."""
    return needed_kinds(
        set(desired.objects)
        | set(desired.policy.prune)
        | referred_reference_kinds(desired)
        | value_holders_of_renames(desired)
        | value_holders_of_prunes(desired)
    )


def value_holders_of_renames(desired: DesiredState) -> set[str]:
    """The kinds that file values under the keys of a kind the config may
    rename (accounts' customFields under account fields' keys): apply moves
    the values the portal leaves under an old key (``apply.renamed_values``),
    so it must know which objects hold them."""
    renaming = set()
    for kind_name, objects in desired.objects.items():
        field = kind(kind_name).rename_field
        if field is not None and any(obj.data.get(field) for obj in objects.values()):
            renaming.add(kind_name)
    return {holder.name for name in renaming for holder, _maps in value_holders(name)}


def value_holders_of_prunes(desired: DesiredState) -> set[str]:
    """The kinds that file values under the keys of a kind the config
    prunes (accounts' customFields under account fields' keys): apply
    clears the values the portal keeps under a deleted key
    (``apply.deleted_values``), and a plan those an apply stopped before
    clearing left (``plan.stranded``), so it must know which objects hold
    them."""
    return {
        holder.name
        for name in desired.policy.prune
        if name in KINDS_BY_NAME
        for holder, _maps in value_holders(name)
    }


def referred_reference_kinds(desired: DesiredState) -> set[str]:
    """The reference kinds some object of the config refers to."""
    out: set[str] = set()
    for kind_name, objects in desired.objects.items():
        fields = [f for f in kind(kind_name).references if kind(f.ref or "").reference]
        for f in fields:
            if f.ref not in out and any(obj.data.get(f.name) for obj in objects.values()):
                out.add(f.ref or "")
    return out


def needed_kinds(named: Iterable[str]) -> list[str]:
    """The kinds to read for configs naming ``named`` (unknown names are
    ignored), in registry order. A reference kind is read only when named:
    a group's modules are read with the group, by slug, and the modules
    themselves only when the config refers to one."""
    wanted = {name for name in named if name in KINDS_BY_NAME}
    # Map keys are checked against the kind that defines them (an account's
    # customFields against the portal's account fields).
    wanted |= {f.keys_ref for name in wanted for f in kind(name).fields if f.keys_ref}
    pending = list(wanted)
    while pending:
        k = kind(pending.pop())
        for f in k.references:
            if f.ref and f.ref not in wanted and not kind(f.ref).reference:
                wanted.add(f.ref)
                pending.append(f.ref)
        if k.read_via and k.read_via not in wanted:
            wanted.add(k.read_via)
            pending.append(k.read_via)
    return [k.name for k in KINDS if k.name in wanted and k.read_via is None]


def plan(
    desired: DesiredState,
    remote: RemoteState,
    policy: Policy | None = None,
    targets: tuple[str, ...] = (),
    options: PlanOptions = PlanOptions(),
) -> Plan:
    """The plan of ``desired`` against ``remote`` as read (with
    ``plan.scope.remote_scope(desired)`` when the config has a scope): pure
    (no I/O, no event loop). ``policy`` replaces the config's own when given;
    ``targets`` are ``--target`` values. A plan a safety check refuses is
    returned with ``refused`` set; a config problem the portal reveals (an
    unknown reference) is raised as ``ConfigInvalid``."""
    if policy is not None:
        desired = replace(desired, policy=policy)
    options = replace(options, targets=targets)
    try:
        outcome = plan_against(
            desired, remote, list(remote.kinds), "", options, parse_targets(targets)
        )
    except PlanRefused as refused:
        return refused.outcome.plan
    return outcome.plan


def plan_against(
    desired: DesiredState,
    remote: RemoteState,
    read_kind_names: list[str],
    endpoint_name: str,
    options: PlanOptions,
    targets: Targets,
) -> PlanOutcome:
    """The plan from the config and the portal as read (``targets``: the
    parsed ``options.targets``). A refused plan is made in full and raised
    as ``PlanRefused``. ``remote`` must have been read with the config's
    scope (``plan.scope``): everything below sees only what is in it."""
    if remote.scope != remote_scope(desired):
        raise TypeError("the portal was read with another scope than the configuration's")
    refused = check_portal(desired, remote)
    renames = find_renames(desired, remote)
    view = renamed_view(remote, renames)
    targets = renamed_targets(targets, renames, remote)
    if refused is None:  # against another portal, references prove nothing
        if not options.owned_elsewhere_is_drift:
            check_owned(desired, view)
        check_references(desired, view)
        check_custom_fields(desired, view)
    if targets:
        check_targets_match(targets, desired, view)
    changes = with_stranded_values(diff_state(desired, view), desired, view)
    check_twins(desired, view, changes)
    warnings: list[str] = [str(w) for w in desired.warnings] + expired_objects(desired)
    warnings += unadopted(desired, view) + excludes_matching_nothing(desired, view)
    if targets:
        changes = select_targets(changes, targets, desired.policy.scope)
        # The view apply works on holds the renames this plan makes, no others.
        view = renamed_view(remote, renames_in(changes))
        warnings.append(
            "--target limits this plan to part of the configuration; the rest "
            "may still differ (use it for exceptional cases, as in Terraform)"
        )
    if refused is None:
        check_deleted_references(desired, changes)
        if not options.owned_elsewhere_is_drift:  # drift reports what the portal holds
            check_at_most_one(changes, view)
    outside = concerns_outside(changes, view, remote)
    warnings += [concern.warning for concern in outside]
    warnings += unfit_type_changes(changes, remote)
    warnings += deletes_beside_unread(changes, desired)
    emails = welcome_emails(changes, desired)
    if emails:
        warnings.append(
            f"{emails} new user(s) will receive a welcome e-mail "
            "(policy.send_welcome_email: false turns this off)"
        )
    refused = (
        refused
        or check_mass_delete(changes, desired, view, options.allow_mass_delete)
        or check_mass_update(changes, desired, view, options.allow_mass_update)
        or check_welcome_emails(emails, desired, options.allow_welcome_emails)
    )
    plan = Plan(
        changes,
        endpoint_name,
        remote.portal_name,
        warnings,
        emails,
        refused,
        desired.policy.scope,
        outside,
    )
    outcome = PlanOutcome(plan, view, read_kind_names)
    if refused is not None:
        raise PlanRefused(outcome)
    return outcome


def deletes_beside_unread(changes: list[Change], desired: DesiredState) -> list[str]:
    """A warning when the plan deletes while files of the config folder were
    not read (``DesiredState.unread``): an object listed only there (a file
    saved as ``users.yml.bak`` or ``users.json``) is not in the config, and
    is among the deletes. Named beside them, not refused: an editor's backup
    beside the files is common, and its objects are often meant to go."""
    deletes = sum(1 for change in changes if isinstance(change, Delete) and not change.cascade)
    if not deletes or not desired.unread:
        return []
    files = len(desired.unread)
    return [
        f"this plan deletes {deletes} object{'s' if deletes != 1 else ''} while "
        f"{files} file{'s' if files != 1 else ''} of the configuration "
        f"{'were' if files != 1 else 'was'} not read (named above): an object listed only "
        "there is deleted; name such a file *.yaml to have it read"
    ]


def renamed_targets(targets: Targets, renames: Renames, remote: RemoteState) -> Targets:
    """``--target`` values that name an object by the key the plan renames
    (``accounts/<old key>``, or a location of that account) name it by its
    new key, as the plan files it."""
    if not renames or not targets:
        return targets
    moved: dict[tuple[str, str], str] = {}
    for kind_name, keys in renames.items():
        for old, new in keys.items():
            moved[kind_name, old] = new
        for child in children_of(kind_name):
            for obj in remote.get(child.name).objects.values():
                if obj.parent in keys:
                    moved[child.name, obj.path] = key_path(str(obj.key), keys[obj.parent])
    return [
        (kind_name, moved.get((kind_name, key), key) if key is not None else None)
        for kind_name, key in targets
    ]


def expired_objects(desired: DesiredState) -> list[str]:
    """A warning for each configured object past its kind's expiry field."""
    out: list[str] = []
    now = now_utc()
    for kind_name, objects in desired.objects.items():
        name = kind(kind_name).expires_field
        if name is None:
            continue
        for obj in objects.values():
            value = obj.data.get(name)
            try:
                expired = isinstance(value, str) and parse_utc(value) <= now
            except ValueError:
                continue
            if expired:
                out.append(
                    f"{obj.source}: {kind(kind_name).singular} {obj.path!r} expired at "
                    f"{utc_second(str(value))}: it accepts no one (change {name} or remove it)"
                )
    return out


def remote_digests(changes: list[Change], remote: RemoteState) -> dict[str, str | None]:
    """For every change (by ``saved_key``), the digest of the remote object
    it touches as read (None: the object must still be absent)."""
    digests: dict[str, str | None] = {}
    for change in changes:
        obj = remote.find(change.kind, change.remote_id) if change.remote_id else None
        digests[saved_key(change)] = obj.digest if obj else None
    return digests


def check_references(
    desired: DesiredState, remote: RemoteState, only: set[str] | None = None
) -> None:
    """Every reference resolves in the config or in the portal; each one
    that does not is reported where it is written, with the closest keys.
    ``only``: check the references to these kinds alone."""
    problems: list[ConfigProblem] = []
    for obj, ref in _outside_references(desired):
        if only is not None and ref.target.name not in only:
            continue
        known = remote.get(ref.target.name).referable()  # in scope or not
        if ref.key in known:
            restricted = ref.field.ref_only and ref_only_problem(
                kind(obj.kind), obj.key, ref.field, known[ref.key].data
            )
            if restricted:
                problems.append(reference_source(obj, ref).problem(restricted))
            continue
        k = kind(obj.kind)
        has = (
            f"which the portal's {ref.target.name} do not include"
            if ref.target.reference
            else "which neither the configuration nor the portal has"
        )
        candidates = {
            key
            for key in (*known, *desired.objects.get(ref.target.name, {}))
            if isinstance(key, str)  # references name top-level kinds
        }
        hint = did_you_mean(ref.key, candidates)
        problems.append(
            reference_source(obj, ref).problem(
                f"{k.singular} {obj.path!r}: {ref.field.name} refers to "
                f"{ref.target.singular} {ref.written!r}, {has}{hint}",
            )
        )
    if problems:
        raise ConfigInvalid(problems)


def check_deleted_references(desired: DesiredState, changes: list[Change]) -> None:
    """No change deletes what the configuration refers to: a pruned account
    that a configured user stays in would detach the user, and the next plan
    could not resolve the reference. Each such reference is a problem where
    it is written."""
    deleted = {c.address for c in changes if isinstance(c, Delete)}
    if not deleted:
        return
    problems = [
        reference_source(obj, ref).problem(
            f"{kind(obj.kind).singular} {obj.path!r}: {ref.field.name} refers to "
            f"{ref.target.singular} {ref.written!r}, which this plan deletes (policy.prune, "
            "and the configuration does not list it): list it, protect it (policy.protect) "
            "or remove the reference"
        )
        for obj, ref in _outside_references(desired)
        if ref.address in deleted
    ]
    if problems:
        raise ConfigInvalid(problems)


def _outside_references(desired: DesiredState) -> Iterator[tuple[DesiredObject, Reference]]:
    """References to keys the config does not define (the loader found them)."""
    if desired.external_references is not None:
        yield from desired.external_references
        return
    for kind_name, objects in desired.objects.items():
        k = kind(kind_name)
        for obj in objects.values():
            for ref in references(k, obj.data, include_parent=False):
                if ref.key not in desired.objects.get(ref.target.name, {}):
                    yield obj, ref


def check_targets_match(targets: Targets, desired: DesiredState, remote: RemoteState) -> None:
    """A ``--target`` that names nothing the config or the portal has is a
    usage error (a typo must not look like "No changes.")."""
    for kind_name, key in targets:
        configured = desired.objects.get(kind_name, {})
        existing = remote.get(kind_name)
        if key is None:
            if not configured and not len(existing):
                raise UsageError(
                    f"--target {kind_name}: neither the configuration nor the portal "
                    f"has any {kind_name}"
                )
        elif not _names(kind_name, key, configured) and not _names(
            kind_name, key, existing.objects
        ):
            if _names(kind_name, key, existing.outside_by_key()):
                raise UsageError(
                    f"--target {kind_name}/{key}: the portal's {kind(kind_name).singular} "
                    f"{key!r} is outside policy.scope; this configuration does not own it"
                )
            raise UsageError(
                f"--target {kind_name}/{key}: no {kind(kind_name).singular} {key!r} in the "
                "configuration or the portal"
            )


def _names(
    kind_name: str, key: str, objects: Mapping[ObjectKey, DesiredObject | RemoteObject]
) -> bool:
    """Whether ``objects`` hold one that ``--target kind_name/key`` names: by
    its key, or for a child kind by its keys from the top (``dealers/east/HQ``)."""
    if kind(kind_name).parent is None:
        return key in objects
    return any(obj.path == key for obj in objects.values())


def select_targets(
    changes: list[Change], targets: Targets, scope: Scope = NO_SCOPE
) -> list[Change]:
    """The targeted changes, plus the creates, renames and adoptions (the
    keys the plan brings) they depend on, the updates that add the items
    their values hold (a SELECT field's new options), for a targeted
    account, its locations and, for a delete of an object in ``scope`` only
    through a rename the plan makes (a user of an account renamed into the
    users' scope), that rename."""
    by_address = {c.address: c for c in changes}

    def targeted(change: Change) -> bool:
        for kind_name, key in targets:
            if change.kind == kind_name and (key is None or change.address.path == key):
                return True
            if (
                change.parent is not None
                and kind(change.kind).parent == kind_name
                and (key is None or change.parent == key)
            ):
                return True
        return False

    selected = {c.address for c in changes if targeted(c)}
    pending = list(selected)
    while pending:
        change = by_address[pending.pop()]
        if isinstance(change, Delete):
            for address in _scope_references(change, scope):
                dependency = by_address.get(address)
                renames = isinstance(dependency, Update) and dependency.renamed_from is not None
                if renames and address not in selected:
                    selected.add(address)
                    pending.append(address)
            continue
        if change.after is None:
            continue
        for address in _dependencies(change):
            dependency = by_address.get(address)
            needed = isinstance(dependency, Create) or (
                isinstance(dependency, Update)
                and (
                    dependency.renamed_from is not None
                    or dependency.adopt
                    or _adds_held_items(dependency, change.kind)
                )
            )
            if needed and address not in selected:
                selected.add(address)
                pending.append(address)
    return [c for c in changes if c.address in selected]


def _adds_held_items(update: Update, holder: str) -> bool:
    """Whether ``update`` adds items to a list whose items ``holder``'s
    objects hold as values (a SELECT field's options, ``Field.held_by``):
    a value moved to a new option needs it, and a portal refuses it before."""
    before, after = update.before or {}, update.after or {}
    return any(
        f.held_by == holder and set(after.get(f.name) or []) - set(before.get(f.name) or [])
        for f in kind(update.kind).fields
        if f.shape == "list" and f.name in after
    )


def _scope_references(change: Change, scope: Scope) -> Iterator[Address]:
    """Addresses of the objects whose keys put ``change``'s object in
    ``scope`` (its rule's reference fields, as the plan names them)."""
    rule = scope.rule(change.kind)
    if rule is None:
        return
    k = kind(change.kind)
    before = change.before or {}
    for name, _ in rule.fields:
        target = k.field_map[name].ref
        value = before.get(name)
        if target is not None and isinstance(value, str) and not isinstance(value, RemoteRef):
            yield Address(target, value)


def _dependencies(change: Change) -> Iterator[Address]:
    """Addresses of the objects ``change`` refers to, custom field names included."""
    k = kind(change.kind)
    after = change.after or {}
    for ref in references(k, after):
        yield ref.address
    for f in k.fields:
        value = after.get(f.name)
        if f.keys_ref is not None and isinstance(value, dict):
            yield from (Address(f.keys_ref, name) for name in value)
