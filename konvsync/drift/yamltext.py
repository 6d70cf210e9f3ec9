"""Editing a YAML file's text in place, touching only the bytes that change.

The composer of konvsync's own YAML parser (libyaml, as the config loader
uses it) tells where every node stands and how it is written (quoting, flow
or block); so it reads every file the loader read, with the same line breaks
(``\\r\\n``, ``\\r``, ``\\n``, NEL, LS, PS), tabs and byte-order mark, and
places agree. Re-emitting a whole file would normalize what YAML does not
model (comments, indentation, spacing), so edits are spans of the original
text, replaced with new text (``config.yaml_dump`` writes the new values).

Only the item being edited is composed (its lines, found from the position
the config loader recorded), unless it holds an anchor or an alias: then the
whole file is, and a node that more than one place reaches through an
anchor (an alias, a ``<<`` merge) is never edited (``Tree.shared``)."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

from konvsync.config.model import Source

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What YAML 1.1 (and libyaml) counts as a line break."""
_NEWLINE = re.compile("\r\n|[\r\n]")
SHARED = "shared through an anchor, left as written"
SUBSTITUTION = "written as a ${...} substitution; left as written"


class EditRefused(Exception):
    """This part of the file cannot be edited safely; the reason says why."""


@dataclass
class Tree:
    """A composed part of the file, starting at character ``offset``."""

    root: Node
    offset: int
    whole: bool
    shared: set[int] = field(default_factory=set)
    """IDs of the nodes that more than one place reaches (an anchored node
    and everything in it, when an alias or a merge key uses it)."""
    anchored: set[int] = field(default_factory=set)
    """IDs of the nodes written with an anchor (``&name``)."""


class YamlText:
    """One file's text, the edits planned for it, and its composed parts."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.bom = 1 if text.startswith("\ufeff") else 0
        self.breaks = [(m.start(), m.end()) for m in _BREAK.finditer(text)]
        self.starts = [self.bom, *(end for _start, end in self.breaks)]
        if self.starts[-1] == len(text) and len(self.starts) > 1:
            self.starts.pop()  # no line after a final line break
        first = _NEWLINE.search(text)
        self.newline = first.group(0) if first else "\n"
        self.edits: list[tuple[int, int, int, str]] = []
        self._whole: Tree | None = None
        self._anchors: bool | None = None

    # ------------------------------------------------------------ positions

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line(self, number: int) -> str:
        """Line ``number`` (0-based) without its line break."""
        return self.text[self.starts[number] : self.line_end(number)]

    def line_end(self, number: int) -> int:
        """Index of the end of line ``number``'s content (before its break)."""
        return self.breaks[number][0] if number < len(self.breaks) else len(self.text)

    def index(self, line: int, column: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        return self.starts[line] + column

    def at(self, source: Source) -> int:
        """Index of a place the config loader recorded (1-based line and column)."""
        return self.index(source.line - 1, source.column - 1)

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.starts, index) - 1

    def column_of(self, index: int) -> int:
        return index - self.starts[self.line_of(index)]

    def start(self, tree: Tree, node: Node) -> int:
        return tree.offset + node.start_mark.index

    def end(self, tree: Tree, node: Node) -> int:
        """Where the node's own text ends (a block collection at its last
        value, a block scalar at its last character, not at the next token)."""
        if isinstance(node, ScalarNode):
            end = tree.offset + node.end_mark.index
            if node.style in ("|", ">"):
                start = self.start(tree, node)
                while end > start and self.text[end - 1] in " \t\r\n\x85\u2028\u2029":
                    end -= 1
            return end
        if isinstance(node, CollectionNode) and node.flow_style:
            return tree.offset + node.end_mark.index
        children = list(_children(node))
        if not children:
            return self.start(tree, node)
        return max(self.end(tree, child) for child in children)

    # ----------------------------------------------------------- composing

    def item(self, source: Source) -> tuple[Tree, Node, bool]:
        """The list item the config loader saw at ``source``: its tree, its
        node, and whether it is a block item (``- ...`` on lines of its own)."""
        line, column = source.line - 1, source.column - 1
        target = self.at(source)
        dash = self.dash_column(line, column)
        if dash is not None and not self.has_anchors:
            last = self.block_end(line, dash)
            snippet = self.text[self.starts[line] : self.line_end(last)] + "\n"
            try:
                root = yaml.compose(snippet, Loader=_Loader)
            except yaml.YAMLError:  # not readable alone: the whole file is
                root = None
            if isinstance(root, SequenceNode) and root.value:
                tree = Tree(root, self.starts[line], whole=False)
                node = root.value[0]
                if self.start(tree, node) == target:
                    return tree, node, True
        tree = self.whole()
        for seq, node in _items(tree.root):
            if self.start(tree, node) == target:
                return tree, node, not seq.flow_style and dash is not None
        raise EditRefused(f"cannot find the object at {source} in the file")

    @property
    def has_anchors(self) -> bool:
        """Whether the file holds an anchor (then items are composed with the
        whole file, which tells what the anchors share)."""
        if self._anchors is None:
            self._anchors = "&" in self.text and bool(_anchored_starts(self.text))
        return self._anchors

    def whole(self) -> Tree:
        if self._whole is None:
            try:
                root = yaml.compose(self.text, Loader=_Loader)
                anchored = _anchored_starts(self.text)
            except yaml.YAMLError as exc:
                raise EditRefused(f"cannot read {self.path} as YAML: {exc}") from None
            if root is None:
                raise EditRefused(f"{self.path} is empty")
            tree = Tree(root, self.bom, whole=True)
            tree.shared = _shared(root)
            tree.anchored = {id(node) for node in _walk(root) if node.start_mark.index in anchored}
            self._whole = tree
        return self._whole

    def pair_at(self, tree: Tree, key: Source, value: Source) -> tuple[Node, Node] | None:
        """The (key, value) nodes of the mapping entry the loader saw at
        ``key`` or ``value`` (a merged overlay records a value's place only)."""
        by_value = self.at(key) == self.at(value)
        target = self.at(value if by_value else key)
        for node in _walk(tree.root):
            if isinstance(node, MappingNode):
                for key_node, value_node in node.value:
                    if self.start(tree, value_node if by_value else key_node) == target:
                        return key_node, value_node
        return None

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
            stripped = text.strip(" \t")
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
        if end == len(self.text) and self.line_end(last) == end and first > 0:
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
        parts: list[str] = []
        done = len(self.text)
        for start, end, _seq, replacement in reversed(ordered):
            parts += [self.text[end:done], replacement]
            done = start
        parts.append(self.text[:done])
        return "".join(reversed(parts))


