"""Lists of objects in the YAML gaining and losing items: objects deleted
in the portal leave their list, objects created there join the end of the
list that holds their kind in style (block items laid out like the last one,
or flow). A list that loses every item becomes ``[]``; a kind the files do
not list yet is added at the end of a file."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from konvsync.config.model import DesiredObject, DesiredState
from konvsync.config.yaml_dump import flow, item_lines
from konvsync.drift.model import KeptValue
from konvsync.drift.yamltext import EditRefused, YamlText, entry, siblings
from konvsync.kinds import kind
from konvsync.kinds.address import key_path


@dataclass(frozen=True)
class ListKey:
    kind: str
    parent: str | None
    """For a child kind: the key of the parent whose list it is (an
    account's ``locations``)."""
    file: str


@dataclass
class ListEdits:
    removals: list[DesiredObject] = field(default_factory=list)
    appends: list[dict[str, Any]] = field(default_factory=list)


def edit_lists(
    lists: dict[ListKey, ListEdits],
    desired: DesiredState,
    text_of: Callable[[str], YamlText],
    kept: list[KeptValue],
) -> None:
    for key, edits in lists.items():
        try:
            _edit_list(key, edits, desired, text_of(key.file))
        except EditRefused as exc:
            for obj in edits.removals:
                kept.append(KeptValue(f"{obj.kind}/{obj.path}", None, str(exc)))
            for data in edits.appends:
                kept.append(KeptValue(_address(key, data), None, str(exc)))


def _address(key: ListKey, data: dict[str, Any]) -> str:
    name = str(data.get(kind(key.kind).key_field))
    return f"{key.kind}/{key_path(name, key.parent)}"


def _members(key: ListKey, desired: DesiredState) -> list[DesiredObject]:
    objects = desired.objects.get(key.kind, {}).values()
    if key.parent is not None:
        return [o for o in objects if o.parent == key.parent]
    return [o for o in objects if o.source.file == key.file]


def _edit_list(key: ListKey, edits: ListEdits, desired: DesiredState, text: YamlText) -> None:
    members = _members(key, desired)
    removed = {o.filed_key for o in edits.removals}
    left = [m for m in members if m.filed_key not in removed]
    if left:
        for obj in edits.removals:
            _remove_item(text, obj)
        if edits.appends:
            _append_after(text, left[-1], edits.appends)
        return
    span = _value_span(key, desired, text, members)
    if span is None:  # the kind is in no file yet
        lines = [f"{key.kind}:"]
        for data in edits.appends:
            lines += item_lines(data, 2, 2)
        lead = "" if text.text.endswith("\n") or not text.text else text.newline
        end = len(text.text)
        text.replace(end, end, lead + "".join(line + text.newline for line in lines))
        return
    colon, end, column = span
    if not edits.appends:
        text.replace(colon + 1, end, " []")
        return
    lines = [line for data in edits.appends for line in item_lines(data, column + 2, 2)]
    text.replace(colon + 1, end, "".join(text.newline + line for line in lines))


def _remove_item(text: YamlText, obj: DesiredObject) -> None:
    tree, node, block = text.item(obj.source)
    if block:
        first = text.line_of(text.start(tree, node))
        text.delete_lines(first, text.line_of(text.end(tree, node)))
        return
    before, after = siblings(tree, node)
    if after is not None:
        text.replace(text.start(tree, node), text.start(tree, after), "")
    elif before is not None:
        text.replace(text.end(tree, before), text.end(tree, node), "")
    else:
        text.replace(text.start(tree, node), text.end(tree, node), "")


def _append_after(text: YamlText, anchor: DesiredObject, appends: list[dict[str, Any]]) -> None:
    tree, node, block = text.item(anchor.source)
    end = text.end(tree, node)
    if not block:
        text.replace(end, end, "".join(", " + flow(data) for data in appends))
        return
    start = text.start(tree, node)
    line = text.line_of(start)
    column = text.column_of(start)
    dash = text.dash_column(line, column) or 0
    lines: list[str] = []
    for data in appends:
        if getattr(node, "flow_style", False):
            lines.append(f"{' ' * dash}-{' ' * (column - dash - 1)}{flow(data)}")
        else:
            lines += item_lines(data, dash, column - dash)
    text.insert_lines_after(text.line_of(end), lines)


def _value_span(
    key: ListKey, desired: DesiredState, text: YamlText, members: list[DesiredObject]
) -> tuple[int, int, int] | None:
    """(index of the ':' after the list's key, end of its value, the key's
    column), or None when the file does not name the list."""
    parent_kind = kind(key.kind).parent
    if parent_kind is not None and key.parent is not None:
        parent = desired.objects[parent_kind][key.parent]
        tree, node, _block = text.item(parent.source)
        found = entry(node, key.kind)
        if found is None:
            raise EditRefused(
                f"the {kind(parent_kind).singular}'s {key.kind} are not written where it is"
            )
        key_node, value_node = found
        colon = text.text.find(":", text.end(tree, key_node))
        return colon, text.end(tree, value_node), text.column_of(text.start(tree, key_node))
    match = re.search(rf"^{re.escape(key.kind)}\s*:", text.text, re.M)
    if match is None:
        return None
    colon = match.end() - 1
    if members:
        ends = [_item_end(text, m) for m in members]
        return colon, max(ends), 0
    rest = re.match(r"[ \t]*(\[[ \t]*\]|null|~)?", text.text[colon + 1 :])
    return colon, colon + 1 + (rest.end() if rest else 0), 0


def _item_end(text: YamlText, obj: DesiredObject) -> int:
    tree, node, _block = text.item(obj.source)
    return text.end(tree, node)
