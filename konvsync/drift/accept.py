"""``drift --write``: accept the portal's changes into the YAML in place.

A changed field gets the portal's value (keys, not IDs) in the file that
holds it; an object deleted in the portal leaves its list once a look-up by
key confirmed it and within ``max_delete_percent`` (unless an earlier config
path or a file linked from outside the folder, which others may share, holds
it); one created there joins the list of its kind in the last config path
(not in a file linked from outside), or is written as a comment
where the configuration would reject it (a value its account field, retyped
since, no longer takes: the portal checks values when they are written).
Every other byte stays (``yamltext`` edits spans). What cannot be edited
safely (a substitution, a value shared through an anchor, a sensitive value,
an account field's new type that values the configuration holds do not fit)
is reported and left (``KeptValue``). Nothing is written before ``verify``
checked the edited files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from konvsync.config.documents import item_problem, schema_problem
from konvsync.config.model import DesiredObject, DesiredState
from konvsync.config.overlay import OverlayMap
from konvsync.config.rules import Named, retold_problem, unfit_problem
from konvsync.config.yaml_dump import dump
from konvsync.config.yaml_loader import YamlMap
from konvsync.drift.files import read_unchanged, write_unchanged
from konvsync.drift.itemkeys import edit_keys
from konvsync.drift.lists import ListEdits, ListKey, edit_lists
from konvsync.drift.model import DriftReport, KeptValue, WriteResult
from konvsync.drift.patch import patch_field
from konvsync.drift.verify import Accepted, check_edited, refers_within
from konvsync.drift.writeback import WriteRefused
from konvsync.drift.yamltext import SHARED, EditRefused, YamlText, entry, has_merge, written_with
from konvsync.errors import OutputError
from konvsync.kinds import KINDS, kind, references
from konvsync.kinds.address import Address, holds_remote_ref
from konvsync.kinds.base import Kind
from konvsync.kinds.schema_rules import implied_nulls, rule_fields
from konvsync.plan.changes import Change, Create, Update
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.plan.safety import MASS_DELETE_MIN_OBJECTS
from konvsync.support.redact import printable

EntryOf = Callable[[Kind, RemoteObject, RemoteState, list[str]], dict[str, Any]]
"""(kind, portal object, the state read, warnings to add to) -> its config entry."""

_SHARED_PATH = (
    "written in an earlier config path, which other environments may share; left as "
    "written (remove it there if none of them should have it)"
)
_LINKED_OUT = (
    "written in {file}, which a link leads to from outside the config folder and other "
    "configurations may share; left as written (remove it there if none of them should "
    "have it)"
)
_SENSITIVE = "sensitive; never written to a file"
_DELETED_UNLESS_LISTED = "; apply deletes it while the configuration does not list it"
"""Said of an object created in the portal that is left out of the files
(its kind is pruned, so the next apply deletes it)."""
READ_AGAIN = (
    "the portal's list did not show it, but asked for by its key the portal has it "
    "(read inconsistently); left in the configuration"
)


@dataclass
class _Work:
    desired: DesiredState
    remote: RemoteState
    entry_of: EntryOf
    texts: dict[str, YamlText] = field(default_factory=dict)
    kept: list[KeptValue] = field(default_factory=list)
    lists: dict[ListKey, ListEdits] = field(default_factory=dict)
    accepted: Accepted = field(default_factory=Accepted)
    changed: dict[Address, Update] = field(default_factory=dict)
    """The objects changed in the portal, by address."""

    def text(self, path: str) -> YamlText:
        if path not in self.texts:
            self.texts[path] = YamlText(path, read_unchanged(path, self.desired).decode())
        return self.texts[path]

    def keep(self, item: Change, path: str | None, reason: str) -> None:
        self.kept.append(KeptValue(str(item.address), path, reason))

    def list_edits(self, key: ListKey) -> ListEdits:
        return self.lists.setdefault(key, ListEdits())

    @property
    def last_layer(self) -> list[str]:
        return self.desired.layers[-1]


def accept_drift(
    paths: Sequence[str],
    report: DriftReport,
    desired: DesiredState,
    remote: RemoteState,
    entry_of: EntryOf,
    found_again: set[Address],
    allow_mass_delete: bool = False,
) -> WriteResult:
    """Edit the config's files to say what the portal says; write those that
    changed, all or none. ``entry_of``: an object as export writes it (passed
    in: drift sits below export); ``found_again``: objects the read missed
    that a look-up by key found."""
    work = _Work(desired, remote, entry_of, accepted=Accepted(strict=refers_within(desired)))
    work.changed = {c.address: c for c in report.plan.changes if isinstance(c, Update)}
    removals: list[tuple[Create, DesiredObject]] = []
    created = []
    order = {k.name: index for index, k in enumerate(KINDS)}
    # The objects others' values name (account fields) first: those values are checked against them.
    for item in sorted(report.plan.changes, key=lambda c: order[c.kind]):
        try:
            if isinstance(item, Update):
                _accept_changed(work, item)
            elif isinstance(item, Create):
                obj = _desired(work, item)
                if item.address in found_again:
                    work.keep(item, None, READ_AGAIN)
                elif len(desired.layers) > 1 and obj.source.file not in work.last_layer:
                    work.keep(item, None, _SHARED_PATH)
                elif obj.source.file in desired.linked_out:
                    work.keep(item, None, _LINKED_OUT.format(file=obj.source.file))
                else:
                    removals.append((item, obj))
            else:
                created.append(item)
        except EditRefused as exc:
            work.keep(item, None, str(exc))
    _check_mass_removal(report, removals, desired, allow_mass_delete)
    for item, obj in removals:
        work.list_edits(ListKey(obj.kind, obj.parent, obj.source.file)).removals.append(obj)
        work.accepted.removed.add(item.address)
    for item in sorted(created, key=lambda c: order[c.kind]):
        # One apply would delete (a pruned kind's) is said so where it is left out.
        deleted = "" if item.address in report.unmanaged else _DELETED_UNLESS_LISTED
        try:
            _accept_created(work, item, deleted)
        except EditRefused as exc:
            work.keep(item, None, f"{exc}{deleted}")
    edit_lists(work.lists, work.desired, work.text, work.kept, work.accepted)
    changed: dict[str, str] = {}
    for path in desired.files:
        text = work.texts.get(path)
        if text is None or not text.edits:
            continue
        try:
            new = text.result()
        except EditRefused as exc:
            raise OutputError(f"{exc}; nothing was written") from None
        if new != text.text:
            changed[path] = new
    if changed:
        check_edited(paths, desired, remote, changed, work.accepted)
        write_unchanged(changed, desired)
    return WriteResult(list(changed), work.kept)


def _check_mass_removal(
    report: DriftReport,
    removals: list[tuple[Create, DesiredObject]],
    desired: DesiredState,
    allow: bool,
) -> None:
    """The plan's mass-delete rule, for the objects ``--write`` would remove
    from the YAML: the next apply would delete what a hiding portal hid."""
    limit = desired.policy.max_delete_percent
    counts = Counter(item.kind for item, _obj in removals)
    listed = {name: len(desired.objects.get(name, {})) for name in counts}
    over = [
        f"{count} of {listed[name]} {name} ({count * 100 // listed[name]}%)"
        for name, count in sorted(counts.items())
        if listed[name] >= MASS_DELETE_MIN_OBJECTS and count * 100 > limit * listed[name]
    ]
    if over and not allow:
        raise WriteRefused(
            report,
            f"refusing to remove {'; '.join(over)} from the configuration: more than "
            f"max_delete_percent {limit:g}%; nothing was written. Re-run with "
            "--allow-mass-delete if the portal really lost them",
        )


# ------------------------------------------------------------------ changed


def _accept_changed(work: _Work, item: Update) -> None:
    obj = _desired(work, item)
    k = kind(item.kind)
    portal = item.before or {}
    tops = [top for top in dict.fromkeys(f.top for f in item.fields) if top in k.field_map]
    for group in _tied(k, tops):
        refused: dict[str, str] = {}
        for top in group:
            try:
                _acceptable(work, item, k, top, portal.get(top))
            except EditRefused as exc:
                refused[top] = str(exc)
        try:
            if refused:
                first, reason = next(iter(refused.items()))
                raise EditRefused(f"goes with {first}, which is left as written ({reason})")
            _accept_group(work, item, obj, k, group)
        except EditRefused as exc:
            for top in group:
                work.keep(item, top, refused.get(top, str(exc)))


def _tied(k: Kind, tops: list[str]) -> list[list[str]]:
    """``tops`` in groups that the kind's rules tie together (an invite
    link's account and accountMatchField, its access and code): each is
    accepted whole or left whole."""
    group_of = {top: [top] for top in tops}
    for rule in k.schema_rules:
        named = [name for name in rule_fields(rule) if name in group_of]
        merged = list(dict.fromkeys(top for name in named for top in group_of[name]))
        for top in merged:
            group_of[top] = merged
    return list({id(group): group for group in group_of.values()}.values())


def _acceptable(work: _Work, item: Update, k: Kind, top: str, new: Any) -> None:
    """Refuse (``EditRefused``) what no edit may write of one field."""
    f = k.field_map[top]
    if f.sensitive and new is not None:
        raise EditRefused(_SENSITIVE)
    if top == k.key_field and item.adopt:  # the plan's note says what apply does
        raise EditRefused(f"{item.note}; apply sets the key the YAML gives it")
    if top == k.key_field and item.renamed_from is not None:  # the YAML's own rename
        raise EditRefused(
            f"renamed from {item.renamed_from!r} ({k.rename_field}); apply renames it"
        )
    _undefined_references(work, k, {top: new})
    if f.ref is not None and holds_remote_ref(new):
        raise EditRefused(
            f"the portal's value refers to {f.ref} without a natural key "
            "(give it one in the portal, or apply to revert); left as is"
        )


def _accept_group(work: _Work, item: Update, obj: DesiredObject, k: Kind, group: list[str]) -> None:
    """Write the portal's values of ``group``, all or none: a key the
    kind's rules forbid beside them (and the portal holds no value of)
    leaves the item, a key the item lacks is added to it, the others are
    patched where they are written; the item as a whole must still fit the
    config schema."""
    portal = item.before or {}
    written = dict(obj.data)
    values = {
        top: portal.get(top) for top in group if top in written or portal.get(top) is not None
    }
    after = {**written, **values}
    removed = sorted(
        name
        for name in implied_nulls(k.schema_rules, after)
        if name in written and portal.get(name) is None
    )
    added = {top: value for top, value in values.items() if top not in written}
    for top in group:
        if k.field_map[top].sensitive and top in values and top not in removed:
            raise EditRefused(_SENSITIVE)
    if (removed or added) and isinstance(obj.data, OverlayMap):
        raise EditRefused(
            "a key would be added or removed, and the object is merged from several paths "
            "(another may hold it); left as written"
        )
    _rejected_value(k, {name: value for name, value in after.items() if name not in removed})
    _unfit_value(work, k, item, {name: after[name] for name in group if name in after})
    _unfit_holders(work, item, k, group)
    before = {path: len(text.edits) for path, text in work.texts.items()}
    try:
        for top in group:
            if top in written and top not in removed:
                _patch(work, obj, top, portal.get(top))
        if removed or added:
            text = work.text(obj.source.file)
            tree, node, _block = text.item(obj.source)
            if has_merge(node) and any(entry(node, name) is None for name in removed):
                raise EditRefused(f"inherited through a YAML merge key (<<), {SHARED}")
            edit_keys(text, tree, node, removed, added)
    except EditRefused:
        for path, text in work.texts.items():  # none of the group's edits stay
            del text.edits[before.get(path, 0) :]
        raise
    work.accepted.fields.setdefault(item.address, set()).update(group, removed)


def _rejected_value(k: Kind, item: dict[str, Any]) -> None:
    """Refuse portal values the config schema rejects in the item (a
    required name the portal holds blank, which reads as null): written,
    they would leave the whole configuration invalid, and nothing be
    accepted. (A child kind's values are checked with the whole edited
    configuration.)"""
    if k.parent is not None:
        return
    problem = item_problem(k.name, item)
    if problem is not None:
        raise EditRefused(f"the configuration would reject the portal's value ({problem})")


def _unfit_value(work: _Work, k: Kind, item: Update, values: dict[str, Any]) -> None:
    """Refuse portal values (of an account's ``customFields``, an invite
    link's ``accountMatchField``) that the objects they name, as the edited
    configuration will define them, do not take: a field retyped in the
    portal after the value was written, whose new type is left as written."""
    problem = unfit_problem(k, {**values, k.key_field: item.key}, _named(work))
    if problem is not None:
        raise EditRefused(f"the configuration would reject the portal's value ({problem})")


def _unfit_holders(work: _Work, item: Update, k: Kind, group: list[str]) -> None:
    """Refuse the portal's values of ``group`` (an account field's type or
    options) where an object the configuration lists would then hold a value
    (or a reference) they do not take, that it takes now: the portal checks
    values when they are written, not when their field is retyped. A holder
    is taken with the values ``--write`` accepts from the portal for it."""
    if not set(group) & _checked_attributes(k):
        return
    address = item.address

    def only(named: Named) -> Named:
        return lambda name, key: named(name, key) if (name, key) == (k.name, item.key) else None

    now, then = only(_named(work)), only(_named(work, {address: set(group)}))
    for holder in (h for h in KINDS if k.name in _named_kinds(h)):
        for obj in work.desired.objects.get(holder.name, {}).values():
            held = holder.address(obj.key, obj.parent)
            data: dict[str, Any] = dict(obj.data)
            change = work.changed.get(held)
            if change is not None:  # as --write accepts it
                data |= {top: (change.before or {}).get(top) for top in change.changed_fields()}
            problem = unfit_problem(holder, data, then)
            maps = {f.name for f in holder.fields if f.keys_ref}
            if problem is None and not (change and maps & set(change.changed_fields())):
                # The values as written (those --write does not replace): a
                # number or boolean YAML read from another text is taken by
                # some types only (``1_000``).
                retold = work.desired.retold
                problem = retold_problem(holder, obj, then, retold)
                if problem is not None and retold_problem(holder, obj, now, retold) is not None:
                    problem = None
            if problem is not None and unfit_problem(holder, data, now) is None:
                raise EditRefused(
                    f"the configuration would then reject {held} ({problem}); left as written "
                    "(correct that in the portal and run drift --write again, or apply to "
                    "revert it)"
                )


def _named_kinds(k: Kind) -> set[str]:
    """The kinds whose objects ``unfit_problem`` checks ``k``'s values against."""
    return {f.keys_ref for f in k.fields if f.keys_ref} | {
        f.ref for f in k.references if f.ref and f.ref_only
    }


