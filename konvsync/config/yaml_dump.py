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
    """``dump({name: entries})``, entry by entry (block sequences
    concatenate): an entry ``written_plainly`` as libyaml would write it,
    the others by libyaml, ``_CHUNK`` at a time."""
    if not entries:
        return dump({name: entries})
    parts = [f"{name}:\n"]
    pending: list[dict[str, Any]] = []
    known = Known()
    for entry in entries:
        text = written_plainly(entry, known)
        if text is None:
            pending.append(entry)
            if len(pending) < _CHUNK:
                continue
        if pending:
            parts.append(dump(pending))
            pending = []
        if text is not None:
            parts.append(text)
    if pending:
        parts.append(dump(pending))
    return "".join(parts)


_MARK, _END = "\ue000", "\ue001"
"""Around the code point of a look-alike character in the emitter's input:
it writes private-use characters as they are, and ``dump`` turns each mark
into an escape (every private-use character of the data is itself marked)."""
_MARKED = re.compile(f"{_MARK}(r?)([0-9a-f]{{8}}){_END}")
"""A marked character: escaped, or written as it is after ``r`` (``_RAW``)."""
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
    if not value.isascii() and _RAW.search(value):
        value = _RAW.sub(_raw_mark, value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RAW = re.compile("[\U00010000-\U0010ffff]")
"""Characters beyond the Basic Multilingual Plane (emoji, historic scripts):
libyaml escapes every one (``"Launch \\U0001F680"``), printable or not."""


def _raw_mark(found: re.Match[str]) -> str:
    """A printable one marked to be written as it is (``Launch 🚀``); the
    others (tags, private use) stay escaped."""
    char = found.group()
    return f"{_MARK}r{ord(char):08x}{_END}" if char.isprintable() else char


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


_WIDTH = 120
"""The emitter's line width (``dump``): it may break a plain scalar at a
space past it."""


def _emit(data: Any, in_flow: bool, style: str | None = None) -> str:
    text = yaml.dump(
        _escaped(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=in_flow,
        default_style=style,
        width=1 << 30 if in_flow else _WIDTH,
    )
    if _MARK not in text:
        return text
    return _MARKED.sub(_unmarked, text)


def _unmarked(found: re.Match[str]) -> str:
    char = chr(int(found.group(2), 16))
    return char if found.group(1) else escaped(char)


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


_PLAIN_ASCII = re.compile(r"[A-Za-z0-9_$(/.+][ -~]*")
"""Printable ASCII not starting with an indicator (``-?:,[]{}#&*!|>'"%@```)
or a space."""
_IMPLICIT = _Dumper.yaml_implicit_resolvers
"""First character -> the implicit tags (bool, int, null...) a plain scalar
so starting may take."""


class Known:
    """How strings that repeat (every key, most values) are written plain:
    a string -> its text, or None where it is not written plain. Keys are
    written as they are, values with ``${`` escaped (as ``dump`` does)."""

    def __init__(self) -> None:
        self.keys: dict[str, str | None] = {}
        self.values: dict[str, str | None] = {}

    def key(self, key: Any) -> str | None:
        if type(key) is not str:
            return _scalar(key, self)
        if key not in self.keys:
            # libyaml writes a key of over 128 bytes as "? key"
            self.keys[key] = key if len(key.encode()) <= 128 and plain(key) else None
        return self.keys[key]

    def value(self, value: str) -> str | None:
        if value not in self.values:
            if len(self.values) >= _KNOWN_VALUES:
                self.values.clear()  # most values (e-mails, names) never repeat
            text = escape(value)
            self.values[value] = text if plain(text) else None
        return self.values[value]


_KNOWN_VALUES = 10_000
"""Values remembered at a time: an export of 100,000 users holds no index
of all their strings."""


def written_plainly(entry: dict[str, Any], known: Known | None = None) -> str | None:
    """``dump([entry])``, written here without libyaml when every string in
    ``entry`` is one libyaml writes plain (``plain``) and every line fits
    the width; None otherwise. PyYAML's representer builds a node per value
    before libyaml emits them: 0.25 s of an export's 1 s of CPU at 10,000
    users, against 0.05 s here. (Tested to write what libyaml writes.)"""
    lines: list[str] = []
    if not _mapping(entry, "- ", 2, lines, known or Known()):
        return None
    return "\n".join(lines) + "\n"


def _mapping(data: dict[str, Any], first: str, indent: int, lines: list[str], known: Known) -> bool:
    """``data`` as a block mapping: its first key after ``first`` (on the
    current line), the others on lines of their own at ``indent``."""
    if not data:
        return False
    prefix = first
    pad = " " * indent
    for key, value in data.items():
        key_text = known.key(key)
        if key_text is None:
            return False
        if isinstance(value, dict):
            lines.append(f"{prefix}{key_text}:")
            if not _mapping(value, pad + "  ", indent + 2, lines, known):
                return False
        elif isinstance(value, list):
            lines.append(f"{prefix}{key_text}:")
            if not value:
                return False
            for item in value:  # an indentless sequence, at the key's indent
                if isinstance(item, dict):
                    if not _mapping(item, pad + "- ", indent + 2, lines, known):
                        return False
                    continue
                text = _scalar(item, known)
                if text is None:  # a list in a list too: _scalar takes none
                    return False
                lines.append(f"{pad}- {text}")
                if len(lines[-1]) > _WIDTH:  # every item's line, not only the last
                    return False
        else:
            text = _scalar(value, known)
            if text is None:
                return False
            lines.append(f"{prefix}{key_text}: {text}")
        if len(lines[-1]) > _WIDTH:
            return False
        prefix = pad
    return True


def _scalar(value: Any, known: Known) -> str | None:
    if type(value) is str:
        return known.value(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if isinstance(value, EnvReference):
        return str(value) if plain(str(value)) else None
    return None  # floats, other types: libyaml's


def plain(text: str) -> bool:
    """Whether libyaml writes ``text`` as a plain scalar of a block mapping
    or sequence, as it is: printable (no look-alike character, which is
    escaped), no indicator where YAML gives it a meaning (a first ``-``,
    ``: ``, `` #``, a last ``:``), no space at either end, and no implicit
    tag (``yes``, ``12``, ``null`` are quoted). Some strings libyaml also
    writes plain are not recognized here: they go to libyaml."""
    if _PLAIN_ASCII.fullmatch(text) is None and not _plain_unicode(text):
        return False
    if text[-1] in " :" or ": " in text or " #" in text or text.startswith("..."):
        return False
    return not any(regexp.match(text) for _tag, regexp in _IMPLICIT.get(text[0], ()))


def _plain_unicode(text: str) -> bool:
    """``text`` has characters beyond ASCII, all printable to Python and to
    libyaml (in the Basic Multilingual Plane: the others, emoji, go to
    libyaml, and ``dump`` writes them as they are),
    no look-alike, and does not start with an indicator or a space."""
    if text.isascii() or not text.isprintable() or max(text) > "\ufffd":
        return False
    if text[0].isascii() and _PLAIN_ASCII.fullmatch(text[0]) is None:
        return False
    return not lookalikes(text)
