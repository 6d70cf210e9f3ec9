"""Whether a custom field value fits its account field: one rule for the
sandbox server and for offline validation of configs."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal, InvalidOperation
from typing import Any

from konvsync.kinds.base import Kind, normalize_text

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def checked_offline(definition: Mapping[str, Any], ignored: AbstractSet[str]) -> bool:
    """Whether a configured account field says all that ``value_fits``
    needs: a SELECT field that leaves ``options`` out keeps the portal's
    (an omitted field is left as it is), and so does a field whose ``type``
    or ``options`` changes are ignored (``ignored``: the policy's
    ignore_changes of account fields), so only the plan can check them."""
    if ignored & {"type", "options"}:
        return False
    return definition.get("type") != "SELECT" or "options" in definition


def fits_as_sent(value: str, field_type: str, options: list[str]) -> bool:
    """Whether ``value``, as konvsync sends it (``normalize_text``: NFC,
    without surrounding whitespace; blank clears), fits a field whose
    ``options`` konvsync sends the same way: a value written decomposed or
    padded fits the option it becomes."""
    sent = normalize_text(value)
    if sent is None:
        return True
    return value_fits(sent, field_type, [o for o in map(normalize_text, options) if o])


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A NUMBER's text: a decimal numeral in ASCII digits, with a sign, a point
and an exponent, as number parsers everywhere read one. Python's
``float`` also reads ``1_000`` and the digits of every script (Arabic-Indic,
fullwidth), which a portal's parser does not."""


def value_fits(value: str, field_type: str, options: list[str]) -> bool:
    if field_type == "NUMBER":
        return _NUMBER.fullmatch(value) is not None and math.isfinite(float(value))
    if field_type == "DATE":
        if not _DATE.match(value):
            return False
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if field_type == "BOOLEAN":
        return value in ("true", "false")
    if field_type == "SELECT":
        return value in options
    return True


# ------------------------------------------------------------ typed values
#
# The contract types a custom field value as a String and says nothing of
# its form: a portal that stores values typed answers them in its own form
# (a BOOLEAN as "True", as .NET and Python stringify it, or "1"; a DATE as a
# date-time at midnight; a NUMBER as "1.50" for "1.5"). konvsync compares a
# value by its field's type, so any of those is the value sent, and writes
# the config's form (true/false, YYYY-MM-DD) where it writes YAML from the
# portal. A value that does not read as its type compares as written.

MIDNIGHT_OFFSETS = (None, dt.timedelta(0))
"""The UTC offsets at which a date-time at midnight is "the same date": UTC
(``Z``, ``+00:00``, ``-00:00``) and none (``2026-12-07T00:00:00``, as .NET
writes a ``DateTime`` without a zone). A DATE has no time zone; a portal
that answers one as a date-time writes it at midnight UTC or at no offset
(as JSON serializers do with a date kept as a date-time). Midnight at
another offset is another instant, which a portal converting through a
local time zone would show as the day before or after in UTC: it is not
taken for the date, nor is any other time of day."""


_TRUE_TEXTS = ("true", "1")
_BOOLEAN_TEXTS = (*_TRUE_TEXTS, "false", "0")
"""How a portal may answer a BOOLEAN value, in any case: as a language
stringifies a boolean, or as a number column (MySQL's ``tinyint``) holds one."""


def typed(value: Any, field_type: str | None) -> Any:
    """``value`` as it compares for a field of ``field_type``: a BOOLEAN as
    a bool (true or false in any case, 1 or 0), a DATE as a date (a date-time at midnight at one of
    ``MIDNIGHT_OFFSETS`` too), a NUMBER as an exact ``Decimal``; anything
    else, and a value that does not read as its type, as the text it is
    (the typed readings are tagged, so that none equals a text)."""
    if not isinstance(value, str):
        return value
    if field_type == "BOOLEAN":
        lowered = value.lower()
        if lowered in _BOOLEAN_TEXTS:
            return ("BOOLEAN", lowered in _TRUE_TEXTS)
    elif field_type == "DATE":
        day = _date(value)
        if day is not None:
            return ("DATE", day)
    elif field_type == "NUMBER":
        number = _decimal(value)
        if number is not None:
            return ("NUMBER", number)
    return value


def config_form(value: Any, field_type: str | None) -> Any:
    """A portal's ``value`` as the config writes it for ``field_type``
    (``true``/``false``, ``YYYY-MM-DD``); a NUMBER, a TEXT or SELECT value
    and a value that does not read as its type, as it is."""
    reading = typed(value, field_type)
    if isinstance(reading, tuple) and reading[0] == "BOOLEAN":
        return "true" if reading[1] else "false"
    if isinstance(reading, tuple) and reading[0] == "DATE":
        return reading[1].isoformat()
    return value


def same_value(one: Any, other: Any, field_type: str | None) -> bool:
    """Whether two values of a field of ``field_type`` are the same value."""
    return bool(one == other or typed(one, field_type) == typed(other, field_type))


def in_config_form(
    values: Mapping[str, Any],
    types: Mapping[str, str],
    like: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A portal's ``values`` (a map of custom field values by key) in the
    config's form for each key's type in ``types``: a value that is the
    same value as ``like``'s under its key takes ``like``'s spelling (so
    that it compares equal to it with ``==``), any other ``config_form``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        field_type = types.get(key)
        wanted = like.get(key) if like is not None else None
        if field_type is None or value is None:
            out[key] = value
        elif wanted is not None and same_value(value, wanted, field_type):
            out[key] = wanted
        else:
            out[key] = config_form(value, field_type)
    return out


def _date(value: str) -> dt.date | None:
    text = value.strip()
    if _DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    if len(text) <= 10 or text[10] not in "Tt ":
        return None
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.utcoffset() not in MIDNIGHT_OFFSETS or moment.time() != dt.time(0):
        return None
    return moment.date()


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


TYPE_FIELD = "type"
"""The field of the kind that defines map keys (an account field) that
gives the values filed under its key their type."""


def with_typed_maps(
    k: Kind,
    data: Mapping[str, Any],
    types: Mapping[str, str],
    like: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``data`` of kind ``k`` as read from the portal, with the values of
    each map field filed under typed keys (an account's customFields) in
    the config's form (``in_config_form``; ``like``: the data compared with,
    whose spelling a same value takes)."""
    out = dict(data)
    if not types:
        return out
    for f in k.fields:
        held = data.get(f.name)
        if f.keys_ref is None or not isinstance(held, Mapping):
            continue
        given = (like or {}).get(f.name)
        out[f.name] = in_config_form(held, types, given if isinstance(given, Mapping) else None)
    return out
