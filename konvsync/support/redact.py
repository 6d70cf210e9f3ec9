"""Secrets and tokens never reach output: every registered value is replaced
by ``***`` in log records and in error text the CLI prints. Text from
elsewhere (a token endpoint's error, keys and values from the portal) is made
safe to show: credentials and their encodings scrubbed, control characters
escaped.

A value is registered whatever its length, with the forms it takes inside
JSON text (quotes and backslashes escaped, non-ASCII as ``\\uXXXX``). One of
4 characters or more is masked wherever it appears. A shorter one (an
invite code ``q7``) is masked only where it stands whole between quotes
(``"q7"``, ``'q7'``, `` `q7` ``, curly quotes: a JSON string value, a quoted value
in an error message) or is the whole text: masking every ``q7`` inside
other words would garble all output, and a value that short guards little
anyway. A portal's error text (``redact_echo``) is its echo of what it was
sent: there a short value is masked as a word too (``code q7 is taken``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import unicodedata
from urllib.parse import quote, quote_plus

from konvsync.support.lookalikes import escaped

MASK = "***"
MASKED_ANYWHERE = 4
"""Registered values at least this long are masked wherever they appear."""

_secrets: set[str] = set()
_short: set[str] = set()
_short_pattern: re.Pattern[str] | None = None
_short_words_pattern: re.Pattern[str] | None = None
_echo_pattern: re.Pattern[str] | None = None
"""The registered values of ``MASKED_ANYWHERE`` characters or more, in any
case (``redact_echo``)."""
_lock = threading.Lock()

_INVISIBLE = (
    "\x7f-\x9f\xad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u2028\u2029\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f"
)
_FLAG_TAG_SEQUENCE = (
    "(\U0001f3f4[\U000e0061-\U000e007a]{2}[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,4}"
    "\U000e007f)"
)
"""A subdivision flag (a waving black flag, the tag letters of a region and
a subdivision code, a cancel tag: the flag of Scotland, ``gbsct``), which
stays as it is; tag characters anywhere else, or more of them than a
subdivision code has, are invisible text (``sales`` followed by tag letters
shows as ``sales``)."""
_CONTROL = re.compile(f"{_FLAG_TAG_SEQUENCE}|[\x00-\x1f{_INVISIBLE}]")
"""C0 and C1 controls, DEL, and the bidirectional and line-separator
characters that can make a terminal or a review page show other text (the
Arabic letter mark among them); the invisible ones that have no use in one
line of text (a soft hyphen, a zero-width space, a word joiner, the
invisible operators, the Mongolian vowel separator, the deprecated format
and the interlinear annotation characters, a BOM, the tag characters
outside an emoji flag: ``groups/sales\u200b`` would show as
``groups/sales``; the joiners of emoji and scripts stay); and lone
surrogates, which are not text at all (no encoder writes them)."""
_CONTROL_BEYOND_C0 = re.compile(f"{_FLAG_TAG_SEQUENCE}|[{_INVISIBLE}]")
"""The same, less C0: ``json`` escapes those in strings (and indents with newlines)."""
_C0_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LOWER_HEX = re.compile("%[0-9A-F]{2}")
"""A percent escape, to write in lowercase hex (``%c3%bc``) as some encoders do."""


def register(value: str | None) -> None:
    """Mask ``value`` (and its JSON-escaped forms) in everything redacted
    from now on; also as a portal may store and echo it, as the contract
    allows: trimmed, in Unicode form NFC, or both."""
    if not value:
        return
    stored = {value, value.strip(), value.strip(_UP_TO_SPACE)}
    stored |= {unicodedata.normalize("NFC", text) for text in stored}
    for text in stored:
        if text:
            _register(text)


_UP_TO_SPACE = "".join(map(chr, range(0x21)))
"""What a trim that knows only ASCII removes (Java's ``String.trim``):
U+0000 to the space."""


def _register(value: str) -> None:
    global _short_pattern, _short_words_pattern, _echo_pattern
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    with _lock:
        if len(value) >= MASKED_ANYWHERE:
            if not forms <= _secrets:
                _echo_pattern = None
            _secrets.update(forms)
        elif not forms <= _short:
            _short.update(forms)
            _short_pattern = _short_words_pattern = None


def redact(text: str) -> str:
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
        short = _short_values()
        whole = text.strip() in _short
    if whole:
        return MASK
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    if short is not None:
        text = short.sub(_mask_quoted, text)
    return text


def redact_echo(text: str) -> str:
    """Text a portal sent about what it was sent (an error message): masked
    as ``redact`` masks, every value also in any case (a portal that takes a
    code in any case may echo it as it stores it), and a short value also
    where it stands as a word (``code q7 is taken``): the portal's echo of
    its input, where masking a word that happens to equal a short code costs
    little."""
    text = redact(text)
    with _lock:
        words = _short_words()
        echoed = _echoed()
    if echoed is not None:
        text = echoed.sub(MASK, text)
    return words.sub(MASK, text) if words is not None else text


def _echoed() -> re.Pattern[str] | None:
    """The pattern of the long values in any case (called with the lock
    held): a portal that takes a code in any case may echo it as it stores
    it, lowercased (``zq-7hk2-...``) or upper-cased."""
    global _echo_pattern
    if _secrets and _echo_pattern is None:
        values = "|".join(re.escape(v) for v in sorted(_secrets, key=len, reverse=True))
        _echo_pattern = re.compile(values, re.IGNORECASE)
    return _echo_pattern


def _short_words() -> re.Pattern[str] | None:
    """The pattern of the short values as words (called with the lock held)."""
    global _short_words_pattern
    if _short and _short_words_pattern is None:
        values = _short_alternation()
        _short_words_pattern = re.compile(f"(?<!\\w)(?:{values})(?!\\w)", re.IGNORECASE)
    return _short_words_pattern


def _short_values() -> re.Pattern[str] | None:
    """The pattern of the short values between quotes (called with the lock held)."""
    global _short_pattern
    if _short and _short_pattern is None:
        values = _short_alternation()
        quoted = f"([\"'`])(?:{values})\\1"
        curly = f"\u201c(?:{values})\u201d|\u2018(?:{values})\u2019"  # curly quotes
        _short_pattern = re.compile(f"{quoted}|{curly}")
    return _short_pattern


def _short_alternation() -> str:
    """The short values as one alternation, the longest first (called with
    the lock held)."""
    return "|".join(re.escape(v) for v in sorted(_short, key=len, reverse=True))


def _mask_quoted(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[0] + MASK + text[-1]


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``,
    ``\\u202e``), for one line on a terminal or in a review."""
    if text.isprintable() or not _CONTROL.search(text):
        # ``isprintable`` is False for every character ``_CONTROL`` finds (a
        # test holds them to each other), and runs in a fraction of its
        # search: the text of a 10,000-user cold plan in 710 million
        # instructions instead of 826.
        return text
    return _CONTROL.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    char = match.group(0)
    if match.group(1):
        return char  # an emoji flag
    return _C0_NAMES.get(char) or escaped(char)


def printable_json(text: str) -> str:
    """JSON text with the control characters ``json`` leaves as they are
    (DEL, C1, bidirectional) written as ``\\uXXXX`` escapes: the same JSON
    value, safe on a terminal. (They only occur inside strings.)"""
    if not _CONTROL_BEYOND_C0.search(text):
        return text
    return _CONTROL_BEYOND_C0.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    """``\\uXXXX``, a surrogate pair beyond the BMP (JSON has no longer form)."""
    char = match.group(0)
    if match.group(1):
        return char  # an emoji flag
    point = ord(char)
    if point <= 0xFFFF:
        return f"\\u{point:04x}"
    point -= 0x10000
    return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"


def shown_url(text: str) -> str:
    """``text``, a URL or what was meant as one, as it may be shown: without
    what lies between its scheme and its last ``@`` (a user and password,
    however written: a ``/``, ``?`` or ``#`` in a password ends the host part
    where a parser reads it), its ?query and #fragment (a query may hold a
    token); control characters escaped."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    rest = rest.rpartition("@")[2]
    rest = re.split("[?#]", rest, maxsplit=1)[0]
    return printable(f"{scheme}{separator}{rest}")


def credential_forms(*values: str) -> set[str]:
    """The ways a credential can be echoed back: as is, URL-encoded (every
    reserved character escaped, ``/`` left as it is, or form-encoded with
    ``+`` for a space; upper- or lowercase hex), and in base64 (standard and
    URL-safe, with and without padding), each value alone and every pair of
    them joined by ``:`` as in a Basic header."""
    plain = {value for value in values if value}
    escaped = {
        form for value in plain for form in (quote(value, safe=""), quote(value), quote_plus(value))
    }
    plain |= escaped | {_LOWER_HEX.sub(lambda m: m.group(0).lower(), form) for form in escaped}
    pairs = {f"{a}:{b}" for a in plain for b in plain if a != b}
    forms = set(plain)
    for text in plain | pairs:
        raw = text.encode()
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            forms.add(encoded.decode())
            forms.add(encoded.decode().rstrip("="))
    return {form for form in forms if len(form) >= 4}


def scrub(text: str, *credentials: str, limit: int = 200) -> str:
    """Text a server sent back, safe to show: every form of ``credentials``
    and every registered secret replaced by ``***`` (a short one as a word
    too: the server's echo of what it was sent, ``redact_echo``), control
    characters escaped, cut to ``limit`` characters."""
    for form in sorted(credential_forms(*credentials), key=len, reverse=True):
        text = text.replace(form, "***")
    text = printable(redact_echo(text))
    return text if len(text) <= limit else text[:limit] + "..."


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
