"""The sandbox's SQLite database: one table of objects of every kind, the
connection, transactions (one per mutation, one per request of several
mutations) and the reads the API needs. ``store.Store`` adds the mutations
and their contract rules.

An object is a row (kind, number, parent's number, normalized natural key,
JSON data); objects come back as dicts in the API's shape: ``id`` as the
API writes it (``grp_1``), ``_pk`` its number, ``_parent`` its parent's,
fields under their output names with references as numbers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from konvsync.errors import SandboxBusy, UsageError
from konvsync.sandbox import rules
from konvsync.sandbox.model import Table, tables
from konvsync.sandbox.rows import (
    MAX_PAGE,
    StoreError,
    decode_cursor,
    encode_cursor,
    format_id,
    parse_id,
)

LAYOUT = 2
"""``PRAGMA user_version`` of a sandbox file of this layout (1: a table per kind)."""

TABLES = """
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL, id INTEGER NOT NULL, parent INTEGER, key TEXT, data TEXT NOT NULL,
  PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_key ON objects(kind, key);
CREATE INDEX IF NOT EXISTS objects_parent ON objects(kind, parent) WHERE parent IS NOT NULL;
CREATE TABLE IF NOT EXISTS sequences (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mail (object TEXT NOT NULL, address TEXT NOT NULL);
"""

Row = dict[str, Any]
_decode = json.JSONDecoder().decode


def _unopenable(path: str, exc: Exception) -> UsageError:
    """The user's to correct: a path that is a folder, below a file, or a
    file that is no SQLite database."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return UsageError(
        f"sandbox database {path} cannot be opened ({reason}); use another file "
        "(--db, KONVSYNC_SANDBOX_DB)"
    )


