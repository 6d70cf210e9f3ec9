"""Changes as small value objects: ``Create``, ``Update``, ``Delete``, each
with kind, key, before, after and field-level changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from konvsync import __version__
from konvsync.config.model import Source
from konvsync.config.scope import NO_SCOPE, Scope
from konvsync.kinds import kind
from konvsync.kinds.address import Address, ObjectKey, object_key
from konvsync.plan.outside import OutsideConcern


@dataclass(frozen=True)
class FieldChange:
    path: str
    """Dotted path below the object: ``name``, ``customFields.tier``."""
    before: Any
    after: Any

    @property
    def top(self) -> str:
        return self.path.split(".", 1)[0]

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Change:
    action: ClassVar[str] = ""
    symbol: ClassVar[str] = ""

    kind: str
    key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    fields: tuple[FieldChange, ...] = ()
    remote_id: str | None = None
    source: Source | None = None
    note: str | None = None
    """Why, when it is not obvious: adoption, cascade."""
    parent: str | None = None
    """The parent's key, for a child kind (``key`` is the key within it)."""
    updated_at: str | None = None
    """When the portal last changed the object, where its API type says
    (``updatedAt``): drift, the plan read from the portal's side, shows it."""

    @cached_property
    def address(self) -> Address:
        """Made once per change: apply asks for it about ten times per object."""
        return kind(self.kind).address(self.key, self.parent)

    @property
    def filed_key(self) -> ObjectKey:
        """The key its object is filed under in its kind (desired and remote state)."""
        return object_key(self.key, self.parent)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "address": str(self.address),
            "before": self.before,
            "after": self.after,
            "fields": [f.to_data() for f in self.fields],
        }
        if self.remote_id is not None:
            data["id"] = self.remote_id
        if self.source is not None:
            data["source"] = str(self.source)
        if self.note:
            data["note"] = self.note
        if self.parent is not None:
            data["parent"] = self.parent
        return data


@dataclass(frozen=True)
class Create(Change):
    action: ClassVar[str] = "create"
    symbol: ClassVar[str] = "+"


ChangeT = TypeVar("ChangeT", bound=Change)


def created(
    kind_name: str, key: str, after: dict[str, Any], source: Source | None, parent: str | None
) -> Create:
    """``Create(kind_name, key, None, after, source=source, parent=parent)``,
    made by ``_made``: a cold plan makes one per object, and their frozen
    dataclass's ``__init__`` was a fifth of its instructions (2,000 users:
    128 -> 100 million)."""
    return _made(Create, kind_name, key, None, after, (), None, source, None, parent)


def _made(
    cls: type[ChangeT],
    kind_name: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    fields: tuple[FieldChange, ...],
    remote_id: str | None,
    source: Source | None,
    note: str | None,
    parent: str | None,
) -> ChangeT:
    """A ``cls`` with ``Change``'s fields set as its ``__init__`` sets them,
    without the ``object.__setattr__`` call per field (ten) that a frozen
    dataclass's ``__init__`` makes; a subclass's own fields are the
    caller's to set, after these."""
    change = object.__new__(cls)
    # One key at a time, in the order of the fields, as ``__init__`` sets
    # them: the dict then shares its keys with the class's other instances.
    # Filled at once (``update``), it took twice the memory, and the peak
    # of a 100,000-user cold apply rose from 386 to 432 MB.
    values = vars(change)
    values["kind"] = kind_name
    values["key"] = key
    values["before"] = before
    values["after"] = after
    values["fields"] = fields
    values["remote_id"] = remote_id
    values["source"] = source
    values["note"] = note
    values["parent"] = parent
    values["updated_at"] = None
    return change


@dataclass(frozen=True)
class Update(Change):
    action: ClassVar[str] = "update"
    symbol: ClassVar[str] = "~"
    adopt: bool = False
    """Sets the natural key on a remote object that had none."""
    renamed_from: str | None = None
    """The key the object has in the portal (``renamedFrom``/``previousEmails``):
    this update changes it in place."""

    def changed_fields(self) -> list[str]:
        return list(dict.fromkeys(f.top for f in self.fields))

    def to_data(self) -> dict[str, Any]:
        data = {**super().to_data(), "adopt": self.adopt}
        if self.renamed_from is not None:
            data["renamed_from"] = self.renamed_from
        return data


