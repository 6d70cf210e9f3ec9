"""The YAML konvsync writes (export's files, what ``drift --write`` puts into
the configuration): libyaml's emitter (``yaml.CSafeDumper``; the pure Python
one where libyaml is missing), in block style, one field a line, so it diffs
cleanly; strings that are not printable double-quoted with every such
character escaped (controls, bidirectional marks); every ``${`` in portal
text written as ``$${`` except export's own placeholders. Its quoting follows
the same YAML 1.1 resolver konvsync's loader uses, so what it writes reads
back as the value it was given."""

from __future__ import annotations

import re
from typing import Any

import yaml

from konvsync.config.substitution import escape


class EnvReference(str):
    """A ``${env:NAME}`` that export writes on purpose (a sensitive value's
    placeholder): the one string that is not escaped."""


_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_CHUNK = 1000
"""Entries represented at a time: PyYAML builds a node per value before it
emits, so a whole kind at once would hold a node graph of the portal."""


def dump_list(name: str, entries: list[dict[str, Any]]) -> str:
    """``dump({name: entries})``, built chunk by chunk (block sequences
    concatenate)."""
    if not entries:
        return dump({name: entries})
    parts = [f"{name}:\n"]
    parts += [dump(entries[i : i + _CHUNK]) for i in range(0, len(entries), _CHUNK)]
    return "".join(parts)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Strings with characters that are not printable (controls, NEL, line
    separators) double-quoted, where YAML escapes them: PyYAML's other styles
    can let a NEL fold into a space when the file is read back."""
    style = None if value.isprintable() else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _escaped(value: Any) -> Any:
    """``value`` with every ``${`` in its strings written as ``$${``."""
    if isinstance(value, EnvReference):
        return str(value)
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


_UNPRINTABLE = re.compile(r"[^\x20-\x7e\n]")
"""Characters that may be unprintable (checked one by one with ``str.isprintable``)."""


def _escape_unprintable(text: str) -> str:
    """libyaml writes bidirectional marks and other format characters as they
    are, even double-quoted: escape them there (only double-quoted strings
    hold them, see ``_represent_str``)."""
    return text if text.isascii() else _UNPRINTABLE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    if char.isprintable():
        return char
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def _emit(data: Any, in_flow: bool, style: str | None = None) -> str:
    text = yaml.dump(
        _escaped(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=in_flow,
        default_style=style,
        width=1 << 30 if in_flow else 120,
    )
    return _escape_unprintable(text)


def dump(data: Any) -> str:
    return _emit(data, in_flow=False)


def flow(value: Any, style: str | None = None) -> str:
    """``value`` on one line, in flow style (``[a, b]``, ``{city: X}``,
    ``'yes'``), fit for a block or a flow collection. ``style`` (``'`` or
    ``"``): the quotes to give a string, where it reads back right with them."""
    if isinstance(value, dict | list):
        return _emit(value, in_flow=True).removesuffix("\n")
    quotes = style if isinstance(value, str) else None
    return _emit([value], True, quotes).removesuffix("\n")[1:-1]  # as an item of a flow list


def item_lines(data: dict[str, Any], dash: int, gap: int = 2) -> list[str]:
    """``data`` as one item of a block sequence, as ``dump`` writes it: its
    ``-`` at column ``dash``, its keys ``gap`` columns further (``gap`` >= 2)."""
    first, *rest = dump([data]).splitlines()
    pad = " " * dash
    return [f"{pad}-{' ' * (gap - 1)}{first[2:]}", *(pad + " " * (gap - 2) + line for line in rest)]
