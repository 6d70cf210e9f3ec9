"""The YAML konvsync writes (export's files, what ``drift --write`` puts into
the configuration): libyaml's emitter (``yaml.CSafeDumper``; the pure Python
one where libyaml is missing) in block style, one field a line, so it diffs
cleanly; strings that are not printable double-quoted; strings holding a
character that looks like another or like nothing (``support.lookalikes``: a
zero-width or no-break space, a bidirectional mark, a Cyrillic letter in a
Latin word) double-quoted with that character escaped (``\u200b``), so that
a reader sees it; every ``${`` in portal text written as ``$${`` except
export's own placeholders. Its quoting follows the YAML 1.1 resolver
konvsync's loader uses, so what it writes reads back as the value given."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import yaml

from konvsync.config.substitution import escape
from konvsync.support.lookalikes import escaped, lookalikes


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


_MARK, _END = "\ue000", "\ue001"
"""Around the code point of a look-alike character in the emitter's input:
it writes private-use characters as they are, and ``dump`` turns each mark
into an escape (every private-use character of the data is itself marked)."""
_MARKED = re.compile(f"{_MARK}([0-9a-f]{{8}}){_END}")
_EMITTER_ESCAPES = frozenset({"Cc", "Zl", "Zp"})
"""Characters the emitter escapes itself in a double-quoted string."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Strings with characters that are not printable (controls, NEL, line
    separators) double-quoted, where YAML escapes them: PyYAML's other styles
    can let a NEL fold into a space when the file is read back. Strings with
    a look-alike character double-quoted too, that character marked to be
    escaped."""
    found = lookalikes(value)
    style = None if value.isprintable() and not found else '"'
    for item in reversed(found):
        if item.char != " " and unicodedata.category(item.char) not in _EMITTER_ESCAPES:
            mark = f"{_MARK}{ord(item.char):08x}{_END}"
            value = value[: item.index] + mark + value[item.index + 1 :]
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
    if _MARK not in text:
        return text
    return _MARKED.sub(lambda found: escaped(chr(int(found.group(1), 16))), text)


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