def updated(
    kind_name: str,
    key: str,
    before: dict[str, Any],
    after: dict[str, Any],
    fields: tuple[FieldChange, ...],
    remote_id: str | None,
    source: Source | None,
    note: str | None,
    parent: str | None,
    adopt: bool,
    renamed_from: str | None,
) -> Update:
    """``Update(kind_name, key, before, after, fields, remote_id, source,
    note=note, parent=parent, adopt=adopt, renamed_from=renamed_from)``,
    made by ``_made`` as a create is: the frozen dataclass's ``__init__``
    took 23,000 instructions per update, 25 million for the 1,100 of the
    10,000-user drift."""
    change = _made(Update, kind_name, key, before, after, fields, remote_id, source, note, parent)
    values = vars(change)
    values["adopt"] = adopt
    values["renamed_from"] = renamed_from
    return change


@dataclass(frozen=True)
class Delete(Change):
    action: ClassVar[str] = "delete"
    symbol: ClassVar[str] = "-"
    cascade: bool = False
    """Deleted by the server with its parent; no mutation of its own."""

    def to_data(self) -> dict[str, Any]:
        return {**super().to_data(), "cascade": self.cascade}


def replaced(change: ChangeT, **values: Any) -> ChangeT:
    """``dataclasses.replace(change, **values)``: its fields set one at a
    time in their order, as ``created`` sets them, without ``replace``'s
    look-up of each field and ``__init__``'s ``object.__setattr__`` per
    field. Drift copies every change of its plan so, with the portal's
    side: its report of the 10,000-user drift's 1,300 changes took 63
    million instructions, now 32 million."""
    copy = object.__new__(type(change))
    own, theirs = vars(copy), vars(change)
    for name in _FIELD_NAMES[type(change)]:
        own[name] = values.pop(name) if name in values else theirs[name]
    if values:
        raise TypeError(f"{type(change).__name__} has no field {', '.join(values)}")
    return copy


class _Sensitive:
    """The stand-in for a sensitive value: ``(sensitive)`` wherever shown."""

    def __repr__(self) -> str:
        return "(sensitive)"

    __str__ = __repr__


SENSITIVE: Any = _Sensitive()


def masked(change: Change) -> Change:
    """``change`` with every sensitive value replaced by ``SENSITIVE``."""
    names = kind(change.kind).sensitive_names
    if not names:
        return change
    return replace(
        change,
        before=_mask(change.before, names),
        after=_mask(change.after, names),
        fields=tuple(
            FieldChange(f.path, _hide(f.before), _hide(f.after)) if f.top in names else f
            for f in change.fields
        ),
    )


def _mask(data: dict[str, Any] | None, names: frozenset[str]) -> dict[str, Any] | None:
    if data is None or not names.intersection(data):
        return data
    return {name: _hide(value) if name in names else value for name, value in data.items()}


def _hide(value: Any) -> Any:
    return None if value is None else SENSITIVE


CHANGE_TYPES: dict[str, type[Change]] = {c.action: c for c in (Create, Update, Delete)}
_FIELD_NAMES = {c: tuple(f.name for f in fields(c)) for c in CHANGE_TYPES.values()}
"""Each kind of change's fields, in their order (``replaced``)."""


def change_from_data(data: dict[str, Any]) -> Change:
    """The inverse of ``Change.to_data`` (for saved plans). A create's values
    are taken as ``plan.diff`` makes them (``normalize_desired``, its case
    kept), also where the file was edited: they are sent as a plan's, and
    its answer is compared with them (``apply.checks.compared_fields``)."""
    cls = CHANGE_TYPES[data["action"]]
    after = data.get("after")
    if cls is Create and isinstance(after, dict):
        after = kind(data["kind"]).normalize_desired(after, keep_case=True)
    extra: dict[str, Any] = {}
    if cls is Update:
        extra["adopt"] = bool(data.get("adopt"))
        extra["renamed_from"] = data.get("renamed_from")
    if cls is Delete:
        extra["cascade"] = bool(data.get("cascade"))
    return cls(
        kind=data["kind"],
        key=data["key"],
        before=data.get("before"),
        after=after,
        fields=tuple(FieldChange(f["path"], f["before"], f["after"]) for f in data["fields"]),
        remote_id=data.get("id"),
        source=_source_from_text(data.get("source")),
        note=data.get("note"),
        parent=data.get("parent"),
        **extra,
    )


