"""Drift as value objects: what changed in the portal, seen from the
portal's side (changed, deleted or created there), and what ``--write``
accepted into the YAML. Renderers turn a ``DriftReport`` into text, JSON or
Markdown; nothing here prints."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from konvsync import __version__
from konvsync.config.model import Source
from konvsync.kinds import kind
from konvsync.kinds.address import ObjectKey, key_path, object_key

Category = Literal["changed", "deleted", "created"]
CATEGORIES: tuple[Category, ...] = ("changed", "deleted", "created")
SENSITIVE = "(sensitive)"
"""What every output shows instead of a sensitive value."""


@dataclass(frozen=True)
class FieldDrift:
    path: str
    """Dotted path below the object: ``name``, ``customFields.tier``."""
    portal: Any
    """The portal's value (what ``--write`` accepts)."""
    config: Any
    """The configuration's value (what ``apply`` would restore)."""
    sensitive: bool = False

    @property
    def top(self) -> str:
        return self.path.split(".", 1)[0]

    def to_data(self) -> dict[str, Any]:
        hide = self.sensitive
        return {
            "path": self.path,
            "portal": SENSITIVE if hide else self.portal,
            "config": SENSITIVE if hide else self.config,
            "sensitive": self.sensitive,
        }


@dataclass(frozen=True)
class ObjectDrift:
    """One object that differs: ``changed`` in the portal (``fields`` say
    how), ``deleted`` in the portal (the YAML still lists it), or
    ``created`` in the portal (the YAML does not list it: with ``managed``
    its kind is pruned and apply would delete it; otherwise it is
    unmanaged)."""

    category: Category
    kind: str
    key: str
    fields: tuple[FieldDrift, ...] = ()
    portal: dict[str, Any] | None = None
    """The portal's object as konvsync normalizes it (changed, created)."""
    config: dict[str, Any] | None = None
    """The configuration's object (changed, deleted)."""
    updated_at: str | None = None
    """The portal's ``updatedAt`` where the API has one."""
    source: Source | None = None
    """Where the YAML defines the object (changed, deleted)."""
    remote_id: str | None = None
    managed: bool = True
    note: str | None = None
    parent: str | None = None
    """The parent's key, for a child kind (``key`` is the key within it)."""

    @property
    def address(self) -> str:
        """For display: ``locations/dealers/east/HQ``."""
        return f"{self.kind}/{self.path}"

    @property
    def path(self) -> str:
        return key_path(self.key, self.parent)

    @property
    def filed_key(self) -> ObjectKey:
        return object_key(self.key, self.parent)

    @property
    def changed_label(self) -> str | None:
        """``changed 2026-11-29 14:02 UTC`` from ``updated_at``, when it reads as a time."""
        return changed_label(self.updated_at)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "category": self.category,
            "kind": self.kind,
            "key": self.key,
            "managed": self.managed,
            "fields": [f.to_data() for f in self.fields],
            "portal": redacted(self.kind, self.portal),
            "config": redacted(self.kind, self.config),
            "updated_at": self.updated_at,
        }
        if self.parent is not None:
            data["parent"] = self.parent
        if self.remote_id is not None:
            data["id"] = self.remote_id
        if self.source is not None:
            data["source"] = str(self.source)
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class KeptValue:
    """Drift that ``--write`` reported but left in the YAML as it is, and why."""

    address: str
    path: str | None
    """The field, or None for the whole object."""
    reason: str

    def __str__(self) -> str:
        where = f"{self.address} {self.path}" if self.path else self.address
        return f"{where}: {self.reason}"

    def to_data(self) -> dict[str, Any]:
        return {"address": self.address, "path": self.path, "reason": self.reason}


@dataclass
class WriteResult:
    """What ``drift --write`` did to the files."""

    files: list[str] = field(default_factory=list)
    """The files it changed, in the config's order."""
    kept: list[KeptValue] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {"files": list(self.files), "kept": [k.to_data() for k in self.kept]}


@dataclass
class DriftReport:
    items: list[ObjectDrift]
    endpoint: str
    portal: str | None
    include_unmanaged: bool = False
    warnings: list[str] = field(default_factory=list)
    written: WriteResult | None = None
    """Set by ``--write``."""

    FORMAT_VERSION: ClassVar[str] = "2"
    """2: a child object's ``key`` is its own, its parent's key ``parent``."""

    @property
    def has_drift(self) -> bool:
        return bool(self.items)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"changed": 0, "deleted": 0, "created": 0, "unmanaged": 0}
        for item in self.items:
            counts["unmanaged" if not item.managed else item.category] += 1
        return counts

    def section(self, name: str) -> list[ObjectDrift]:
        """The items of one section: a category, or ``unmanaged``."""
        if name == "unmanaged":
            return [i for i in self.items if not i.managed]
        return [i for i in self.items if i.category == name and i.managed]

    @property
    def data(self) -> dict[str, Any]:
        return {
            "format_version": self.FORMAT_VERSION,
            "konvsync_version": __version__,
            "endpoint": self.endpoint,
            "portal": self.portal,
            "include_unmanaged": self.include_unmanaged,
            "summary": self.counts,
            "warnings": list(self.warnings),
            "drift": [item.to_data() for item in self.items],
            "written": self.written.to_data() if self.written else None,
        }


SECTIONS: tuple[tuple[str, str], ...] = (
    ("changed", "Changed in the portal"),
    ("deleted", "Deleted in the portal"),
    ("created", "Created in the portal (apply would delete them)"),
    ("unmanaged", "Created in the portal, not managed (kinds not in policy.prune)"),
)


def redacted(kind_name: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """``data`` with the values of sensitive fields replaced by ``(sensitive)``."""
    if data is None:
        return None
    fields = kind(kind_name).field_map
    return {
        name: SENSITIVE if _is_sensitive(fields.get(name)) and value is not None else value
        for name, value in data.items()
    }


def _is_sensitive(f: Any) -> bool:
    return bool(f is not None and f.sensitive)


def changed_label(updated_at: str | None) -> str | None:
    if not updated_at:
        return None
    try:
        when = dt.datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
    except ValueError:
        return f"changed {updated_at}"
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return f"changed {when:%Y-%m-%d %H:%M} UTC"


def summary_line(report: DriftReport) -> str:
    counts = report.counts
    parts = [
        f"{counts['changed']} changed",
        f"{counts['deleted']} deleted",
        f"{counts['created']} created",
    ]
    if report.include_unmanaged:
        parts.append(f"{counts['unmanaged']} unmanaged")
    return f"Drift: {', '.join(parts)} in the portal."


NO_DRIFT = "No drift. The portal matches the configuration."
