"""One field of one object set to the portal's value, as the smallest text
edit: a scalar keeps its quoting; a set-like list loses the items the portal
dropped and gains the new ones after its last (the others keep their order,
spelling and comments, in flow style too); a map or an address changes only
the values that differ, in place (one that gains or loses keys in flow style
is written again, in the order it had)."""

from __future__ import annotations

import re
from typing import Any

from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

from konvsync.config.yaml_dump import flow
from konvsync.drift.yamltext import SUBSTITUTION as _SUBSTITUTION
from konvsync.drift.yamltext import EditRefused, Tree, YamlText, has_reference, walk
from konvsync.kinds.base import Field, normalize_value


def patch_field(
    text: YamlText,
    tree: Tree,
    key_node: Node,
    value_node: Node,
    f: Field,
    old: Any,
    new: Any,
) -> None:
    """Edit ``value_node`` (the YAML's ``old`` value, as loaded) to say ``new``
    (the portal's value, normalized)."""
    patcher = _Patcher(text, tree, key_node, value_node)
    if f.shape == "set" and isinstance(value_node, SequenceNode) and isinstance(old, list):
        patcher.patch_set(f, old, new or [])
    elif f.shape == "map" and isinstance(value_node, MappingNode) and isinstance(old, dict):
        patcher.patch_mapping(old, new or {}, lambda value: normalize_value(f, {"v": value}))
    elif f.shape == "object" and isinstance(value_node, MappingNode) and isinstance(new, dict):
        patcher.patch_mapping(
            old or {}, new, lambda value: {"v": value} if value is not None else {}
        )
    elif isinstance(value_node, ScalarNode) and f.shape == "scalar":
        patcher.set_scalar(value_node, new)
    else:
        if _substituted(value_node):
            raise EditRefused(_SUBSTITUTION)
        patcher.replace_value(flow(new))


_BLOCK_HEADER = re.compile(r"[|>][-+0-9]*")
"""A block scalar's indicator, with its chomping and indentation."""


