"""Keys added to and removed from one list item in place, for fields the
kind's rules tie together (an invite link's ``account`` traded for its
``accountMatchField``): a removed key and an added one trade places (the
pair's span, so the comments around it and beside it stay); another removed
key takes its line in block style, or its comma in flow style; another added
key goes after the item's last one. Comments elsewhere are not touched."""

from __future__ import annotations

from typing import Any

from yaml.nodes import CollectionNode, MappingNode, Node

from konvsync.config.yaml_dump import flow
from konvsync.drift.yamltext import SHARED, EditRefused, Tree, YamlText, holds_anchor

_COMMENT = "a comment stands where the key would be removed; left as written"


def edit_keys(
    text: YamlText, tree: Tree, node: Node, removed: list[str], added: dict[str, Any]
) -> None:
    """Plan the edits that remove the keys ``removed`` from the item
    ``node`` and add ``added`` (name -> the portal's value) to it."""
    if not isinstance(node, MappingNode):
        raise EditRefused("the item is not a mapping; left as written")
    if id(node) in tree.shared:  # the item is reached from another place too
        raise EditRefused(SHARED)
    pairs: list[tuple[Node, Node]] = list(node.value)
    going = [i for i, (key, _value) in enumerate(pairs) if key.value in removed]
    for i in going:
        if holds_anchor(text, tree, pairs[i][1]):
            raise EditRefused(SHARED)
    lines = [f"{flow(str(name))}: {flow(value)}" for name, value in added.items()]
    traded = [i for i in going if not _spans_lines(pairs[i][1])][: len(lines)]
    for i, line in zip(traded, lines, strict=False):
        key, value = pairs[i]
        text.replace(text.start(tree, key), text.end(tree, value), line)
    for i in going:
        if i not in traded:
            _remove(text, tree, node, pairs, i)
    rest = lines[len(traded) :]
    if rest:
        _add(text, tree, node, pairs, rest)


def _spans_lines(value: Node) -> bool:
    """A block collection, whose lines a trade would take with it."""
    return isinstance(value, CollectionNode) and not value.flow_style


def _remove(
    text: YamlText, tree: Tree, node: MappingNode, pairs: list[tuple[Node, Node]], i: int
) -> None:
    key, value = pairs[i]
    start, end = text.start(tree, key), text.end(tree, value)
    if node.flow_style:
        # ", key: value" (or "key: value, " when it is the first)
        if i > 0:
            start = text.end(tree, pairs[i - 1][1])
        elif len(pairs) > 1:
            end = text.start(tree, pairs[1][0])
        if "#" in text.text[start : text.start(tree, key)] + text.text[text.end(tree, value) : end]:
            raise EditRefused(_COMMENT)
        text.replace(start, end, "")
        return
    line = text.line_of(start)
    if not text.text[text.starts[line] : start].strip(" "):  # the key starts its line
        text.delete_lines(line, text.line_of(end))
        return
    # The first key, after the item's "- ": the next key takes its place.
    if i + 1 >= len(pairs):
        raise EditRefused("the item would be left empty; left as written")
    following = text.start(tree, pairs[i + 1][0])
    if "#" in text.text[end:following]:
        raise EditRefused(_COMMENT)
    text.replace(start, following, "")


def _add(
    text: YamlText, tree: Tree, node: MappingNode, pairs: list[tuple[Node, Node]], lines: list[str]
) -> None:
    last_key, last_value = pairs[-1]
    end = text.end(tree, last_value)
    if node.flow_style:
        text.replace(end, end, "".join(f", {line}" for line in lines))
        return
    column = text.column_of(text.start(tree, last_key))
    text.insert_lines_after(text.line_of(end), [" " * column + line for line in lines])
