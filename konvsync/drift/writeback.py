"""``drift --write``: accept the portal's changes into the YAML in place.

Changed fields get the portal's value (in the config's terms: keys, not
IDs); objects deleted in the portal leave their file; objects created in the
portal are appended to the list that holds their kind (locations to their
account's ``locations``). Every other byte stays as it was: the edits are
spans of the original text (see ``yamltext``). A field written as a
``${env:...}`` substitution, through an anchor or with a tag, and every
sensitive value, is reported and left alone (``KeptValue``)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from konvsync.config.model import DesiredObject, DesiredState
from konvsync.config.yaml_loader import YamlLoadError, load_yaml
from konvsync.drift.lists import ListEdits, ListKey, edit_lists
from konvsync.drift.model import DriftReport, KeptValue, WriteResult
from konvsync.drift.patch import patch_field
from konvsync.drift.yamltext import (
    EditRefused,
    Tree,
    YamlText,
    entry,
    has_merge,
    written_with,
)
from konvsync.errors import OutputError
from konvsync.kinds import kind
from konvsync.kinds.base import Kind
from konvsync.plan.changes import Change, Create, Update
from konvsync.plan.remote import RemoteObject, RemoteState
from konvsync.support.files import write_files

EntryOf = Callable[[Kind, RemoteObject, RemoteState, list[str]], dict[str, Any]]
"""(kind, remote object, the state it was read with, warnings to add to) -> the
object as a config entry."""


@dataclass
class _Work:
    desired: DesiredState
    remote: RemoteState
    entry_of: EntryOf
    texts: dict[str, YamlText] = field(default_factory=dict)
    kept: list[KeptValue] = field(default_factory=list)
    lists: dict[ListKey, ListEdits] = field(default_factory=dict)

    def text(self, path: str) -> YamlText:
        if path not in self.texts:
            try:
                with open(path, encoding="utf-8", newline="") as handle:
                    content = handle.read()  # as it is: CRLF line ends stay
            except OSError as exc:
                raise OutputError(f"cannot read {path}: {exc.strerror}") from None
            self.texts[path] = YamlText(path, content)
        return self.texts[path]

    def keep(self, item: Change, path: str | None, reason: str) -> None:
        self.kept.append(KeptValue(str(item.address), path, reason))

    def list_edits(self, key: ListKey) -> ListEdits:
        return self.lists.setdefault(key, ListEdits())


def accept_drift(
    report: DriftReport, desired: DesiredState, remote: RemoteState, entry_of: EntryOf
) -> WriteResult:
    """Edit the config's files so that they say what the portal says, and
    write those that changed (all or nothing). ``entry_of`` gives an object
    created in the portal as the config's YAML entry (export's, passed in by
    the use case: drift sits below export)."""
    work = _Work(desired, remote, entry_of)
    for item in report.plan.changes:
        try:
            if isinstance(item, Update):
                _accept_changed(work, item)
            elif isinstance(item, Create):
                _accept_deleted(work, item)
            else:
                _accept_created(work, item)
        except EditRefused as exc:
            work.keep(item, None, str(exc))
    edit_lists(work.lists, work.desired, work.text, work.kept)
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
            _check_readable(path, new)
            changed[path] = new
    if changed:
        _write_in_place(changed)
    return WriteResult(list(changed), work.kept)


def _write_in_place(changed: dict[str, str]) -> None:
    """Write all files or none; each keeps its permissions, and a symlinked
    file is written where the link points."""
    targets = {path: Path(path).resolve() for path in changed}
    modes = {path: os.stat(target).st_mode & 0o7777 for path, target in targets.items()}
    write_files({targets[path]: new for path, new in changed.items()})
    for path, target in targets.items():
        os.chmod(target, modes[path])


def _check_readable(path: str, text: str) -> None:
    try:
        load_yaml(text, path)
    except YamlLoadError as exc:
        raise OutputError(
            f"writing the drift into {path} would break it ({exc}); nothing was written"
        ) from None


# ------------------------------------------------------------------ changed


def _accept_changed(work: _Work, item: Update) -> None:
    obj = _desired(work, item)
    k = kind(item.kind)
    text = work.text(obj.source.file)
    tree, node, _block = text.item(obj.source)
    portal = item.before or {}
    for top in dict.fromkeys(f.top for f in item.fields):
        f = k.field_map.get(top)
        if f is None:
            continue
        if f.sensitive:
            work.keep(item, top, "sensitive; never written to a file")
            continue
        if top == k.key_field and item.adopt:
            adoption = f"the portal's {k.singular} has no {k.key_field}; apply would set it"
            work.keep(item, top, adoption + " (adoption)")
            continue
        found = entry(node, top)
        if found is None:
            reason = (
                "inherited through a YAML merge key (<<); left as is"
                if has_merge(node)
                else "not found where the object is written; left as is"
            )
            work.keep(item, top, reason)
            continue
        key_node, value_node = found
        problem = _not_editable(text, tree, value_node)
        if problem is not None:
            work.keep(item, top, problem)
            continue
        try:
            patch_field(text, tree, key_node, value_node, f, obj.data.get(top), portal.get(top))
        except EditRefused as exc:
            work.keep(item, top, str(exc))


def _not_editable(text: YamlText, tree: Tree, node: Node) -> str | None:
    """Why the value cannot be edited (anchors, aliases, tags, substitutions);
    in a list or mapping, substitutions only matter for the values that
    change, which ``patch_field`` checks."""
    reason = written_with(text, tree, node)
    if reason and "substitution" in reason and isinstance(node, MappingNode | SequenceNode):
        return None
    return reason


# ------------------------------------------------------------------ deleted


def _accept_deleted(work: _Work, item: Change) -> None:
    obj = _desired(work, item)
    work.list_edits(_list_of(work.desired, obj)).removals.append(obj)


def _list_of(desired: DesiredState, obj: DesiredObject) -> ListKey:
    return ListKey(obj.kind, obj.parent, obj.source.file)


# ------------------------------------------------------------------ created


def _accept_created(work: _Work, item: Change) -> None:
    remote_obj = work.remote.get(item.kind).objects.get(item.filed_key)
    if remote_obj is None:
        raise EditRefused("the portal's object was not found again; left out")
    warnings: list[str] = []
    data = _entry(work, item, warnings)
    for warning in warnings:
        work.keep(item, None, f"{warning} (the rest is written)")
    hidden = [name for name in data if _field_sensitive(item.kind, name)]
    for name in hidden:
        del data[name]
        work.keep(item, name, "sensitive; never written to a file")
    parent_kind = kind(item.kind).parent
    if parent_kind is not None and item.parent is not None:
        parent = work.desired.objects.get(parent_kind, {}).get(item.parent)
        if parent is None:
            raise EditRefused(
                f"its {kind(parent_kind).singular} {item.parent!r} is not in the configuration"
            )
        key = ListKey(item.kind, item.parent, parent.source.file)
    else:
        key = ListKey(item.kind, None, _file_for_kind(work, item.kind))
    work.list_edits(key).appends.append(data)


def _entry(work: _Work, item: Change, warnings: list[str]) -> dict[str, Any]:
    """The object as export writes it: keys as the portal spells them,
    references by key, defaults and empty values left out."""
    obj = work.remote.get(item.kind).objects[item.filed_key]
    return work.entry_of(kind(item.kind), obj, work.remote, warnings)


def _file_for_kind(work: _Work, kind_name: str) -> str:
    """The file that holds the kind: where its last object is written,
    else where its key is, else where the policy is, else the first file."""
    objects = list(work.desired.objects.get(kind_name, {}).values())
    if objects:
        return objects[-1].source.file
    pattern = re.compile(rf"^{re.escape(kind_name)}\s*:", re.M)
    for path in work.desired.files:
        if pattern.search(work.text(path).text):
            return path
    policy = re.compile(r"^policy\s*:", re.M)
    for path in work.desired.files:
        if policy.search(work.text(path).text):
            return path
    return work.desired.files[0]


# ------------------------------------------------------------------ helpers


def _desired(work: _Work, item: Change) -> DesiredObject:
    obj = work.desired.objects.get(item.kind, {}).get(item.filed_key)
    if obj is None:
        raise EditRefused("not found in the configuration")
    return obj


def _field_sensitive(kind_name: str, name: str) -> bool:
    f = kind(kind_name).field_map.get(name)
    return bool(f and f.sensitive)
