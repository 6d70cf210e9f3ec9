"""Editing a YAML file's text in place, touching only the bytes that change.

ruamel.yaml's round-trip composer tells where every node of the file stands
(line, column, end) and how it is written (quoting, flow or block, anchors).
Re-emitting a whole file, even in round-trip mode, normalizes what it does
not model (indentation per level, spacing in flow collections, long lines),
and composing a large file in pure Python takes seconds (10,000 users: 6 s).
So edits here are spans of the original text, replaced with new text: only
the item being edited is composed (the lines of one list item, found by the
position the config loader recorded), and the whole file only when that
fails (an alias to an anchor outside the item, flow-style lists).

What is written comes from the one emitter export uses too
(``config.yaml_dump``), quoted for konvsync's own YAML 1.1 loader."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from konvsync.config.model import Source


class EditRefused(Exception):
    """This part of the file cannot be edited safely; the reason says why."""


@dataclass
class Tree:
    """A composed part of the file: ``offset`` is the line it starts at."""

    root: Node
    offset: int


class YamlText:
    """One file's text, the edits planned for it, and its composed parts."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]
        if self.starts[-1] == len(text) and len(self.starts) > 1:
            self.starts.pop()  # no line after a final newline
        first_break = text.find("\n")
        self.newline = "\r\n" if first_break > 0 and text[first_break - 1] == "\r" else "\n"
        self.edits: list[tuple[int, int, int, str]] = []
        self._whole: Tree | None = None
        self._yaml = YAML(typ="rt")

    # ------------------------------------------------------------ positions

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line(self, number: int) -> str:
        """Line ``number`` (0-based) without its line break."""
        end = self.starts[number + 1] if number + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[number] : end].rstrip("\r\n")

    def index(self, line: int, column: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        return self.starts[line] + column

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.starts, index) - 1

    def column_of(self, index: int) -> int:
        return index - self.starts[self.line_of(index)]

    def line_end(self, line: int) -> int:
        """Index of the end of ``line``'s content (before its line break)."""
        return self.starts[line] + len(self.line(line))

    def start(self, tree: Tree, node: Node) -> int:
        mark = node.start_mark
        return self.index(mark.line + tree.offset, mark.column)

    def end(self, tree: Tree, node: Node) -> int:
        """Where the node's own text ends (block collections end at their
        last value, not at the next token)."""
        if isinstance(node, ScalarNode):
            mark = node.end_mark
            if node.style in ("|", ">") and mark.column == 0 and mark.line > node.start_mark.line:
                return self.line_end(mark.line + tree.offset - 1)
            return self.index(mark.line + tree.offset, mark.column)
        if getattr(node, "flow_style", False):
            return self.index(node.end_mark.line + tree.offset, node.end_mark.column)
        children = list(_children(node))
        if not children:
            return self.start(tree, node)
        return max(self.end(tree, child) for child in children)

    # ----------------------------------------------------------- composing

    def item(self, source: Source) -> tuple[Tree, Node, bool]:
        """The list item the config loader saw at ``source``: its tree, its
        node, and whether it is a block item (``- ...`` on lines of its own)."""
        line, column = source.line - 1, source.column - 1
        target = self.index(line, column)
        dash = self.dash_column(line, column)
        if dash is not None:
            last = self.block_end(line, dash)
            snippet = self.text[self.starts[line] : self.line_end(last)] + "\n"
            try:
                root = self._yaml.compose(snippet)
            except Exception:  # an alias to an anchor elsewhere, or odd syntax
                root = None
            if isinstance(root, SequenceNode) and root.value:
                tree = Tree(root, line)
                node = root.value[0]
                if self.start(tree, node) == target:
                    return tree, node, True
        tree = self.whole()
        for seq, node in _items(tree.root):
            if self.start(tree, node) == target:
                return tree, node, not seq.flow_style and dash is not None
        raise EditRefused(f"cannot find the object at {source} in the file")

    def whole(self) -> Tree:
        if self._whole is None:
            try:
                self._whole = Tree(self._yaml.compose(self.text), 0)
            except Exception as exc:
                raise EditRefused(f"ruamel.yaml cannot read {self.path}: {exc}") from None
        return self._whole

    def dash_column(self, line: int, column: int) -> int | None:
        """The column of the ``-`` that starts a block item at (line, column)."""
        before = self.line(line)[:column].rstrip(" ")
        if before.endswith("-") and not before[:-1].strip(" "):
            return len(before) - 1
        return None

    def block_end(self, line: int, dash: int) -> int:
        """The last line with content of the block item whose ``-`` stands at
        (line, dash): lines indented further belong to it."""
        last = line
        for number in range(line + 1, self.line_count):
            text = self.line(number)
            stripped = text.strip(" ")
            if not stripped or stripped.startswith("#"):
                continue
            if len(text) - len(text.lstrip(" ")) <= dash:
                break
            last = number
        return last

    # --------------------------------------------------------------- edits

    def replace(self, start: int, end: int, text: str) -> None:
        self.edits.append((start, end, len(self.edits), text))

    def delete_lines(self, first: int, last: int) -> None:
        end = self.starts[last + 1] if last + 1 < self.line_count else len(self.text)
        start = self.starts[first]
        if end == len(self.text) and not self.text.endswith("\n") and first > 0:
            start = self.line_end(first - 1)  # the last line: take the break before it
        self.replace(start, end, "")

    def insert_lines_after(self, line: int, lines: list[str]) -> None:
        at = self.line_end(line)
        self.replace(at, at, "".join(self.newline + text for text in lines))

    def result(self) -> str:
        """The text with every edit made (edits must not overlap)."""
        ordered = sorted(self.edits)
        for before, after in itertools.pairwise(ordered):
            if after[0] < before[1]:
                raise EditRefused(f"overlapping edits in {self.path}")
        text = self.text
        for start, end, _seq, replacement in reversed(ordered):
            text = text[:start] + replacement + text[end:]
        return text


# ----------------------------------------------------------------- nodes


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def _items(root: Node) -> Iterator[tuple[SequenceNode, Node]]:
    """Every (sequence, item) pair below ``root``."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            for item in node.value:
                yield node, item
        pending.extend(_children(node))


def siblings(tree: Tree, node: Node) -> tuple[Node | None, Node | None]:
    """The items before and after ``node`` in its (flow) sequence."""
    for seq, item in _items(tree.root):
        if item is node:
            index = next(i for i, other in enumerate(seq.value) if other is node)
            before = seq.value[index - 1] if index > 0 else None
            after = seq.value[index + 1] if index + 1 < len(seq.value) else None
            return before, after
    raise EditRefused("cannot find the list that holds the object")


def entry(node: Node, name: str) -> tuple[Node, Node] | None:
    """The (key, value) nodes of ``name`` in a mapping node."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == name:
                return key, value
    return None


def has_merge(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "<<" for k, _ in node.value
    )


def written_with(text: YamlText, tree: Tree, node: Node) -> str | None:
    """Why a node's text cannot simply be replaced, or None."""
    first = text.text[text.start(tree, node) : text.start(tree, node) + 1]
    if getattr(node, "anchor", None) or first == "&":
        return "written with a YAML anchor (other places may use it); left as is"
    if first == "*":
        return "written as a YAML alias; left as is"
    if first == "!":
        return "written with a YAML tag; left as is"
    for scalar in _scalars(node):
        if "${" in str(scalar.value):
            return "written as a ${...} substitution; left as is"
    return None


def _scalars(node: Node) -> Iterator[ScalarNode]:
    if isinstance(node, ScalarNode):
        yield node
        return
    for child in _children(node):
        yield from _scalars(child)
