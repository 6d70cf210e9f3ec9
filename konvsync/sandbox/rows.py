"""The sandbox's tables and the conversions around them: table schema, IDs
and cursors, rows in the API's shape, and value checks shared by mutations."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
from functools import lru_cache
from typing import Any

from konvsync.custom_values import value_fits

MAX_PAGE = 100

TABLES = """
CREATE TABLE IF NOT EXISTS groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT, external_id TEXT UNIQUE, name TEXT NOT NULL,
  permissions TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_fields (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, label TEXT NOT NULL,
  type TEXT NOT NULL, options TEXT NOT NULL, required INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, external_id TEXT UNIQUE, name TEXT NOT NULL,
  website TEXT, user_group_ids TEXT NOT NULL, custom_fields TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locations (
  id INTEGER PRIMARY KEY AUTOINCREMENT, account_id INTEGER NOT NULL, name TEXT NOT NULL,
  phone TEXT, address TEXT);
CREATE INDEX IF NOT EXISTS locations_account ON locations(account_id);
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL, email_lower TEXT NOT NULL UNIQUE,
  title TEXT, first_name TEXT NOT NULL, last_name TEXT NOT NULL, account_id INTEGER,
  group_ids TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS welcome_emails (user_id INTEGER NOT NULL, email TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lms_modules (
  id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL UNIQUE, title TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dam_categories (
  id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invite_links (
  id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, url TEXT NOT NULL,
  access TEXT NOT NULL, code TEXT, active INTEGER NOT NULL, expires_at TEXT,
  account_id INTEGER, account_match_field_id INTEGER, allowed_email_domains TEXT NOT NULL,
  group_ids TEXT NOT NULL, redirect_path TEXT, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
"""

ADDED_COLUMNS = (
    ("groups", "lms_module_ids", "TEXT NOT NULL DEFAULT '[]'"),
    ("groups", "dam_category_ids", "TEXT NOT NULL DEFAULT '[]'"),
)
"""Columns added after the first release (a sandbox file made before gets them)."""

SEED_MODULES = (
    ("onboarding", "Onboarding"),
    ("product-basics", "Product basics"),
    ("sales-training", "Sales training"),
    ("service-certification", "Service certification"),
)
SEED_CATEGORIES = (
    ("brand-assets", "Brand assets"),
    ("price-lists", "Price lists"),
    ("product-photos", "Product photos"),
)
"""What a new sandbox holds: modules and categories are authored in the
portal, not through the API, so the sandbox starts with a few of each."""

PREFIX = {
    "groups": "grp",
    "account_fields": "fld",
    "accounts": "acc",
    "locations": "loc",
    "users": "usr",
    "lms_modules": "lms",
    "dam_categories": "dam",
    "invite_links": "inv",
}
_ADDRESS_KEYS = ("street", "city", "region", "postalCode", "country")


class StoreError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def now_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_past(stamp: str | None) -> bool:
    return stamp is not None and stamp <= dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def parse_id(table: str, value: str) -> int:
    prefix, _, number = str(value).partition("_")
    if prefix != PREFIX[table] or not number.isdigit():
        raise StoreError(f"no {table[:-1].replace('_', ' ')} with id {value!r}", "NOT_FOUND")
    return int(number)


def format_id(table: str, row_id: int) -> str:
    return f"{PREFIX[table]}_{row_id}"


@lru_cache(maxsize=65536)
def _ids(text: str) -> tuple[int, ...]:
    """A stored list of row IDs; users share a few such lists, so each text
    is parsed once (a tuple: the same one is handed to every row)."""
    return tuple(json.loads(text))


def shape_row(table: str, row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """A row in the API's shape (camelCase, string IDs; ``_`` keys are internal)."""
    out: dict[str, Any] = {"id": format_id(table, row["id"]), "_pk": row["id"]}
    if table == "groups":
        out.update(
            externalId=row["external_id"],
            name=row["name"],
            permissions=json.loads(row["permissions"]),
            _lmsModuleIds=_ids(row["lms_module_ids"]),
            _damCategoryIds=_ids(row["dam_category_ids"]),
            createdAt=row["created_at"],
            updatedAt=row["updated_at"],
        )
    elif table == "account_fields":
        out.update(
            key=row["key"],
            label=row["label"],
            type=row["type"],
            options=json.loads(row["options"]),
            required=bool(row["required"]),
        )
    elif table == "accounts":
        out.update(
            externalId=row["external_id"],
            name=row["name"],
            website=row["website"],
            _userGroupIds=_ids(row["user_group_ids"]),
            customFields=json.loads(row["custom_fields"]),
            createdAt=row["created_at"],
            updatedAt=row["updated_at"],
        )
    elif table == "locations":
        out.update(
            name=row["name"],
            phone=row["phone"],
            address=json.loads(row["address"]) if row["address"] else None,
            _accountId=row["account_id"],
        )
    elif table == "lms_modules":
        out.update(slug=row["slug"], title=row["title"])
    elif table == "dam_categories":
        out.update(slug=row["slug"], name=row["name"])
    elif table == "invite_links":
        out.update(
            title=row["title"],
            url=row["url"],
            access=row["access"],
            code=row["code"],
            active=bool(row["active"]),
            expiresAt=row["expires_at"],
            expired=is_past(row["expires_at"]),
            _accountId=row["account_id"],
            _accountMatchFieldId=row["account_match_field_id"],
            allowedEmailDomains=json.loads(row["allowed_email_domains"]),
            _groupIds=_ids(row["group_ids"]),
            redirectPath=row["redirect_path"],
            createdAt=row["created_at"],
            updatedAt=row["updated_at"],
        )
    elif table == "users":
        out.update(
            email=row["email"],
            title=row["title"],
            firstName=row["first_name"],
            lastName=row["last_name"],
            _accountId=row["account_id"],
            _groupIds=_ids(row["group_ids"]),
            createdAt=row["created_at"],
            updatedAt=row["updated_at"],
        )
    return out


def address_json(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps({key: value.get(key) for key in _ADDRESS_KEYS})


def check_email(email: str) -> None:
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise StoreError(f"{email!r} is not an e-mail address", "BAD_USER_INPUT")


def check_custom_value(key: str, value: str, field_type: str, options: list[str]) -> None:
    """Raise BAD_USER_INPUT when ``value`` does not fit the account field."""
    if not value_fits(value, field_type, options):
        raise StoreError(
            f"value {value!r} does not fit custom field {key!r} ({field_type})", "BAD_USER_INPUT"
        )