def _checked_attributes(k: Kind) -> set[str]:
    """``k``'s fields whose change may leave others' values unfit (an
    account field's type, options and required, which accounts hold values
    under; the attribute a reference allows only some targets by)."""
    held = {f.name for f in k.fields if f.held_by}
    return held | {
        f.ref_only[0] for h in KINDS for f in h.references if f.ref == k.name and f.ref_only
    }


def _named(work: _Work, accepting: dict[Address, set[str]] | None = None) -> Named:
    """The objects values name (account fields) as the edited configuration's
    checks take them (the loader's, the plan's against the portal): one the
    configuration lists is its own, with the fields ``--write`` accepted (and
    ``accepting``) at the portal's values and those it omits or ignores
    (``policy.ignore_changes``) the portal's; one it does not list (added by
    this write, or the portal's alone), the portal's."""

    def named(kind_name: str, key: str) -> dict[str, Any] | None:
        k = kind(kind_name)
        portal = work.remote.get(kind_name).referable().get(key)
        obj = work.desired.objects.get(kind_name, {}).get(key)
        if obj is None:
            return None if portal is None else portal.data
        address = k.address(key)
        taken = work.accepted.fields.get(address, set()) | (accepting or {}).get(address, set())
        ignored = work.desired.policy.ignore_changes.get(kind_name, frozenset())
        given = {name: value for name, value in obj.data.items() if name not in ignored | taken}
        return {**(k.defaults if portal is None else portal.data), **given}

    return named