# ----------------------------------------------------------------- nodes


def _anchored_starts(text: str) -> set[int]:
    """Start indexes (the composer's) of the nodes written with an anchor."""
    try:
        return {
            event.start_mark.index
            for event in yaml.parse(text, Loader=_Loader)
            if getattr(event, "anchor", None)
            and not isinstance(event, yaml.AliasEvent)
            and event.start_mark is not None
        }
    except yaml.YAMLError as exc:
        raise EditRefused(f"cannot read the file as YAML: {exc}") from None


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def _walk(root: Node) -> Iterator[Node]:
    """Every node below ``root`` once (an aliased node is one node)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        pending.extend(_children(node))


def _items(root: Node) -> Iterator[tuple[SequenceNode, Node]]:
    """Every (sequence, item) pair below ``root``."""
    for node in _walk(root):
        if isinstance(node, SequenceNode):
            for item in node.value:
                yield node, item


def _shared(root: Node) -> set[int]:
    """The nodes reached from more than one place, and everything in them."""
    reached: dict[int, int] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        reached[id(node)] = reached.get(id(node), 0) + 1
        if reached[id(node)] == 1:
            pending.extend(_children(node))
    shared: set[int] = set()
    for node in _walk(root):
        if reached[id(node)] > 1:
            shared.update(id(inner) for inner in _walk(node))
    return shared


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
            if isinstance(key, ScalarNode) and key.value == name and key.tag != _MERGE:
                return key, value
    return None


_MERGE = "tag:yaml.org,2002:merge"


def has_merge(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(key.tag == _MERGE for key, _ in node.value)


def written_with(text: YamlText, tree: Tree, node: Node) -> str | None:
    """Why a node's text cannot simply be replaced, or None: it or something
    in it is shared through an anchor, carries an anchor or a tag, or it is a
    ``${...}`` substitution (in a list or a mapping, substitutions matter
    only for the values that change, which ``patch`` checks)."""
    inner = list(_walk(node))
    if any(id(n) in tree.shared for n in inner):
        return SHARED
    if any(id(n) in tree.anchored for n in inner):
        return "written with a YAML anchor; left as written"
    if any(text.text[text.start(tree, n) : text.start(tree, n) + 1] == "!" for n in inner):
        return "written with a YAML tag; left as written"
    if isinstance(node, ScalarNode) and "${" in node.value:
        return SUBSTITUTION
    return None


def holds_anchor(text: YamlText, tree: Tree, node: Node) -> bool:
    """Whether ``node`` holds an anchor that other places use (an alias to
    an anchor elsewhere is the node's own business)."""
    start, end = text.start(tree, node), text.end(tree, node)
    return any(id(n) in tree.shared and start <= text.start(tree, n) < end for n in _walk(node))
