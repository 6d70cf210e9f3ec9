"""What every sandbox module shares: the store's error, object IDs
(``grp_1``), cursors, time stamps and the page size limit."""

from __future__ import annotations

import base64
import datetime as dt

MAX_PAGE = 100


class StoreError(Exception):
    """A contract error: ``code`` is the GraphQL ``extensions.code``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def now_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_past(stamp: str | None) -> bool:
    return stamp is not None and stamp <= dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: str) -> str:
    """A DateTime input as the sandbox stores it (UTC, to the second)."""
    try:
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError, AttributeError):
        raise StoreError(f"{value!r} is not a DateTime", "BAD_USER_INPUT") from None
    if moment.tzinfo is None:
        raise StoreError(f"DateTime {value!r} has no offset", "BAD_USER_INPUT")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "cursor":
            raise ValueError
        return int(number)
    except (ValueError, UnicodeError) as exc:
        raise StoreError(f"invalid cursor {cursor!r}", "BAD_USER_INPUT") from exc


def format_id(prefix: str, pk: int) -> str:
    return f"{prefix}_{pk}"


def parse_id(prefix: str, value: object) -> int | None:
    """The number of ID ``value`` when it has ``prefix``, else None."""
    head, _, number = str(value).partition("_")
    if head != prefix or not number.isdigit():
        return None
    return int(number)
