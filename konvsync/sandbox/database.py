"""The sandbox's SQLite database: the connection, transactions (one per
mutation, one per request of several mutations) and the reads the API needs.
``store.Store`` adds the mutations and their contract rules.

Rows come back as dicts in the API's shape (camelCase, IDs as strings).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from konvsync.errors import UsageError
from konvsync.sandbox.rows import (
    ADDED_COLUMNS,
    MAX_PAGE,
    SEED_CATEGORIES,
    SEED_MODULES,
    TABLES,
    StoreError,
    decode_cursor,
    encode_cursor,
    now_stamp,
    parse_id,
    shape_row,
)


class Database:
    """The sandbox's data, in SQLite (a file or ``:memory:``)."""

    def __init__(self, path: str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            # One sandbox process owns its file: WAL, exclusive locking (no
            # shared-memory locking per transaction, which doubled the cost
            # of a commit) and synchronous=NORMAL (a crash of the process
            # loses nothing). The lock is taken now, so a second sandbox on
            # the same file fails at once with a clear message.
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.close()
                raise UsageError(
                    f"sandbox database {path} is in use by another sandbox "
                    f"process ({exc}); stop it or use another --db"
                ) from None
        self._db.executescript(TABLES)
        self._migrate()
        self._lock = threading.RLock()
        self._in_request = False
        self._rows: dict[tuple[str, int], dict[str, Any] | None] = {}
        """Shaped rows that nested fields referred to, by (table, id); every
        write empties it, so it never answers with anything stale."""

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        """Add what later releases added to a sandbox file made before, and
        give a new database the portal's own content (modules, categories)."""
        for table, column, declaration in ADDED_COLUMNS:
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        for table, column, rows in (
            ("lms_modules", "title", SEED_MODULES),
            ("dam_categories", "name", SEED_CATEGORIES),
        ):
            if self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0:
                self._db.executemany(
                    f"INSERT INTO {table} (slug, {column}) VALUES (?, ?)", list(rows)
                )

    def add_content(self, table: str, slug: str, title: str) -> dict[str, Any]:
        """Add an LMS module or DAM category (the portal's authors do that;
        tests and seeds use this)."""
        column = "title" if table == "lms_modules" else "name"
        with self.transaction() as db:
            cur = db.execute(f"INSERT INTO {table} (slug, {column}) VALUES (?, ?)", (slug, title))
        return self._fetch(table, cur.lastrowid)

    @contextmanager
    def request(self) -> Iterator[None]:
        """One transaction around a whole API request. Each mutation in it is
        a savepoint of its own (see ``transaction``), so it still succeeds or
        fails on its own, and the request commits once: a commit costs five
        times what a savepoint does, which mattered for batches of 50."""
        with self._lock:
            if self._in_request:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._in_request = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._in_request = False
            self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One mutation: all of it or nothing (a savepoint inside a request)."""
        with self._lock:
            begin, undo, end = (
                ("SAVEPOINT mutation", "ROLLBACK TO mutation", "RELEASE mutation")
                if self._in_request
                else ("BEGIN IMMEDIATE", "ROLLBACK", "COMMIT")
            )
            self._db.execute(begin)
            try:
                yield self._db
            except BaseException:
                self._db.execute(undo)
                if self._in_request:
                    self._db.execute(end)
                raise
            finally:
                self._rows.clear()
            self._db.execute(end)

    # ------------------------------------------------------------------ reads

    def page(
        self, table: str, first: int | None, after: str | None, cap: int | None = None
    ) -> dict[str, Any]:
        """One page; ``cap`` (the sandbox's --page-cap) shortens a valid
        ``first``, as a server of the contract may."""
        if first is None:
            first = 50
        if first < 0 or first > MAX_PAGE:
            raise StoreError(
                f"first must be between 0 and {MAX_PAGE}, got {first}", "BAD_USER_INPUT"
            )
        if cap is not None:
            first = min(first, cap)
        start = decode_cursor(after) if after else 0
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (start, first + 1)
            ).fetchall()
            total = self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        has_next = len(rows) > first
        rows = rows[:first]
        nodes = [shape_row(table, row) for row in rows]
        end = encode_cursor(rows[-1]["id"]) if rows else None
        return {
            "nodes": nodes,
            "pageInfo": {"hasNextPage": has_next, "endCursor": end},
            "totalCount": total,
        }

    def get(self, table: str, column: str, value: Any) -> dict[str, Any] | None:
        if column == "id":
            try:
                value = parse_id(table, value)
            except StoreError:
                return None
        with self._lock:
            row = self._db.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,)).fetchone()
        return shape_row(table, row) if row else None

    def get_many(self, table: str, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM {table} WHERE id IN ({marks})", ids).fetchall()
        by_id = {row["id"]: shape_row(table, row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def rows_by_id(self, table: str, ids: Iterable[int]) -> dict[int, dict[str, Any] | None]:
        """Shaped rows by ID (None: no such row), from the cache of referred
        rows where it has them: pages of users refer to the same accounts
        and groups again and again."""
        with self._lock:
            wanted = list(ids)
            missing = [i for i in wanted if (table, i) not in self._rows]
            if missing:
                found = {row["_pk"]: row for row in self.get_many(table, missing)}
                for i in missing:
                    self._rows[table, i] = found.get(i)
            return {i: self._rows[table, i] for i in wanted}

    def locations_of(self, account_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM locations WHERE account_id = ? ORDER BY id", (account_id,)
            ).fetchall()
        return [shape_row("locations", row) for row in rows]

    def locations_of_many(self, account_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Locations of several accounts in one query, by account ID."""
        out: dict[int, list[dict[str, Any]]] = {}
        if not account_ids:
            return out
        marks = ",".join("?" * len(account_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM locations WHERE account_id IN ({marks}) ORDER BY id", account_ids
            ).fetchall()
        for row in rows:
            out.setdefault(row["account_id"], []).append(shape_row("locations", row))
        return out

    def count(self, table: str) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def welcome_emails(self) -> list[str]:
        with self._lock:
            return [
                r[0] for r in self._db.execute("SELECT email FROM welcome_emails ORDER BY rowid")
            ]

    # ---------------------------------------------------------------- helpers

    def _set(
        self, db: sqlite3.Connection, table: str, row_id: int, sets: dict[str, Any], stamp: bool
    ) -> None:
        if stamp:
            sets["updated_at"] = now_stamp()
        if not sets:
            return
        assignments = ", ".join(f"{column} = ?" for column in sets)
        db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*sets.values(), row_id))

    def _fetch(self, table: str, row_id: int | None) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return shape_row(table, row)
