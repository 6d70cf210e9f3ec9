"""Readings of the contract: where ``schemas/konvert.graphql`` leaves a server
a choice, the sandbox makes one answer by default and can be switched to
another, so that the tests run konvsync against each legal server, not only
against the sandbox's habits.

Each switch is a behaviour of the whole store or server, never of one kind:
the kinds and the schema say which fields it touches (a set-like field's
order, a case-insensitive key, a DateTime, an object field, a map keyed by
another kind's keys, a nullable String).

The switches are for tests (``konvsync sandbox --reading NAME``, hidden, or
``SandboxSettings.readings``); a user of the sandbox needs none of them.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

Order = Literal["stored", "reversed", "shuffled"]
T = TypeVar("T")


@dataclass(frozen=True)
class Readings:
    """How this sandbox answers where the contract is silent. The defaults
    are the sandbox's own reading."""

    order: Order = "stored"
    """The order of every list whose order the contract leaves open: nodes
    within a page, set-like fields (permissions, groups, userGroups,
    allowedEmailDomains), an account's customFields and locations. Ordered
    lists (a SELECT field's options: the display order) always keep theirs."""
    lowercase_keys: bool = False
    """A case-insensitive natural key (a user's e-mail) is stored lowercased,
    not as written."""
    datetime_offset: str | None = None
    """DateTimes are answered in this UTC offset (``+02:00``) with
    microseconds, not as ``...Z`` to the second."""
    empty_objects: bool = False
    """An object field without a value (a location's address) is answered as
    an object whose parts are all null, not as null."""
    map_keys_stay: bool = False
    """Values filed under another object's key (an account's customFields
    under an account field's key) stay under the old key when that key is
    renamed, and stay when that object is deleted (instead of following the
    rename and going with the delete)."""
    trim: bool = False
    """Strings are stored without surrounding whitespace."""
    nfc: bool = False
    """Strings are stored in Unicode normalization form C."""
    blank_as_null: bool = False
    """An empty string written to a nullable String field is stored as null."""
    null_as_blank: bool = False
    """A nullable String field without a value is answered as ``""``."""
    every_map_key: bool = False
    """A map field (customFields) lists every key its key kind has (every
    account field), with a null value where none is set."""
    seed: int = 0
    """The dice of ``order="shuffled"``."""

    @property
    def stores_as_given(self) -> bool:
        """Whether values are stored as written (the default)."""
        return not (self.lowercase_keys or self.trim or self.nfc or self.blank_as_null)

    @property
    def answers_as_stored(self) -> bool:
        """Whether answers are the stored objects as they are (the default)."""
        return (
            self.order == "stored"
            and self.datetime_offset is None
            and not self.empty_objects
            and not self.null_as_blank
            and not self.every_map_key
        )


NAMED: dict[str, dict[str, Any]] = {
    "reversed": {"order": "reversed"},
    "shuffled": {"order": "shuffled"},
    "lowercase-emails": {"lowercase_keys": True},
    "offset-datetimes": {"datetime_offset": "+02:00"},
    "empty-address-parts": {"empty_objects": True},
    "values-stay": {"map_keys_stay": True},
    "trim": {"trim": True},
    "nfc": {"nfc": True},
    "blank-as-null": {"blank_as_null": True},
    "null-as-blank": {"null_as_blank": True},
    "every-custom-field": {"every_map_key": True},
}
"""Each reading by name (``--reading NAME``); ``all`` is every one at once
(shuffled rather than reversed)."""
ALL = "all"


def named(names: Iterable[str], seed: int = 0) -> Readings:
    """The readings ``names`` (of ``NAMED``, or ``all``) together."""
    changes: dict[str, Any] = {}
    for name in names:
        if name == ALL:
            for other, values in NAMED.items():
                if other != "reversed":
                    changes.update(values)
            continue
        if name not in NAMED:
            raise KeyError(f"no sandbox reading {name!r} (known: {', '.join([*NAMED, ALL])})")
        changes.update(NAMED[name])
    return replace(Readings(seed=seed), **changes)


@dataclass
class Reader:
    """Readings applied: to values as they are written (``stored_text``)
    and to answers as they go out (the rest)."""

    readings: Readings = field(default_factory=Readings)
    _dice: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._dice = random.Random(self.readings.seed)

    # ------------------------------------------------------------- writes

    def stored_text(self, value: str, nullable: bool) -> str | None:
        """A String input as the store keeps it."""
        r = self.readings
        if r.nfc:
            value = unicodedata.normalize("NFC", value)
        if r.trim:
            value = value.strip()
        if r.blank_as_null and nullable and value == "":
            return None
        return value

    def stored_key(self, value: str) -> str:
        """A case-insensitive key as the store keeps it."""
        return value.lower() if self.readings.lowercase_keys else value

    # ------------------------------------------------------------ answers

    def ordered(self, items: Sequence[T] | None) -> list[T] | None:
        """A list whose order is open, in this reading's order."""
        if items is None:
            return None
        out = list(items)
        if self.readings.order == "reversed":
            out.reverse()
        elif self.readings.order == "shuffled":
            with self._lock:
                self._dice.shuffle(out)
        return out

    def datetime(self, value: Any) -> Any:
        """A stored DateTime (UTC, ``...Z``) as answered."""
        offset = self.readings.datetime_offset
        if offset is None or not isinstance(value, str):
            return value
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        zone = dt.datetime.fromisoformat(f"2000-01-01T00:00:00{offset}").tzinfo
        return moment.astimezone(zone).isoformat(timespec="microseconds")

    def text(self, value: Any) -> Any:
        """A nullable String as answered."""
        return "" if value is None and self.readings.null_as_blank else value

    def empty_object(self, parts: Sequence[str]) -> dict[str, Any] | None:
        """What an object field without a value is answered as."""
        return {name: None for name in parts} if self.readings.empty_objects else None
