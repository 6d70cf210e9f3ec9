"""Lists of objects in the YAML gaining and losing items: objects deleted
in the portal leave their list, objects created there join the end of the
list that holds their kind in style (block items laid out like the last one,
or flow). A list that loses every item becomes ``[]``; a kind the files do
not list yet is added at the end of a file. An item holding an anchor that
another place uses stays."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from konvsync.config.model import DesiredObject, DesiredState
from konvsync.config.overlay import OverlayMap
from konvsync.config.yaml_dump import flow, item_lines
from konvsync.drift.model import KeptValue
from konvsync.drift.verify import Accepted
from konvsync.drift.yamltext import (
    SHARED,
    EditRefused,
    Tree,
    YamlText,
    entry,
    flow_items,
    holds_anchor,
)
from konvsync.kinds import kind
from konvsync.kinds.address import Address


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
    appends: dict[Address, dict[str, Any]] = field(default_factory=dict)


def edit_lists(
    lists: dict[ListKey, ListEdits],
    desired: DesiredState,
    text_of: Callable[[str], YamlText],
    kept: list[KeptValue],
    accepted: Accepted,
) -> None:
    def keep(address: Address, reason: str) -> None:
        kept.append(KeptValue(str(address), None, reason))
        accepted.removed.discard(address)
        accepted.added.discard(address)

    sections: list[tuple[YamlText, list[str]]] = []
    for key, edits in lists.items():
        text = text_of(key.file)
        try:
            for obj in list(edits.removals):
                tree, node, _block = text.item(obj.source)
                if holds_anchor(text, tree, node):
                    edits.removals.remove(obj)
                    keep(_address(obj), f"holds an anchor other objects use: {SHARED}")
            section = _edit_list(key, edits, desired, text)
            if section:
                sections.append((text, section))
        except EditRefused as exc:
            for address in [*map(_address, edits.removals), *edits.appends]:
                keep(address, str(exc))
    for text, lines in sections:  # after the items other lists gain at the end
        text.append(lines)


def _address(obj: DesiredObject) -> Address:
    return kind(obj.kind).address(obj.key, obj.parent)


def _edit_list(
    key: ListKey, edits: ListEdits, desired: DesiredState, text: YamlText
) -> list[str] | None:
    """Edit the list; the lines of a new section when the file has none."""
    removed = {o.filed_key for o in edits.removals}
    left = [  # the list's other objects: its parent's, or the file's
        o
        for o in desired.objects.get(key.kind, {}).values()
        if (o.parent == key.parent if key.parent else o.source.file == key.file)
        and o.filed_key not in removed
    ]
    gone = {text.at(o.source) for o in edits.removals}
    if left:
        for obj in edits.removals:
            _remove_item(text, obj, gone)
        if edits.appends:
            _append_after(text, *text.item(left[-1].source), edits.appends.values())
        return None
    found = _list_value(key, desired, text)
    if found is None:  # the kind is in no file yet
        return [
            f"{key.kind}:",
            *(line for data in edits.appends.values() for line in item_lines(data, 2)),
        ]
    tree, holder, key_node, value_node = found
    items = value_node.value if isinstance(value_node, SequenceNode) else []
    others = [n for n in items if text.start(tree, n) not in gone]
    if others:  # items the configuration does not count here (an overlay's patches)
        for obj in edits.removals:
            _remove_item(text, obj, gone)
        if edits.appends:
            block = isinstance(value_node, SequenceNode) and not value_node.flow_style
            _append_after(text, tree, others[-1], block, edits.appends.values())
        return None
    colon = text.text.find(":", text.end(tree, key_node))
    empty = isinstance(value_node, ScalarNode) and value_node.value == ""
    end, comment = colon + 1 if empty else text.end(tree, value_node), ""
    if isinstance(value_node, SequenceNode) and not value_node.flow_style:
        end, comment = text.block_value(colon, end)  # the key's comment stays
    if holder.flow_style or not edits.appends:  # inside {...}: a list in flow style
        new = " [" + ", ".join(flow(data) for data in edits.appends.values()) + "]" + comment
    else:
        if not comment:  # after a flow list ([]) written again in block style
            end, comment = text.comment_after(end)
        column = text.column_of(text.start(tree, key_node))
        lines = [line for data in edits.appends.values() for line in item_lines(data, column + 2)]
        new = comment + "".join(text.newline + line for line in lines)
    text.replace(colon + 1, end, new)
    return None


def _remove_item(text: YamlText, obj: DesiredObject, gone: set[int]) -> None:
    """Take ``obj``'s item out of its list; ``gone``: where the items of
    the list that go too start."""
    tree, node, block = text.item(obj.source)
    if block:
        first = text.line_of(text.start(tree, node))
        last = text.line_of(text.end(tree, node))
        text.delete_lines(
            _comments_above(text, first, text.column_of(text.start(tree, node))), last
        )
        return
    items = flow_items(tree, node)
    index = next(i for i, item in enumerate(items) if item is node)
    text.remove_flow_item(tree, items, index, gone)


def _comments_above(text: YamlText, first: int, column: int) -> int:
    """The first line of the block item at line ``first``, taking the comment
    lines just above it, at its ``-``'s column, that follow another item or a
    blank line (below the list's key, a comment is the list's)."""
    dash = text.dash_column(first, column)
    if dash is None:
        return first
    above = first - 1
    while above >= 0 and _indent(text.line(above)) == dash and _is_comment(text.line(above)):
        above -= 1
    if above == first - 1 or above < 0:
        return first
    before = text.line(above)
    after_an_item = _indent(before) > dash or (
        _indent(before) == dash and before.lstrip().startswith("-")
    )
    return above + 1 if after_an_item or not before.strip() else first


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_comment(line: str) -> bool:
    return line.lstrip(" \t").startswith("#")


def _append_after(
    text: YamlText, tree: Tree, node: Node, block: bool, appends: Iterable[dict[str, Any]]
) -> None:
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


def _list_value(
    key: ListKey, desired: DesiredState, text: YamlText
) -> tuple[Tree, MappingNode, Node, Node] | None:
    """The mapping that holds the list, the list's key and value nodes, or
    None when the file does not name it."""
    parent_kind = kind(key.kind).parent
    if parent_kind is not None and key.parent is not None:
        parent = desired.objects[parent_kind][key.parent]
        where = parent.source
        if where.file != key.file and isinstance(parent.data, OverlayMap):
            where = parent.data.patched_at  # the list is the later path's: so is the item
        tree, node, _block = text.item(where)
        found = entry(node, key.kind)
        if found is None or not isinstance(node, MappingNode):
            raise EditRefused(
                f"the {kind(parent_kind).singular}'s {key.kind} are not written where it is"
            )
        return tree, node, *found
    tree = text.whole()
    found = entry(tree.root, key.kind)
    if found is None or not isinstance(tree.root, MappingNode):
        return None
    return tree, tree.root, *found