def saved_key(change: Change) -> str:
    """What a saved plan files what it keeps of ``change``'s object under
    (its digest, its sensitive values): the address's parts as a JSON list
    (``["locations", "a/b", "c"]``), which, unlike the displayed address, two
    objects never share."""
    return json.dumps(change.address.parts, ensure_ascii=False)


def _source_from_text(text: str | None) -> Source | None:
    """``file:line:col`` back to a ``Source`` (None when absent or unreadable)."""
    if not text:
        return None
    file, _, rest = text.rpartition(":")
    file, _, line = file.rpartition(":")
    if not (file and line.isdigit() and rest.isdigit()):
        return None
    return Source(file, int(line), int(rest))


class RefusalCheck(StrEnum):
    """Every safety check that can refuse a plan: the one list the plan
    schema's ``refused.check`` is generated from."""

    PORTAL_GUARD = "portal_guard"
    """The config's ``portal`` is not the portal the endpoint serves."""
    MASS_DELETE = "mass_delete"
    """More than ``policy.max_delete_percent`` of a kind deleted."""
    MASS_UPDATE = "mass_update"
    """More than ``policy.max_update_percent`` of a kind updated."""
    WELCOME_EMAILS = "welcome_emails"
    """More welcome e-mails than ``policy.max_welcome_emails``."""
    STALE_PLAN = "stale_plan"
    """A saved plan the portal moved away from."""


@dataclass(frozen=True)
class Refusal:
    """Why a plan may not be applied (exit 3), and the numbers behind it."""

    check: RefusalCheck
    reason: str
    numbers: dict[str, Any]

    def to_data(self) -> dict[str, Any]:
        return {"check": self.check.value, "reason": self.reason, "numbers": self.numbers}


@dataclass
class Plan:
    """Changes in apply order, with what a reviewer needs to know."""

    changes: list[Change]
    endpoint: str
    portal: str | None
    warnings: list[str] = field(default_factory=list)
    welcome_emails: int = 0
    refused: Refusal | None = None
    """Set when a safety check refused the plan: it is shown, never applied."""
    scope: Scope = NO_SCOPE
    """``policy.scope``: the part of the portal the plan was made for (a
    saved plan is checked and applied within the same)."""
    outside: list[OutsideConcern] = field(default_factory=list)
    """What its warnings about objects outside the scope concern, in full:
    a saved plan is stale when the portal read again names more."""

    FORMAT_VERSION: ClassVar[str] = "2"
    """2: a child object's ``key`` is its own (a location's name), its
    parent's key is ``parent``; in 1 the key was joined to the parent's."""

    @property
    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "destroy": 0}
        for change in self.changes:
            counts[{"create": "add", "update": "change", "delete": "destroy"}[change.action]] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def by_kind(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for change in self.changes:
            out.setdefault(change.kind, []).append(change)
        return out

    @property
    def data(self) -> dict[str, Any]:
        """The plan as data, sensitive values shown as ``(sensitive)``."""
        data: dict[str, Any] = {
            "format_version": self.FORMAT_VERSION,
            "konvsync_version": __version__,
            "endpoint": self.endpoint,
            "portal": self.portal,
            "summary": self.counts,
            "warnings": list(self.warnings),
            "welcome_emails": self.welcome_emails,
        }
        if self.outside:
            data["outside"] = [concern.to_data() for concern in self.outside]
        if self.scope:
            data["scope"] = self.scope.to_data()
        if self.refused is not None:
            data["refused"] = self.refused.to_data()
        data["changes"] = [masked(c).to_data() for c in self.changes]
        return data
