"""The sandbox's mutations, enforcing the contract's data rules.

Every public mutating method runs in one transaction (a savepoint inside a
request of several) and raises ``StoreError`` with a contract error code on
bad input.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from konvsync.sandbox.database import Database
from konvsync.sandbox.invite_links import InviteLinkRules
from konvsync.sandbox.rows import (
    StoreError,
    address_json,
    check_custom_value,
    check_email,
    now_stamp,
    parse_id,
    shape_row,
)


class Store(InviteLinkRules, Database):
    """The sandbox's data with the contract's rules for changing it."""

    # -------------------------------------------------------------- mutations

    def _require(self, data: dict[str, Any], fields: tuple[str, ...]) -> None:
        for name in fields:
            value = data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise StoreError(f"{name} is required", "BAD_USER_INPUT")

    def _not_null(self, data: dict[str, Any], fields: tuple[str, ...]) -> None:
        for name in fields:
            if name in data and (data[name] is None or str(data[name]).strip() == ""):
                raise StoreError(f"{name} cannot be null or empty", "BAD_USER_INPUT")

    def _row_id(self, db: sqlite3.Connection, table: str, value: str) -> int:
        row_id = parse_id(table, value)
        if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is None:
            raise StoreError(f"no {table[:-1].replace('_', ' ')} with id {value!r}", "NOT_FOUND")
        return row_id

    def _unique(
        self,
        db: sqlite3.Connection,
        table: str,
        column: str,
        value: Any,
        label: str,
        own_id: int | None = None,
    ) -> None:
        if value is None:
            return
        row = db.execute(f"SELECT id FROM {table} WHERE {column} = ?", (value,)).fetchone()
        if row is not None and row["id"] != own_id:
            raise StoreError(f"{label} {value!r} is already taken", "CONFLICT")

    def _group_ids(self, db: sqlite3.Connection, ids: list[str]) -> list[int]:
        return self._ids_of(db, "groups", ids)

    def _ids_of(self, db: sqlite3.Connection, table: str, ids: list[str]) -> list[int]:
        out: list[int] = []
        for value in ids:
            row_id = self._row_id(db, table, value)
            if row_id not in out:
                out.append(row_id)
        return out

    def _dedupe(self, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))

    # groups
    def create_group(self, data: dict[str, Any]) -> dict[str, Any]:
        self._require(data, ("name",))
        with self.transaction() as db:
            self._unique(db, "groups", "external_id", data.get("externalId"), "externalId")
            now = now_stamp()
            modules = self._ids_of(db, "lms_modules", data.get("lmsModuleIds") or [])
            categories = self._ids_of(db, "dam_categories", data.get("damCategoryIds") or [])
            cur = db.execute(
                "INSERT INTO groups (external_id, name, permissions, lms_module_ids,"
                " dam_category_ids, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    data.get("externalId"),
                    data["name"],
                    json.dumps(self._dedupe(data.get("permissions") or [])),
                    json.dumps(modules),
                    json.dumps(categories),
                    now,
                    now,
                ),
            )
            row_id = cur.lastrowid
        return self._fetch("groups", row_id)

    def update_group(self, gid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._not_null(data, ("name", "permissions"))
        with self.transaction() as db:
            row_id = self._row_id(db, "groups", gid)
            sets: dict[str, Any] = {}
            if "externalId" in data:
                self._unique(db, "groups", "external_id", data["externalId"], "externalId", row_id)
                sets["external_id"] = data["externalId"]
            if "name" in data:
                sets["name"] = data["name"]
            if "permissions" in data:
                sets["permissions"] = json.dumps(self._dedupe(data["permissions"]))
            for name, table, column in (
                ("lmsModuleIds", "lms_modules", "lms_module_ids"),
                ("damCategoryIds", "dam_categories", "dam_category_ids"),
            ):
                if name in data:
                    sets[column] = json.dumps(self._ids_of(db, table, data[name] or []))
            self._set(db, "groups", row_id, sets, stamp=True)
        return self._fetch("groups", row_id)

    def delete_group(self, gid: str) -> str:
        with self.transaction() as db:
            row_id = self._row_id(db, "groups", gid)
            db.execute("DELETE FROM groups WHERE id = ?", (row_id,))
            for table, column in (
                ("accounts", "user_group_ids"),
                ("users", "group_ids"),
                ("invite_links", "group_ids"),
            ):
                for row in db.execute(
                    f"SELECT id, {column} FROM {table} WHERE {column} LIKE ?", (f"%{row_id}%",)
                ).fetchall():
                    ids = [i for i in json.loads(row[column]) if i != row_id]
                    db.execute(
                        f"UPDATE {table} SET {column} = ? WHERE id = ?",
                        (json.dumps(ids), row["id"]),
                    )
        return gid

    # account fields
    def create_account_field(self, data: dict[str, Any]) -> dict[str, Any]:
        self._require(data, ("key", "label", "type"))
        self._check_field_options(data.get("type"), data.get("options") or [])
        with self.transaction() as db:
            self._unique(db, "account_fields", "key", data["key"], "key")
            cur = db.execute(
                "INSERT INTO account_fields (key, label, type, options, required)"
                " VALUES (?,?,?,?,?)",
                (
                    data["key"],
                    data["label"],
                    data["type"],
                    json.dumps(data.get("options") or []),
                    int(bool(data.get("required"))),
                ),
            )
            row_id = cur.lastrowid
        return self._fetch("account_fields", row_id)

    def update_account_field(self, fid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._not_null(data, ("key", "label", "type", "options", "required"))
        with self.transaction() as db:
            row_id = self._row_id(db, "account_fields", fid)
            current = self._fetch("account_fields", row_id)
            self._check_field_options(
                data.get("type", current["type"]), data.get("options", current["options"])
            )
            sets: dict[str, Any] = {}
            if "key" in data:
                self._unique(db, "account_fields", "key", data["key"], "key", row_id)
                sets["key"] = data["key"]
                if data["key"] != current["key"]:
                    self._rename_custom_field(db, current["key"], data["key"])
            for name in ("label", "type"):
                if name in data:
                    sets[name] = data[name]
            if "options" in data:
                sets["options"] = json.dumps(data["options"])
            if "required" in data:
                sets["required"] = int(bool(data["required"]))
            self._set(db, "account_fields", row_id, sets, stamp=False)
        return self._fetch("account_fields", row_id)

    def delete_account_field(self, fid: str) -> str:
        with self.transaction() as db:
            row_id = self._row_id(db, "account_fields", fid)
            key = db.execute("SELECT key FROM account_fields WHERE id = ?", (row_id,)).fetchone()[0]
            db.execute("DELETE FROM account_fields WHERE id = ?", (row_id,))
            db.execute(
                "UPDATE invite_links SET account_match_field_id = NULL"
                " WHERE account_match_field_id = ?",
                (row_id,),
            )
            for row in db.execute("SELECT id, custom_fields FROM accounts").fetchall():
                values = json.loads(row["custom_fields"])
                kept = [v for v in values if v["key"] != key]
                if len(kept) != len(values):
                    db.execute(
                        "UPDATE accounts SET custom_fields = ? WHERE id = ?",
                        (json.dumps(kept), row["id"]),
                    )
        return fid

    def _rename_custom_field(self, db: sqlite3.Connection, old: str, new: str) -> None:
        """Accounts' values follow their field to its new key."""
        for row in db.execute("SELECT id, custom_fields FROM accounts").fetchall():
            values = json.loads(row["custom_fields"])
            if any(v["key"] == old for v in values):
                for v in values:
                    if v["key"] == old:
                        v["key"] = new
                db.execute(
                    "UPDATE accounts SET custom_fields = ? WHERE id = ?",
                    (json.dumps(values), row["id"]),
                )

    def _check_field_options(self, field_type: str | None, options: list[str]) -> None:
        if field_type == "SELECT" and not options:
            raise StoreError("a SELECT field needs at least one option", "BAD_USER_INPUT")

    # accounts
    def _custom_fields(self, db: sqlite3.Connection, values: list[dict[str, Any]]) -> str:
        fields = {r["key"]: r for r in db.execute("SELECT * FROM account_fields").fetchall()}
        seen: dict[str, str | None] = {}
        for item in values:
            key, value = item["key"], item.get("value")
            field = fields.get(key)
            if field is None:
                raise StoreError(f"unknown custom field {key!r}", "BAD_USER_INPUT")
            if key in seen:
                raise StoreError(f"custom field {key!r} given twice", "BAD_USER_INPUT")
            if value is not None:
                check_custom_value(key, value, field["type"], json.loads(field["options"]))
            seen[key] = value
        for key, field in fields.items():
            if field["required"] and seen.get(key) in (None, ""):
                raise StoreError(f"custom field {key!r} is required", "BAD_USER_INPUT")
        return json.dumps([{"key": k, "value": v} for k, v in seen.items()])

    def create_account(self, data: dict[str, Any]) -> dict[str, Any]:
        self._require(data, ("name",))
        with self.transaction() as db:
            self._unique(db, "accounts", "external_id", data.get("externalId"), "externalId")
            groups = self._group_ids(db, data.get("userGroupIds") or [])
            custom = self._custom_fields(db, data.get("customFields") or [])
            now = now_stamp()
            cur = db.execute(
                "INSERT INTO accounts (external_id, name, website, user_group_ids, custom_fields,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                (
                    data.get("externalId"),
                    data["name"],
                    data.get("website"),
                    json.dumps(groups),
                    custom,
                    now,
                    now,
                ),
            )
            row_id = cur.lastrowid
        return self._fetch("accounts", row_id)

    def update_account(self, aid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._not_null(data, ("name",))
        with self.transaction() as db:
            row_id = self._row_id(db, "accounts", aid)
            sets: dict[str, Any] = {}
            if "externalId" in data:
                self._unique(
                    db, "accounts", "external_id", data["externalId"], "externalId", row_id
                )
                sets["external_id"] = data["externalId"]
            for name, column in (("name", "name"), ("website", "website")):
                if name in data:
                    sets[column] = data[name]
            if "userGroupIds" in data:
                sets["user_group_ids"] = json.dumps(self._group_ids(db, data["userGroupIds"] or []))
            if "customFields" in data:
                sets["custom_fields"] = self._custom_fields(db, data["customFields"] or [])
            self._set(db, "accounts", row_id, sets, stamp=True)
        return self._fetch("accounts", row_id)

    def delete_account(self, aid: str) -> str:
        with self.transaction() as db:
            row_id = self._row_id(db, "accounts", aid)
            db.execute("DELETE FROM accounts WHERE id = ?", (row_id,))
            db.execute("DELETE FROM locations WHERE account_id = ?", (row_id,))
            db.execute("UPDATE users SET account_id = NULL WHERE account_id = ?", (row_id,))
            db.execute("UPDATE invite_links SET account_id = NULL WHERE account_id = ?", (row_id,))
        return aid

    # locations
    def create_location(self, aid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._require(data, ("name",))
        with self.transaction() as db:
            account = self._row_id(db, "accounts", aid)
            cur = db.execute(
                "INSERT INTO locations (account_id, name, phone, address) VALUES (?,?,?,?)",
                (account, data["name"], data.get("phone"), address_json(data.get("address"))),
            )
            row_id = cur.lastrowid
            db.execute("UPDATE accounts SET updated_at = ? WHERE id = ?", (now_stamp(), account))
        return self._fetch("locations", row_id)

    def update_location(self, lid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._not_null(data, ("name",))
        with self.transaction() as db:
            row_id = self._row_id(db, "locations", lid)
            sets: dict[str, Any] = {}
            for name in ("name", "phone"):
                if name in data:
                    sets[name] = data[name]
            if "address" in data:
                sets["address"] = address_json(data["address"])
            self._set(db, "locations", row_id, sets, stamp=False)
        return self._fetch("locations", row_id)

    def delete_location(self, lid: str) -> str:
        with self.transaction() as db:
            row_id = self._row_id(db, "locations", lid)
            db.execute("DELETE FROM locations WHERE id = ?", (row_id,))
        return lid

    # users
    def create_user(self, data: dict[str, Any], send_welcome_email: bool) -> dict[str, Any]:
        self._require(data, ("email", "firstName", "lastName"))
        check_email(data["email"])
        with self.transaction() as db:
            self._unique(db, "users", "email_lower", data["email"].lower(), "email")
            account = (
                self._row_id(db, "accounts", data["accountId"]) if data.get("accountId") else None
            )
            groups = self._group_ids(db, data.get("groupIds") or [])
            now = now_stamp()
            row = {
                "email": data["email"],
                "email_lower": data["email"].lower(),
                "title": data.get("title"),
                "first_name": data["firstName"],
                "last_name": data["lastName"],
                "account_id": account,
                "group_ids": json.dumps(groups),
                "created_at": now,
                "updated_at": now,
            }
            cur = db.execute(
                "INSERT INTO users (email, email_lower, title, first_name, last_name, account_id,"
                " group_ids, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                tuple(row.values()),
            )
            row["id"] = cur.lastrowid
            if send_welcome_email:
                db.execute("INSERT INTO welcome_emails VALUES (?, ?)", (row["id"], data["email"]))
        # The row as written (users are the bulk of creates: no read-back query).
        return shape_row("users", row)

    def update_user(self, uid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._not_null(data, ("email", "firstName", "lastName"))
        with self.transaction() as db:
            row_id = self._row_id(db, "users", uid)
            sets: dict[str, Any] = {}
            if "email" in data:
                check_email(data["email"])
                self._unique(db, "users", "email_lower", data["email"].lower(), "email", row_id)
                sets["email"] = data["email"]
                sets["email_lower"] = data["email"].lower()
            for name, column in (
                ("title", "title"),
                ("firstName", "first_name"),
                ("lastName", "last_name"),
            ):
                if name in data:
                    sets[column] = data[name]
            if "accountId" in data:
                sets["account_id"] = (
                    self._row_id(db, "accounts", data["accountId"]) if data["accountId"] else None
                )
            if "groupIds" in data:
                sets["group_ids"] = json.dumps(self._group_ids(db, data["groupIds"] or []))
            self._set(db, "users", row_id, sets, stamp=True)
        return self._fetch("users", row_id)

    def delete_user(self, uid: str) -> str:
        with self.transaction() as db:
            row_id = self._row_id(db, "users", uid)
            db.execute("DELETE FROM users WHERE id = ?", (row_id,))
        return uid