class _Patcher:
    def __init__(self, text: YamlText, tree: Tree, key_node: Node, value_node: Node) -> None:
        self.text = text
        self.tree = tree
        self.key_node = key_node
        self.value_node = value_node

    def start(self, node: Node) -> int:
        return self.text.start(self.tree, node)

    def end(self, node: Node) -> int:
        return self.text.end(self.tree, node)

    def set_scalar(self, node: ScalarNode, new: Any, key: Node | None = None) -> None:
        """``key``: the key ``node`` is the value of (a map's entry), when
        not the field's own."""
        if has_reference(str(node.value)):
            raise EditRefused(_SUBSTITUTION)
        if node.value == "" and not node.style:  # `key:` with nothing after it (libyaml: style "")
            key = key or self.key_node
            if self.start(node) == self.end(key):  # `{tier: gold, region}`: no ':' either
                self.text.replace(self.end(key), self.end(key), ": " + flow(new))
                return
            colon = self._colon(key)
            self.text.replace(colon + 1, colon + 1, " " + flow(new))
            return
        style = node.style if node.style in ("'", '"') else None
        comment = ""
        if node.style in ("|", ">"):  # a comment after the indicator stays
            header = _BLOCK_HEADER.match(self.text.text, self.start(node))
            comment = self.text.comment_after(header.end() if header else self.start(node))[1]
            body = self._block_body(node, new, header[0] if header else "", key)
            if header is not None and body is not None:
                self.text.replace(self.start(node), self.end(node), header[0] + comment + body)
                return
        self.text.replace(self.start(node), self.end(node), flow(new, style) + comment)

    def _block_body(self, node: ScalarNode, new: Any, header: str, key: Node | None) -> str | None:
        """``new`` as the lines of block scalar ``node`` (after its indicator
        line ``header``), at the indentation of its old lines (with an
        indentation indicator, that many columns after the mapping's keys:
        ``key``'s, else the field's); None where a block of its style cannot
        hold it as it is: a folded one (``>``) joins lines, and neither holds
        a control character or a first line starting with a space (it would
        read as more indentation)."""
        if not isinstance(new, str) or (node.style == ">" and "\n" in new):
            return None
        lines = new.split("\n")
        if lines[0][:1] in (" ", "\t") or not all(
            char == "\t" or char.isprintable() for line in lines for char in line
        ):
            return None
        text = self.text
        indicator = re.search("[1-9]", header)
        if indicator:
            indent = text.column_of(self.start(key or self.key_node)) + int(indicator[0])
        else:
            first = text.line_of(self.start(node)) + 1
            old = (text.line(number) for number in range(first, text.line_of(self.end(node)) + 1))
            indent = next((len(line) - len(line.lstrip(" ")) for line in old if line.strip()), 0)
        if indent == 0:
            return None
        return "".join(text.newline + (" " * indent + line if line else "") for line in lines)

    def replace_value(self, rendered: str) -> None:
        """The whole value, from just after ``key:`` to its end (a value in
        flow style, from its first character)."""
        node = self.value_node
        if isinstance(node, CollectionNode) and node.flow_style:
            self.text.replace(self.start(node), self.end(node), rendered.lstrip())
            return
        colon = self._colon()
        end, comment = max(self.end(node), colon + 1), ""
        if isinstance(node, CollectionNode):  # in block style: the key's comment stays
            end, comment = self.text.block_value(colon, end)
        self.text.replace(colon + 1, end, " " + rendered + comment)

    def _colon(self, key: Node | None = None) -> int:
        at = self.text.text.find(":", self.end(key or self.key_node))
        if at < 0:
            raise EditRefused("cannot find the ':' after the key")
        return at

    # -------------------------------------------------------------- sets

    def patch_set(self, f: Field, old: list[Any], new: list[Any]) -> None:
        node = self.value_node
        assert isinstance(node, SequenceNode)
        items: list[Node] = list(node.value)
        if len(items) != len(old):
            raise EditRefused("its list is not written item by item; left as is")

        def norm(value: Any) -> str:
            return str(value).lower() if f.lowercase else str(value)

        wanted = {norm(v) for v in new}
        kept = [i for i, value in enumerate(old) if norm(value) in wanted]
        dropped = [i for i in range(len(old)) if i not in kept]
        present = {norm(v) for v in old}
        added = [v for v in new if norm(v) not in present]
        for i in dropped:
            if _substituted(items[i]):
                raise EditRefused(_SUBSTITUTION)
        if not dropped and not added:
            return
        if not kept:
            self.replace_value("[" + ", ".join(flow(v) for v in added) + "]")
            return
        if node.flow_style:  # in place: the layout and comments inside stay
            gone = {self.start(items[i]) for i in dropped}
            for i in dropped:
                self.text.remove_flow_item(self.tree, items, i, gone)
            if added:
                end = self.end(items[kept[-1]])
                self.text.replace(end, end, "".join(", " + flow(v) for v in added))
            return
        for i in dropped:
            line_of = self.text.line_of
            self.text.delete_lines(line_of(self.start(items[i])), line_of(self.end(items[i])))
        last = items[kept[-1]]
        start = self.start(last)
        dash = self.text.dash_column(self.text.line_of(start), self.text.column_of(start))
        pad = " " * (dash or 0)
        lines = [f"{pad}- {flow(v)}" for v in added]
        self.text.insert_lines_after(self.text.line_of(self.end(last)), lines)

    # ---------------------------------------------------------- mappings

    def patch_mapping(self, old: dict[Any, Any], new: dict[str, Any], norm: Any) -> None:
        """``norm(value)`` is a one-entry dict ``{"v": normalized}`` (empty when
        the value counts as absent), so that map and object fields compare as
        the plan compares them."""
        node = self.value_node
        assert isinstance(node, MappingNode)
        pairs: list[tuple[Node, Node]] = list(node.value)
        old_norm = {str(k): norm(v).get("v") for k, v in old.items()}
        drop: list[tuple[Node, Node]] = []
        change: list[tuple[Node, Node, Any]] = []
        keep: list[tuple[Node, Node]] = []
        for key, value in pairs:
            name = str(key.value)
            if name not in new:
                # A null value already means "absent" to the plan.
                (keep if _is_null(value) else drop).append((key, value))
            elif old_norm.get(name) != new[name]:
                change.append((key, value, new[name]))
            else:
                keep.append((key, value))
        added = {k: v for k, v in new.items() if k not in {str(p[0].value) for p in pairs}}
        for _key, value in drop:
            if _substituted(value):
                raise EditRefused(_SUBSTITUTION)
        if not drop and not change and not added:
            return
        if (node.flow_style and (drop or added)) or (not keep and not change):
            if _substituted(node):  # written again, in flow style, in the order it had
                raise EditRefused(_SUBSTITUTION)
            had = [str(key.value) for key, _value in pairs if str(key.value) in new]
            self.replace_value(flow({name: new[name] for name in [*had, *added]}))
            return
        for key, value, target in change:
            if not isinstance(value, ScalarNode):
                raise EditRefused("a nested value is not a plain value; left as is")
            self.set_scalar(value, target, key)
        for key, value in drop:
            first = self.text.line_of(self.start(key))
            self.text.delete_lines(first, self.text.line_of(self.end(value)))
        if added:
            anchor_key, anchor_value = (keep or [(k, v) for k, v, _ in change])[-1]
            column = self.text.column_of(self.start(anchor_key))
            lines = [f"{' ' * column}{flow(str(k))}: {flow(v)}" for k, v in added.items()]
            self.text.insert_lines_after(self.text.line_of(self.end(anchor_value)), lines)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and not node.style and node.value in ("", "~", "null")


def _substituted(node: Node) -> bool:
    return any(isinstance(n, ScalarNode) and has_reference(n.value) for n in walk(node))