def _patch(work: _Work, obj: DesiredObject, top: str, new: Any) -> None:
    """Edit field ``top`` of ``obj`` where its value is written: in the
    object's own item, or in the later path's file that set it."""
    data = obj.data
    where = data.value_source(top) if isinstance(data, YamlMap) and top in data else obj.source
    if len(set(getattr(data.get(top), "files", ()))) > 1:  # a mapping merged from overlays
        raise EditRefused("merged from several paths' files; left as written")
    text = work.text(where.file)
    if where.file == obj.source.file:
        tree, node, _block = text.item(obj.source)
        found = entry(node, top)
        if found is None and has_merge(node):
            raise EditRefused(f"inherited through a YAML merge key (<<), {SHARED}")
    else:
        tree = text.whole()
        assert isinstance(data, YamlMap)  # where came from it
        found = text.pair_at(tree, data.key_source(top), where)
    if found is None:
        raise EditRefused("not found where the object is written; left as written")
    key_node, value_node = found
    problem = written_with(text, tree, value_node)
    if problem is not None:
        raise EditRefused(problem)
    f = kind(obj.kind).field_map[top]
    patch_field(text, tree, key_node, value_node, f, obj.data.get(top), new)


# ------------------------------------------------------------------ created


def _accept_created(work: _Work, item: Change, deleted: str) -> None:
    """Append ``item``, created in the portal, to its list, or as a comment
    where the configuration would reject it (``deleted``: what the reason
    adds when apply deletes it while the configuration does not list it)."""
    remote_obj = work.remote.get(item.kind).objects.get(item.filed_key)
    if remote_obj is None:
        raise EditRefused("the portal's object was not found again; left out")
    k = kind(item.kind)
    warnings: list[str] = []
    data = work.entry_of(k, remote_obj, work.remote, warnings)
    for warning in warnings:
        work.keep(item, None, f"{printable(warning)} (the rest is written)")
    for name in [name for name in data if name in k.sensitive_names]:
        del data[name]
        work.keep(item, name, _SENSITIVE)
    probe: dict[str, Any] = {k.name: [data]}
    where = f"data.{k.name}[0]"
    if k.parent is not None and item.parent is not None:
        parent = work.desired.objects.get(k.parent, {}).get(item.parent)
        if parent is None:
            raise EditRefused(
                f"its {kind(k.parent).singular} {item.parent!r} is not in the configuration"
            )
        key = ListKey(item.kind, item.parent, _list_file(work, k, parent))
        probe = {k.parent: [{**parent.data, k.name: [data]}]}  # the schema has it there
        where = f"data.{k.parent}[0].{k.name}[0]"
    else:
        key = ListKey(item.kind, None, _file_for_kind(work, item.kind))
    problem = schema_problem(probe)
    try:
        if problem is not None:
            raise EditRefused(problem.replace(where, k.singular, 1))
        _undefined_references(work, k, data)
        unfit = unfit_problem(k, data, _named(work))
        if unfit is not None:
            raise EditRefused(unfit)
    except EditRefused as exc:
        name = printable(repr(item.key))
        lines = [f"# {k.singular} {name} is not valid konvsync YAML as it is ({exc}):"]
        lines += [f"# {line}" for line in dump([data]).splitlines()]
        work.text(key.file).append(lines)
        work.keep(
            item, None, f"the configuration would reject it ({exc}): written as a comment{deleted}"
        )
        return
    work.list_edits(key).appends[item.address] = data
    work.accepted.added.add(item.address)


