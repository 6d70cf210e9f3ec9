"""Characters that make a string look like another one, or hide part of it:
invisible and format characters (a zero-width space, a right-to-left
override), spaces other than the plain one (a no-break space), a space at
either end, controls, and letters of another script inside a Latin word (a
Cyrillic U+0430 for the "a" of "acme"). Two keys that differ only by one of them look the
same in a review and in the portal.

``validate`` warns about keys that hold one, or a compatibility character
(a fullwidth letter, a ligature: ``lookalikes(key, compatibility=True)``);
``export`` writes every string that holds one of the others double-quoted,
with the character as a YAML escape (``"acme\\u200b"``), so that it can be
seen.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
"""Controls, format characters (zero-width, bidirectional), private use,
surrogates, unassigned, line and paragraph separators."""
_LOOKALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"})
"""Scripts with letters drawn like Latin ones."""
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Lookalike:
    """One such character in a string."""

    index: int
    """Its position (0 is the first character)."""
    char: str

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        found = unicodedata.name(self.char, "")
        if found:
            return found
        return "a control character" if unicodedata.category(self.char) == "Cc" else "unnamed"

    def __str__(self) -> str:
        return f"{self.code_point} {self.name}"


def lookalikes(text: str, compatibility: bool = False) -> list[Lookalike]:
    """The characters of ``text`` that make it look like another string, in
    order. ``compatibility``: also those whose compatibility form (NFKC) is
    another character, drawn alike (a fullwidth ``s``, U+FF53; the ligature
    ``fi``, U+FB01; a one dot leader for a full stop): for keys, not for any text (a fullwidth
    company name is written so on purpose)."""
    if text.isascii() and text.isprintable() and text.strip(" ") == text:
        return []  # the common case, at C speed
    found: dict[int, str] = {}
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        hidden = category in _HIDDEN or (category == "Zs" and char != " ")
        if hidden or (compatibility and unicodedata.normalize("NFKC", char) != char):
            found[index] = char
    for index in (0, len(text) - 1):
        if text and text[index] == " ":
            found[index] = " "
    for word in _WORD.finditer(text):
        scripts = {_script(char) for char in word.group()}
        if "LATIN" in scripts and scripts & _LOOKALIKE_SCRIPTS:
            for offset, char in enumerate(word.group()):
                if _script(char) in _LOOKALIKE_SCRIPTS:
                    found[word.start() + offset] = char
    return [Lookalike(index, found[index]) for index in sorted(found)]


def _script(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


def escaped(char: str) -> str:
    """``char`` as an escape in a YAML (or JSON) double-quoted string."""
    point = ord(char)
    if point <= 0xFF:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"
