"""Editing a YAML file's text in place, touching only the bytes that change.

The composer of konvsync's own YAML parser (libyaml, as the config loader
uses it) tells where every node stands and how it is written; it reads the
file as the loader did (line breaks ``\\r\\n``, ``\\r``, ``\\n``, NEL, LS,
PS; tabs; a byte-order mark), so places agree. Edits are spans of the
original text replaced with new text (``config.yaml_dump`` writes the new
values): re-emitting the file would lose what YAML does not model.

Only the item being edited is composed (its lines, from the place the
loader recorded: a whole 10,000-user file composes in 0.4 s into 50 MB of
nodes), unless the file holds an ``&``: then the whole file is, and a node
that more than one place reaches (an alias, a ``<<`` merge) is never edited."""

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
_MERGE = "tag:yaml.org,2002:merge"
_COMMENT_ONLY = re.compile(r"[ \t]*(#.*)?")
_ALONE = re.compile(r"[ \t]*,?[ \t]*(#.*)?")
"""What may follow a flow item on its last line for the lines to be its own."""
_DOCUMENT_END = re.compile(r"\.\.\.([ \t]+#.*|[ \t]*)")
"""A line that ends the document (``...``), which nothing but comments may follow."""
SHARED = "shared through an anchor, left as written"
SUBSTITUTION = "written as a ${...} substitution; left as written"


class EditRefused(Exception):
    """This part of the file cannot be edited safely; the reason says why."""


