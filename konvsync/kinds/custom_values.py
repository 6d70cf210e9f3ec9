"""Whether a custom field value fits its account field: one rule for the
sandbox server and for offline validation of configs."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from konvsync.kinds.base import normalize_text

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


def value_fits(value: str, field_type: str, options: list[str]) -> bool:
    if field_type == "NUMBER":
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
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
