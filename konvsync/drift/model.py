"""Drift as a view of the plan: the plan's changes read from the portal's
side (an update is a change made in the portal, a create an object deleted
there, a delete an object created there), with what ``--write`` accepted
into the YAML. The plan's renderers show it (``render.wording``); nothing
here prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from konvsync import __version__
from konvsync.kinds import kind
from konvsync.kinds.address import Address
from konvsync.plan.changes import Change, Create, Plan, masked

CATEGORIES = {"update": "changed", "create": "deleted", "delete": "created"}
"""A plan's action -> where the change was made in the portal."""


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


@dataclass
class WriteResult:
    """What ``drift --write`` did to the files."""

    files: list[str] = field(default_factory=list)
    """The files it changed, in the config's order."""
    kept: list[KeptValue] = field(default_factory=list)


@dataclass
class DriftReport:
    plan: Plan
    """The plan's changes (an update's ``before`` is the portal's whole
    object), then the unmanaged objects as deletes apply would not make."""
    unmanaged: frozenset[Address] = frozenset()
    """Objects of configured kinds not in policy.prune that the YAML does
    not list (looked for with ``--include-unmanaged``)."""
    include_unmanaged: bool = False
    written: WriteResult | None = None
    """Set by ``--write``."""
    moved_out: frozenset[Address] = frozenset()
    """Objects the YAML lists that the portal holds outside policy.scope
    (moved out of it by hand): ``apply`` cannot bring them back."""

    FORMAT_VERSION: ClassVar[str] = "2"
    """2: a child object's ``key`` is its own, its parent's key ``parent``."""

    @property
    def has_drift(self) -> bool:
        return self.plan.has_changes

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(
            "unmanaged" if c.address in self.unmanaged else CATEGORIES[c.action]
            for c in self.plan.changes
        )
        return {name: counts[name] for name in ("changed", "deleted", "created", "unmanaged")}

    @property
    def data(self) -> dict[str, Any]:
        return {
            "format_version": self.FORMAT_VERSION,
            "konvsync_version": __version__,
            "endpoint": self.plan.endpoint,
            "portal": self.plan.portal,
            "include_unmanaged": self.include_unmanaged,
            "summary": self.counts,
            "warnings": list(self.plan.warnings),
            "drift": [self._item(change) for change in self.plan.changes],
            "written": asdict(self.written) if self.written else None,
        }

    def _item(self, change: Change) -> dict[str, Any]:
        sensitive = kind(change.kind).sensitive_names
        shown = masked(change)
        data: dict[str, Any] = {
            "category": CATEGORIES[change.action],
            "kind": change.kind,
            "key": change.key,
            "managed": change.address not in self.unmanaged,
            "fields": [
                {"path": f.path, "portal": f.before, "config": f.after}
                | {"sensitive": f.top in sensitive}
                for f in shown.fields
            ],
            "portal": None if isinstance(change, Create) else shown.before,
            "config": shown.after,
            "updated_at": change.updated_at,
        }
        optional: dict[str, Any] = {"parent": change.parent, "id": change.remote_id}
        optional |= {"note": change.note, "source": change.source and str(change.source)}
        return data | {name: value for name, value in optional.items() if value}
