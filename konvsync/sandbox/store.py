"""The sandbox's mutations: one generic create, update and delete for every
kind, enforcing the contract's rules as the kinds and the schema state them
(see ``model``), plus each kind's own hooks (``rules``).

- References by ID must exist (NOT_FOUND), and a ``Field.ref_only`` target
  must have one of the allowed values.
- A unique natural key (case-insensitive when its field is lowercase) is
  CONFLICT when taken; objects without a key may be many.
- Non-null fields are required on create unless they have a default, and
  can never be set to null or blank (a non-null list given null is emptied).
- Children are created in their parent and deleted with it; deleting an
  object removes it from every set that refers to it and nulls every single
  reference; map keys (``customFields``) follow their key object's renames
  and go with its delete.
- ``Kind.at_most_one``: a second object in the state is CONFLICT.
- Where the contract leaves the store a choice (trimming, Unicode form,
  empty strings, the case of an e-mail, map values on a key's rename), the
  ``Reader``'s readings decide (``readings``).

Every method runs in one transaction (a savepoint inside a request of
several) and raises ``StoreError`` with a contract error code on bad input.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from konvsync.kinds.datetimes import now_utc
from konvsync.sandbox import rules
from konvsync.sandbox.database import Database, Row
from konvsync.sandbox.model import Column, Table
from konvsync.sandbox.readings import Reader
from konvsync.sandbox.rows import StoreError, now_stamp, parse_datetime, parse_id

__all__ = ["Store", "StoreError"]


def _bad(message: str) -> StoreError:
    return StoreError(message, "BAD_USER_INPUT")


class Store(Database):
    """The sandbox's data with the contract's rules for changing it."""

    reader: Reader = Reader()
    """The readings of the contract it stores by (``create_app`` sets the server's)."""

    def create(
        self,
        kind: str,
        given: Mapping[str, Any],
        parent_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Row:
        """A new object from an input (``GroupInput``'s fields, references
        by ID); ``parent_id`` for a child kind; ``options``: the create
        mutation's other arguments."""
        t = self.table(kind)
        with self.transaction() as db:
            parent = self._parent(db, t, parent_id)
            data = t.fresh()
            data.update(self._values(db, t, given, creating=True))
            for c in t.required:
                value = data.get(c.name)
                if value is None or (c.text and not str(value).strip()):
                    raise _bad(f"{c.input_name} is required")
            if t.stamped:
                data["createdAt"] = data["updatedAt"] = now_stamp()
            hooks = rules.rules_of(kind)
            hooks.made(data)
            self._check(db, t, data, None, None)
            pk = self._insert(db, t, data, parent)
            if parent is not None:
                self._touch(db, self.table(t.kind.parent or ""), parent)
            row = self._shape(t, pk, parent, data)
            hooks.created(self, row, options or {})
        return row

    def update(self, kind: str, object_id: str, given: Mapping[str, Any]) -> Row:
        """A patch: fields not given stay; a list given replaces the list."""
        t = self.table(kind)
        with self.transaction() as db:
            pk, parent, data = self._raw(db, t, object_id)
            before = t.kind.key_of(data)
            old_key = data.get(t.kind.key_field)
            data.update(self._values(db, t, given, creating=False))
            if t.stamped:
                data["updatedAt"] = now_stamp()
            self._check(db, t, data, pk, given)
            self._write(db, t, pk, data)
            renamed = t.kind.key_of(data) != before and old_key is not None
            if renamed and not self.reader.readings.map_keys_stay:
                self._rename_map_keys(db, t, old_key, data.get(t.kind.key_field))
            row = self._shape(t, pk, parent, data)
        return row

    def delete(self, kind: str, object_id: str) -> str:
        """Delete an object, its children, and every reference to them."""
        t = self.table(kind)
        with self.transaction() as db:
            pk, _parent, data = self._raw(db, t, object_id)
            self._remove(db, t, pk, data)
        return object_id

    def send_mail(self, object_id: str, address: str) -> None:
        self._db.execute("INSERT INTO mail VALUES (?, ?)", (object_id, address))

    # ------------------------------------------------------------ reading

    def _raw(self, db: sqlite3.Connection, t: Table, object_id: str) -> tuple[int, int | None, Row]:
        pk = parse_id(t.prefix, object_id)
        found = db.execute(
            "SELECT parent, data FROM objects WHERE kind = ? AND id = ?", (t.name, pk)
        ).fetchone()
        if pk is None or found is None:
            raise StoreError(f"no {t.singular} with id {object_id!r}", "NOT_FOUND")
        return pk, found[0], json.loads(found[1])

    def _parent(self, db: sqlite3.Connection, t: Table, parent_id: str | None) -> int | None:
        if t.kind.parent is None:
            return None
        if parent_id is None:
            raise _bad(f"{t.singular}: give the {self.table(t.kind.parent).singular} it is in")
        return self._raw(db, self.table(t.kind.parent), parent_id)[0]

    def _existing(self, db: sqlite3.Connection, target: Table, ids: list[Any]) -> list[int]:
        """The numbers of objects ``ids`` (once each, in order); NOT_FOUND for one missing."""
        pks: dict[int, Any] = {}
        for value in ids:
            pk = parse_id(target.prefix, value)
            if pk is None:
                raise StoreError(f"no {target.singular} with id {value!r}", "NOT_FOUND")
            pks.setdefault(pk, value)
        if len(pks) == 1:
            ((pk, value),) = pks.items()
            found = db.execute(
                "SELECT 1 FROM objects WHERE kind = ? AND id = ?", (target.name, pk)
            ).fetchone()
            if found is None:
                raise StoreError(f"no {target.singular} with id {value!r}", "NOT_FOUND")
        elif pks:
            marks = ",".join("?" * len(pks))
            found = {
                r[0]
                for r in db.execute(
                    f"SELECT id FROM objects WHERE kind = ? AND id IN ({marks})",
                    (target.name, *pks),
                )
            }
            for pk, value in pks.items():
                if pk not in found:
                    raise StoreError(f"no {target.singular} with id {value!r}", "NOT_FOUND")
        return list(pks)

    # ------------------------------------------------------------- values

    def _values(
        self, db: sqlite3.Connection, t: Table, given: Mapping[str, Any], creating: bool
    ) -> Row:
        """Input fields as stored values, each checked on its own."""
        out: Row = {}
        for name, value in given.items():
            c = t.column(name)
            if c is None:
                raise _bad(f"{t.singular}: no input field {name!r}")
            if value is None or (c.text and c.non_null and not str(value).strip()):
                if c.many and c.non_null and value is None:
                    out[c.name] = []
                    continue
                if c.non_null and creating:
                    raise _bad(f"{name} is required")
                if c.non_null:
                    raise _bad(f"{name} cannot be {'null' if value is None else 'empty'}")
                out[c.name] = None
                continue
            out[c.name] = self._value(db, t, c, value)
        return out

    def _value(self, db: sqlite3.Connection, t: Table, c: Column, value: Any) -> Any:
        if c.ref is not None:
            target = self.table(c.ref)
            pks = self._existing(db, target, list(value) if c.many else [value])
            if c.field is not None and c.field.ref_only is not None:
                self._ref_only(db, t, c, target, pks)
            return pks if c.many else pks[0]
        if c.keys_ref is not None:
            return self._map_entries(db, self.table(c.keys_ref), value)
        if c.datetime:
            return parse_datetime(value)
        if not self.reader.readings.stores_as_given:
            value = self._text(value, not c.non_null)
        if c.many:
            return list(dict.fromkeys(value)) if c.field and c.field.shape == "set" else list(value)
        if c.field is not None and c.field.lowercase and isinstance(value, str):
            return self.reader.stored_key(value)
        return value

    def _text(self, value: Any, nullable: bool) -> Any:
        """The strings of an input value as the readings store them."""
        if isinstance(value, str):
            return self.reader.stored_text(value, nullable)
        if isinstance(value, list):
            return [self._text(item, False) for item in value]
        if isinstance(value, dict):
            return {name: self._text(part, True) for name, part in value.items()}
        return value

    def _ref_only(
        self, db: sqlite3.Connection, t: Table, c: Column, target: Table, pks: list[int]
    ) -> None:
        assert c.field is not None and c.field.ref_only is not None
        name, allowed = c.field.ref_only
        for row in self.rows_by_id(target.name, pks).values():
            if row is not None and row.get(name) not in allowed:
                raise _bad(
                    f"{c.input_name}: the {target.singular}'s {name} is {row.get(name)}, "
                    f"not one of {', '.join(allowed)}"
                )

    def _map_entries(self, db: sqlite3.Connection, keys: Table, items: list[Any]) -> list[Row]:
        """A map's entries: each key an object's natural key of kind ``keys``, once."""
        known = {row.get(keys.kind.key_field) for row in self.objects(keys.name)}
        seen: dict[str, Any] = {}
        for item in items:
            key, value = item["key"], item.get("value")
            if key not in known:
                raise _bad(f"unknown {keys.singular} {key!r}")
            if key in seen:
                raise _bad(f"{keys.singular} {key!r} given twice")
            seen[key] = value if self.reader.readings.stores_as_given else self._text(value, True)
        return [{"key": k, "value": v} for k, v in seen.items()]

    def _check(
        self,
        db: sqlite3.Connection,
        t: Table,
        data: Row,
        pk: int | None,
        given: Mapping[str, Any] | None,
    ) -> None:
        """The rules on a whole object as it would be stored."""
        key = t.kind.key_of(data)
        if t.unique and key is not None:
            taken = db.execute(
                "SELECT 1 FROM objects WHERE kind = ? AND key = ? AND id != ?",
                (t.name, key, pk or 0),
            ).fetchone()
            if taken is not None:
                raise StoreError(
                    f"{t.kind.key_field} {data.get(t.kind.key_field)!r} is already taken",
                    "CONFLICT",
                )
        rule = t.kind.at_most_one
        if rule is not None and rule.holds(data, now_utc()):
            now = now_utc()
            for other in self.objects(t.name):
                if other["_pk"] != pk and rule.holds(other, now):
                    raise StoreError(f"another {rule.what} exists ({other['id']})", "CONFLICT")
        rules.rules_of(t.name).check(self, data, given)

    # ------------------------------------------------------------ cascades

    def _touch(self, db: sqlite3.Connection, t: Table, pk: int) -> None:
        if t.stamped:
            db.execute(
                "UPDATE objects SET data = json_set(data, '$.updatedAt', ?)"
                " WHERE kind = ? AND id = ?",
                (now_stamp(), t.name, pk),
            )

    def _remove(self, db: sqlite3.Connection, t: Table, pk: int, data: Row) -> None:
        db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (t.name, pk))
        for child in t.children:
            ct = self.table(child.name)
            for cpk, cdata in db.execute(
                "SELECT id, data FROM objects WHERE kind = ? AND parent = ?", (ct.name, pk)
            ).fetchall():
                self._remove(db, ct, cpk, json.loads(cdata))
        for other in self.tables.values():
            for c in other.refs:
                if c.ref == t.name:
                    self._drop_ref(db, other, c, pk)
            for c in other.maps:
                if c.keys_ref == t.name and not self.reader.readings.map_keys_stay:
                    self._edit_map(db, other, c, data.get(t.kind.key_field), None)

    def _drop_ref(self, db: sqlite3.Connection, t: Table, c: Column, pk: int) -> None:
        path = f"$.{c.name}"
        where = (
            "EXISTS (SELECT 1 FROM json_each(data, ?) WHERE value = ?)"
            if c.many
            else "json_extract(data, ?) = ?"
        )
        for opk, odata in db.execute(
            f"SELECT id, data FROM objects WHERE kind = ? AND {where}", (t.name, path, pk)
        ).fetchall():
            row = json.loads(odata)
            row[c.name] = [v for v in row[c.name] if v != pk] if c.many else None
            self._write(db, t, opk, row)

    def _rename_map_keys(self, db: sqlite3.Connection, t: Table, old: Any, new: Any) -> None:
        for other in self.tables.values():
            for c in other.maps:
                if c.keys_ref == t.name:
                    self._edit_map(db, other, c, old, new)

    def _edit_map(self, db: sqlite3.Connection, t: Table, c: Column, key: Any, new: Any) -> None:
        """Entries of ``key`` get key ``new``, or go when ``new`` is None."""
        for opk, odata in db.execute(
            "SELECT id, data FROM objects WHERE kind = ? AND EXISTS"
            " (SELECT 1 FROM json_each(data, ?) WHERE json_extract(value, '$.key') = ?)",
            (t.name, f"$.{c.name}", key),
        ).fetchall():
            row = json.loads(odata)
            entries = row[c.name]
            if new is None:
                row[c.name] = [e for e in entries if e["key"] != key]
            else:
                row[c.name] = [{**e, "key": new} if e["key"] == key else e for e in entries]
            self._write(db, t, opk, row)
