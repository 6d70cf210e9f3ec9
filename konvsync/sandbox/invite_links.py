"""The sandbox's invite links and the contract's rules for them: title and
access required, a code exactly with CODE, account or match field (a TEXT,
NUMBER or SELECT one), lowercase domains, a redirect path from /, and at most
one active, unexpired OPEN link (CONFLICT)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from typing import Any

from konvsync.sandbox.database import Database
from konvsync.sandbox.rows import StoreError, is_past, now_stamp, parse_id

URL_BASE = "https://sandbox.konvert.invalid/join/"
_MATCH_TYPES = ("TEXT", "NUMBER", "SELECT")
_COLUMNS = {
    "title": "title",
    "access": "access",
    "code": "code",
    "active": "active",
    "expiresAt": "expires_at",
    "accountId": "account_id",
    "accountMatchFieldId": "account_match_field_id",
    "allowedEmailDomains": "allowed_email_domains",
    "groupIds": "group_ids",
    "redirectPath": "redirect_path",
}


def parse_datetime(value: str) -> str:
    """A DateTime input as the sandbox stores it (UTC, to the second)."""
    try:
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise StoreError(f"{value!r} is not a DateTime", "BAD_USER_INPUT") from None
    if moment.tzinfo is None:
        raise StoreError(f"DateTime {value!r} has no offset", "BAD_USER_INPUT")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class InviteLinkRules(Database):
    """Invite link mutations (mixed into ``Store``)."""

    def _id_or_none(self, db: sqlite3.Connection, table: str, value: str | None) -> int | None:
        if value is None:
            return None
        row_id = parse_id(table, value)
        if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is None:
            raise StoreError(f"no {table[:-1].replace('_', ' ')} with id {value!r}", "NOT_FOUND")
        return row_id

    def _link_row(self, db: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
        """Check a whole link (as it would be stored) against the contract."""
        for name in ("title", "access"):
            if not row.get(name):
                raise StoreError(f"{name} is required", "BAD_USER_INPUT")
        if row["access"] not in ("OPEN", "CODE"):
            raise StoreError(f"access {row['access']!r} is not OPEN or CODE", "BAD_USER_INPUT")
        if row["access"] == "CODE" and not row.get("code"):
            raise StoreError("a CODE link needs a code", "BAD_USER_INPUT")
        if row["access"] == "OPEN" and row.get("code"):
            raise StoreError("an OPEN link takes no code", "BAD_USER_INPUT")
        if row.get("account_id") is not None and row.get("account_match_field_id") is not None:
            raise StoreError("give accountId or accountMatchFieldId, not both", "BAD_USER_INPUT")
        field_id = row.get("account_match_field_id")
        if field_id is not None:
            ftype = db.execute(
                "SELECT type FROM account_fields WHERE id = ?", (field_id,)
            ).fetchone()[0]
            if ftype not in _MATCH_TYPES:
                raise StoreError(
                    f"a link cannot match on a {ftype} account field", "BAD_USER_INPUT"
                )
        for domain in json.loads(row["allowed_email_domains"]):
            if domain != domain.lower():
                raise StoreError(f"domain {domain!r} is not lowercase", "BAD_USER_INPUT")
        path = row.get("redirect_path")
        if path is not None and not path.startswith("/"):
            raise StoreError(f"redirectPath {path!r} does not start with /", "BAD_USER_INPUT")
        if row["access"] == "OPEN" and row["active"] and not is_past(row.get("expires_at")):
            other = db.execute(
                "SELECT id, expires_at FROM invite_links WHERE access = 'OPEN' AND active = 1"
                " AND id != ?",
                (row.get("id") or 0,),
            ).fetchall()
            live = [r for r in other if not is_past(r["expires_at"])]
            if live:
                raise StoreError(f"another OPEN link is active (inv_{live[0]['id']})", "CONFLICT")
        return row

    def _link_values(self, db: sqlite3.Connection, data: dict[str, Any]) -> dict[str, Any]:
        """Input fields as columns."""
        out: dict[str, Any] = {}
        for name, column in _COLUMNS.items():
            if name not in data:
                continue
            value = data[name]
            if name == "active":
                value = int(value is not False)
            elif name == "expiresAt":
                value = parse_datetime(value) if value is not None else None
            elif name == "accountId":
                value = self._id_or_none(db, "accounts", value)
            elif name == "accountMatchFieldId":
                value = self._id_or_none(db, "account_fields", value)
            elif name == "allowedEmailDomains":
                value = json.dumps(list(dict.fromkeys(value or [])))
            elif name == "groupIds":
                ids: list[int] = []
                for gid in value or []:
                    row_id = self._id_or_none(db, "groups", gid)
                    if row_id is not None and row_id not in ids:
                        ids.append(row_id)
                value = json.dumps(ids)
            out[column] = value
        return out

    def create_invite_link(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.transaction() as db:
            now = now_stamp()
            row = {
                "title": None,
                "url": URL_BASE + secrets.token_urlsafe(12),
                "access": None,
                "code": None,
                "active": 1,
                "expires_at": None,
                "account_id": None,
                "account_match_field_id": None,
                "allowed_email_domains": "[]",
                "group_ids": "[]",
                "redirect_path": None,
                "created_at": now,
                "updated_at": now,
            }
            row.update(self._link_values(db, data))
            self._link_row(db, row)
            cur = db.execute(
                f"INSERT INTO invite_links ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            row_id = cur.lastrowid
        return self._fetch("invite_links", row_id)

    def update_invite_link(self, lid: str, data: dict[str, Any]) -> dict[str, Any]:
        with self.transaction() as db:
            row_id = self._id_or_none(db, "invite_links", lid)
            current = dict(
                db.execute("SELECT * FROM invite_links WHERE id = ?", (row_id,)).fetchone()
            )
            sets = self._link_values(db, data)
            self._link_row(db, {**current, **sets})
            self._set(db, "invite_links", row_id or 0, sets, stamp=True)
        return self._fetch("invite_links", row_id)

    def delete_invite_link(self, lid: str) -> str:
        with self.transaction() as db:
            row_id = self._id_or_none(db, "invite_links", lid)
            db.execute("DELETE FROM invite_links WHERE id = ?", (row_id,))
        return lid