class Database:
    """The sandbox's data, in SQLite (a file or ``:memory:``)."""

    def __init__(self, path: str = ":memory:", kinds: Mapping[str, Table] | None = None) -> None:
        self.tables = kinds if kinds is not None else tables()
        """The kinds it stores (by default every kind konvsync knows)."""
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # timeout=0: no busy wait (SQLite's default is 5 s) for a file
            # another process holds; this process is the file's only user.
            self._db = sqlite3.connect(
                path, timeout=0, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise _unopenable(path, exc) from None
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
                raise SandboxBusy(
                    f"sandbox database {path} is in use by another sandbox "
                    f"process ({exc}); stop it or use another --db",
                    path,
                ) from None
            except sqlite3.DatabaseError as exc:  # a file that is no SQLite database
                self._db.close()
                raise _unopenable(path, exc) from None
        self._check_layout(path)
        self._db.executescript(TABLES)
        self._db.execute(f"PRAGMA user_version = {LAYOUT}")
        self._lock = threading.RLock()
        self._in_request = False
        self._rows: dict[tuple[str, int], Row | None] = {}
        """Objects that nested fields referred to, by (kind, number); every
        write empties it, so it never answers with anything stale."""
        self._counts: dict[str, int] = {}
        """Objects per kind (every page answers it; counting one kind among
        all objects costs several times the page), emptied by every write."""
        self._add_content()

    def table(self, kind: str) -> Table:
        try:
            return self.tables[kind]
        except KeyError:
            raise KeyError(f"the sandbox has no kind {kind!r}") from None

    def close(self) -> None:
        self._db.close()

    def _check_layout(self, path: str) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        used = self._db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if version != LAYOUT and used.fetchone()[0] > 0:
            self._db.close()
            raise UsageError(
                f"sandbox database {path} was made by an older konvsync (a table per kind) "
                "and cannot be read by this one: delete it to start over (--seed fills the "
                "new one), or use another file (--db, KONVSYNC_SANDBOX_DB)"
            )

    def _add_content(self) -> None:
        """Give a new database the portal's own content (modules, categories)."""
        for name, objects in rules.CONTENT.items():
            if name in self.tables and self.count(name) == 0:
                with self.transaction() as db:
                    for data in objects:
                        self._insert(db, self.table(name), dict(data), None)

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
                self._counts.clear()
            self._db.execute(end)

    # ------------------------------------------------------------------ reads

    def _shape(self, t: Table, pk: int, parent: int | None, data: Row) -> Row:
        row: Row = {"id": format_id(t.prefix, pk), "_pk": pk, "_parent": parent}
        row.update(data)
        computed = rules.COMPUTED.get(t.name)
        if computed is not None:
            computed(row)
        return row

    def _select(self, t: Table, where: str, args: Iterable[Any]) -> list[Row]:
        with self._lock:
            found = self._db.execute(
                f"SELECT id, parent, data FROM objects WHERE kind = ? AND {where}",
                (t.name, *args),
            ).fetchall()
        return [self._shape(t, pk, parent, _decode(data)) for pk, parent, data in found]

    def page(self, kind: str, first: int | None, after: str | None, cap: int | None = None) -> Row:
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
        t = self.table(kind)
        rows = self._select(t, "id > ? ORDER BY id LIMIT ?", (start, first + 1))
        has_next = len(rows) > first
        rows = rows[:first]
        end = encode_cursor(rows[-1]["_pk"]) if rows else None
        return {
            "nodes": rows,
            "pageInfo": {"hasNextPage": has_next, "endCursor": end},
            "totalCount": self.count(kind),
        }

    def get(self, kind: str, id: str | None = None, key: Any = None) -> Row | None:
        """The object with ID ``id`` or natural key ``key`` (normalized as
        the kind compares keys; the first of several when not unique)."""
        t = self.table(kind)
        if id is not None:
            pk = parse_id(t.prefix, id)
            found = self._select(t, "id = ?", (pk,)) if pk is not None else []
        else:
            normalized = t.kind.key_of({t.kind.key_field: key})
            found = self._select(t, "key = ? ORDER BY id LIMIT 1", (normalized,))
        return found[0] if found else None

    def rows_by_id(self, kind: str, pks: Iterable[int]) -> dict[int, Row | None]:
        """Objects by number (None: no such object), from the cache of
        referred objects where it has them: pages of users refer to the same
        accounts and groups again and again."""
        with self._lock:
            wanted = list(pks)
            missing = [pk for pk in wanted if (kind, pk) not in self._rows]
            if missing:
                marks = ",".join("?" * len(missing))
                found = {
                    row["_pk"]: row
                    for row in self._select(self.table(kind), f"id IN ({marks})", missing)
                }
                for pk in missing:
                    self._rows[kind, pk] = found.get(pk)
            return {pk: self._rows[kind, pk] for pk in wanted}

    def children(self, kind: str, parent_id: str) -> list[Row]:
        """The objects of child kind ``kind`` in the object with ID ``parent_id``."""
        parent = self.table(self.table(kind).kind.parent or "")
        pk = parse_id(parent.prefix, parent_id)
        return self.children_of(kind, [pk])[pk] if pk is not None else []

    def children_of(self, kind: str, parents: list[int]) -> dict[int, list[Row]]:
        """The objects of child kind ``kind`` in each of ``parents`` (numbers), in one query."""
        out: dict[int, list[Row]] = {pk: [] for pk in parents}
        if parents:
            marks = ",".join("?" * len(parents))
            for row in self._select(self.table(kind), f"parent IN ({marks}) ORDER BY id", parents):
                out[row["_parent"]].append(row)
        return out

    def objects(self, kind: str) -> list[Row]:
        """Every object of ``kind`` (the rules' look-ups: a few account fields)."""
        return self._select(self.table(kind), "1 ORDER BY id", ())

    def count(self, kind: str) -> int:
        with self._lock:
            if kind not in self._counts:
                found = self._db.execute("SELECT COUNT(*) FROM objects WHERE kind = ?", (kind,))
                self._counts[kind] = int(found.fetchone()[0])
            return self._counts[kind]

    def welcome_emails(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT address FROM mail ORDER BY rowid")]

    # ----------------------------------------------------------------- writes

    def _insert(self, db: sqlite3.Connection, t: Table, data: Row, parent: int | None) -> int:
        """Store a new object (checked already); its number."""
        pk: int = db.execute(
            "INSERT INTO sequences VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET last = last + 1"
            " RETURNING last",
            (t.name,),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO objects VALUES (?, ?, ?, ?, ?)",
            (t.name, pk, parent, t.kind.key_of(data), json.dumps(data)),
        )
        return pk

    def _write(self, db: sqlite3.Connection, t: Table, pk: int, data: Row) -> None:
        db.execute(
            "UPDATE objects SET key = ?, data = ? WHERE kind = ? AND id = ?",
            (t.kind.key_of(data), json.dumps(data), t.name, pk),
        )