@dataclass
class Tree:
    """A composed part of the file, starting at character ``offset``."""

    root: Node
    offset: int
    shared: set[int] = field(default_factory=set)
    """IDs of the nodes more than one place reaches, and of all inside them."""


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
        first = re.search("\r\n|[\r\n]", text)
        self.newline = first.group(0) if first else "\n"
        self.has_ampersand = "&" in text
        """Whether an anchor could be in the file (then items are composed
        with the whole file, which tells what the anchors share)."""
        self.edits: list[tuple[int, int, int, str]] = []
        self._whole: Tree | None = None

    # ------------------------------------------------------------ positions

    def line(self, number: int) -> str:
        """Line ``number`` (0-based) without its line break."""
        return self.text[self.starts[number] : self.line_end(number)]

    def line_end(self, number: int) -> int:
        """Index of the end of line ``number``'s content (before its break)."""
        return self.breaks[number][0] if number < len(self.breaks) else len(self.text)

    def at(self, source: Source) -> int:
        """Index of a place the config loader recorded (1-based line and column)."""
        line = source.line - 1
        return self.starts[line] + source.column - 1 if line < len(self.starts) else -1

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
            # A block scalar's mark is past the line break the composer was
            # given after a file's last line (an item is composed with one).
            end = min(tree.offset + node.end_mark.index, len(self.text))
            if node.style in ("|", ">"):
                while end > self.start(tree, node) and self.text[end - 1].isspace():
                    end -= 1
            return end
        if isinstance(node, CollectionNode) and node.flow_style:
            return tree.offset + node.end_mark.index
        ends = (self.end(tree, child) for child in _children(node))
        return max(ends, default=self.start(tree, node))

    # ----------------------------------------------------------- composing

    def item(self, source: Source) -> tuple[Tree, Node, bool]:
        """The list item the config loader saw at ``source``: its tree, its
        node, and whether it is a block item (``- ...`` on lines of its own)."""
        line, target = source.line - 1, self.at(source)
        dash = self.dash_column(line, source.column - 1)
        if dash is not None and not self.has_ampersand:
            snippet = self.text[self.starts[line] : self.line_end(self.block_end(line, dash))]
            try:
                root = yaml.compose(snippet + "\n", Loader=_Loader)
            except yaml.YAMLError:  # not readable alone: the whole file is
                root = None
            if isinstance(root, SequenceNode) and root.value:
                tree = Tree(root, self.starts[line])
                if self.start(tree, root.value[0]) == target:
                    return tree, root.value[0], True
        tree = self.whole()
        for seq, node in _items(tree.root):
            if self.start(tree, node) == target:
                return tree, node, not seq.flow_style and dash is not None
        raise EditRefused(f"cannot find the object at {source} in the file")

    def whole(self) -> Tree:
        if self._whole is None:
            try:
                root = yaml.compose(self.text, Loader=_Loader)
            except yaml.YAMLError as exc:
                raise EditRefused(f"cannot read {self.path} as YAML: {exc}") from None
            if root is None:
                raise EditRefused(f"{self.path} is empty")
            self._whole = Tree(root, self.bom, _shared(root))
        return self._whole

    def pair_at(self, tree: Tree, key: Source, value: Source) -> tuple[Node, Node] | None:
        """The (key, value) nodes of the mapping entry the loader saw at
        ``key`` (a merged overlay records the value's place for both)."""
        by_value = self.at(key) == self.at(value)
        target = self.at(value if by_value else key)
        for node in walk(tree.root):
            for key_node, value_node in node.value if isinstance(node, MappingNode) else ():
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
        for number in range(line + 1, len(self.starts)):
            text = self.line(number)
            if not text.strip(" \t") or text.strip(" \t").startswith("#"):
                continue
            if len(text) - len(text.lstrip(" ")) <= dash:
                break
            last = number
        return last

    def block_value(self, colon: int, end: int) -> tuple[int, str]:
        """A block collection written from just after its key's ``:`` (at
        ``colon``) to ``end``, as a value to be written again on the key's
        line: where its text ends (with the rest of its last line when that
        holds only a comment: its last item's), and the comment on the key's
        line with the spaces before it, which stays (it is the key's)."""
        key_line = self.line_of(colon)
        if self.line_of(end) == key_line:
            return end, ""
        rest = self.text[colon + 1 : self.line_end(key_line)]
        comment = rest.rstrip(" \t") if rest.lstrip(" \t").startswith("#") else ""
        return self.comment_after(end)[0], comment

    def comment_after(self, end: int) -> tuple[int, str]:
        """Where the line of ``end`` ends and the comment (with the spaces
        before it) that follows ``end`` there, when nothing else does; else
        ``end`` and no comment."""
        line_end = self.line_end(self.line_of(end))
        rest = self.text[end:line_end]
        if not _COMMENT_ONLY.fullmatch(rest):
            return end, ""
        return line_end, rest.rstrip(" \t") if "#" in rest else ""

    def remove_flow_item(self, tree: Tree, items: list[Node], index: int, gone: set[int]) -> None:
        """Take item ``index`` out of the flow sequence whose items are
        ``items``; ``gone``: where the items of it that go too start. An item
        on lines of its own goes with them (its comment too); another up to
        the next item (the comma between them), or, the last, from the last
        item kept (the removed ones between take themselves out up to it:
        the deletions overlap and join)."""
        node = items[index]
        first, last = self.line_of(self.start(tree, node)), self.line_of(self.end(tree, node))
        start_column = self.column_of(self.start(tree, node))
        rest = self.line(last)[self.column_of(self.end(tree, node)) :]
        if not self.line(first)[:start_column].strip(" \t") and _ALONE.fullmatch(rest):
            self.delete_lines(first, last)
            return
        if index + 1 < len(items):
            self.replace(self.start(tree, node), self.start(tree, items[index + 1]), "")
            return
        kept = [item for item in items[:index] if self.start(tree, item) not in gone]
        start = self.end(tree, kept[-1]) if kept else self.start(tree, node)
        self.replace(start, self.end(tree, node), "")

    # --------------------------------------------------------------- edits

    def replace(self, start: int, end: int, text: str) -> None:
        self.edits.append((start, end, len(self.edits), text))

    def delete_lines(self, first: int, last: int) -> None:
        end = self.starts[last + 1] if last + 1 < len(self.starts) else len(self.text)
        start = self.starts[first]
        if end == len(self.text) and self.line_end(last) == end and first > 0:
            start = self.line_end(first - 1)  # the last line: take the break before it
        self.replace(start, end, "")

    def insert_lines_after(self, line: int, lines: list[str]) -> None:
        """New lines after ``line``'s line break (an edit of ``line`` itself
        never overlaps them)."""
        if line < len(self.breaks):
            at = self.breaks[line][1]
            self.replace(at, at, "".join(text + self.newline for text in lines))
        else:
            self.replace(len(self.text), len(self.text), "".join(self.newline + t for t in lines))

    def append(self, lines: list[str]) -> None:
        """Lines at the end of the file, or before its document end (``...``)
        where it has one: only comments may follow that."""
        for number in range(len(self.starts) - 1, -1, -1):
            line = self.line(number)
            if _DOCUMENT_END.fullmatch(line):
                at = self.starts[number]
                self.replace(at, at, "".join(text + self.newline for text in lines))
                return
            if line.strip(" \t") and not line.lstrip(" \t").startswith("#"):
                break
        lead = self.newline if self.text and not self.text.endswith(("\n", "\r")) else ""
        end = len(self.text)
        self.replace(end, end, lead + "".join(line + self.newline for line in lines))

    def result(self) -> str:
        """The text with every edit made (edits must not overlap, but
        deletions may: together they delete what either does)."""
        ordered: list[tuple[int, int, int, str]] = []
        for edit in sorted(self.edits):
            last = ordered[-1] if ordered else None
            if last and not last[3] and not edit[3] and edit[0] < last[1]:
                ordered[-1] = (last[0], max(last[1], edit[1]), last[2], "")
            else:
                ordered.append(edit)
        for before, after in itertools.pairwise(ordered):
            if after[0] < before[1]:
                raise EditRefused(f"overlapping edits in {self.path}")
        parts, done = [], len(self.text)
        for start, end, _seq, replacement in reversed(ordered):
            parts += [self.text[end:done], replacement]
            done = start
        return self.text[:done] + "".join(reversed(parts))