def _list_file(work: _Work, k: Kind, parent: DesiredObject) -> str:
    """The file where ``parent`` lists its objects of child kind ``k`` (an
    account's ``locations``: an overlay may give them), refused
    (``EditRefused``) where others may share it: a file of an earlier
    config path, or one a link leads to from outside the folder."""
    data, path = parent.data, parent.source.file
    if isinstance(data, YamlMap) and k.name in data:
        path = data.value_source(k.name).file
    whose = f"its {kind(k.parent or '').singular}'s {k.name} are written"
    if len(work.desired.layers) > 1 and path not in work.last_layer:
        raise EditRefused(
            f"{whose} in an earlier config path, which other environments may share; left "
            "out (add it there if all of them should have it)"
        )
    if path in work.desired.linked_out:
        raise EditRefused(
            f"{whose} in {path}, which a link leads to from outside the config folder and "
            "other configurations may share; left out (add it there if all of them should "
            "have it)"
        )
    return path


def _undefined_references(work: _Work, k: Kind, data: dict[str, Any]) -> None:
    """Refuse values that refer to keys the configuration does not define
    (``validate`` would reject them), unless it already refers to the
    portal's objects: references, and the keys of custom field values."""
    if not work.accepted.strict:
        return
    named = [(ref.target, ref.key, ref.written) for ref in references(k, data, False)]
    for f in k.fields:
        values = data.get(f.name)
        if f.keys_ref and isinstance(values, dict):
            named += [(kind(f.keys_ref), str(key), key) for key in values]
    for target, key, written in named:
        defined = work.desired.objects.get(target.name, {})
        if target.reference or key in defined or target.address(key) in work.accepted.added:
            continue
        if holds_remote_ref(written):
            continue  # no key at all: _acceptable says so
        raise EditRefused(
            f"refers to {target.singular} {key!r}, which the configuration does not define"
        )


def _file_for_kind(work: _Work, kind_name: str) -> str:
    """The file of the last config path that holds the kind: where its last
    object is written, else where its key is, else where the policy is, else
    that path's first file; a file a link leads to from outside the folder
    (``linked_out``) is not taken."""
    files = [path for path in work.last_layer if path not in work.desired.linked_out]
    if not files:
        raise EditRefused(
            "every file of the config path is reached through a link that leads out of its "
            "folder, and other configurations may share them; left out (add it to one of them "
            "if all of those should have it)"
        )
    listed = work.desired.objects.get(kind_name, {}).values()
    objects = [o for o in listed if o.source.file in files]
    if objects:
        return objects[-1].source.file
    for name in (kind_name, "policy"):
        for path in files:
            if entry(work.text(path).whole().root, name) is not None:
                return path
    return files[0]


def _desired(work: _Work, item: Change) -> DesiredObject:
    obj = work.desired.objects.get(item.kind, {}).get(item.filed_key)
    if obj is None:
        raise EditRefused("not found in the configuration")
    return obj
