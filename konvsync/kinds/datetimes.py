"""DateTime values as konvsync compares them: UTC, to the second.

A config may write a date (``2027-06-30``: midnight UTC) or an ISO 8601
date-time with an offset (``2027-06-30T02:00:00+02:00``, ``...Z``); the
portal answers in its own form. Both become ``2027-06-30T00:00:00Z``.
"""

from __future__ import annotations

import datetime as dt


class OutOfRange(ValueError):
    """An ISO date-time whose instant in UTC falls outside the years 1 to
    9999 (``9999-12-31T23:00:00-02:00``), which Python cannot hold."""


def parse_utc(value: str) -> dt.datetime:
    """The instant ``value`` names, in UTC; ValueError when it is not a date
    or an ISO date-time with an offset (``OutOfRange``: not one in UTC)."""
    text = value.strip()
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (add Z or +HH:MM)")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise OutOfRange(f"{value!r} falls outside the years 1 to 9999 in UTC") from None


def utc_second(value: str) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return parse_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