# ----------------------------------------------------------------- nodes


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def walk(root: Node) -> Iterator[Node]:
    """Every node below ``root`` once (an aliased node is one node)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            pending.extend(_children(node))


def _items(root: Node) -> Iterator[tuple[SequenceNode, Node]]:
    """Every (sequence, item) pair below ``root``."""
    for node in walk(root):
        if isinstance(node, SequenceNode):
            yield from ((node, item) for item in node.value)


def _shared(root: Node) -> set[int]:
    """The nodes reached from more than one place, and everything in them."""
    reached: dict[int, int] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        reached[id(node)] = reached.get(id(node), 0) + 1
        if reached[id(node)] == 1:
            pending.extend(_children(node))
    return {id(n) for node in walk(root) if reached[id(node)] > 1 for n in walk(node)}


def flow_items(tree: Tree, node: Node) -> list[Node]:
    """The items of the (flow) sequence that holds ``node``."""
    for seq, item in _items(tree.root):
        if item is node:
            return list(seq.value)
    raise EditRefused("cannot find the list that holds the object")


def entry(node: Node, name: str) -> tuple[Node, Node] | None:
    """The (key, value) nodes of ``name`` in a mapping node."""
    for key, value in node.value if isinstance(node, MappingNode) else ():
        if isinstance(key, ScalarNode) and key.value == name and key.tag != _MERGE:
            return key, value
    return None


def has_merge(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(key.tag == _MERGE for key, _ in node.value)


def written_with(text: YamlText, tree: Tree, node: Node) -> str | None:
    """Why a node's text cannot simply be replaced, or None: it or something
    in it is shared through an anchor, carries an anchor or a tag, or it is a
    ``${...}`` substitution (in a list or a mapping, substitutions matter
    only for the values that change, which ``patch`` checks)."""
    inner = list(walk(node))
    if any(id(n) in tree.shared for n in inner):
        return SHARED
    marks = {text.text[text.start(tree, n) : text.start(tree, n) + 1] for n in inner}
    if "&" in marks:
        return "written with a YAML anchor; left as written"
    if "!" in marks:
        return "written with a YAML tag; left as written"
    if isinstance(node, ScalarNode) and has_reference(node.value):
        return SUBSTITUTION
    return None


def has_reference(written: str) -> bool:
    """Whether a value as written holds a ``${``, other than a literal one
    written ``$${`` (read leftmost first, as substitution reads it)."""
    return "${" in written.replace("$${", "")


def holds_anchor(text: YamlText, tree: Tree, node: Node) -> bool:
    """Whether ``node`` holds an anchor that other places use (an alias to
    an anchor elsewhere is the node's own business)."""
    start, end = text.start(tree, node), text.end(tree, node)
    return any(id(n) in tree.shared and start <= text.start(tree, n) < end for n in walk(node))
