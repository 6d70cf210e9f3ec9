"""The desired state as the plan consumes it: per kind, objects keyed by
natural key with their source positions, and the policy with its defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from konvsync.config.scope import NO_SCOPE, Scope
from konvsync.errors import ConfigProblem
from konvsync.kinds.address import ObjectKey, key_path, object_key


class Source(NamedTuple):
    """A place in a config file (a tuple, ordered by file, line and column:
    a config load makes one per object)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def problem(self, message: str) -> ConfigProblem:
        """A validation problem at this place."""
        return ConfigProblem(self.file, self.line, self.column, message)


class DesiredObject(NamedTuple):
    """One object the configuration wants (a tuple: a config load makes one
    per object)."""

    kind: str
    key: str
    data: dict[str, Any]
    source: Source
    parent: str | None = None
    """The parent's key, for a child kind (``key`` is the key within it)."""

    @property
    def filed_key(self) -> ObjectKey:
        """Its key in ``DesiredState.objects[kind]``."""
        return object_key(self.key, self.parent)

    @property
    def path(self) -> str:
        """The keys from the top, for messages only (``dealers/east/HQ``)."""
        return key_path(self.key, self.parent)


@dataclass(frozen=True)
class Policy:
    prune: frozenset[str] = frozenset()
    protect: dict[str, frozenset[str]] = field(default_factory=dict)
    ignore_changes: dict[str, frozenset[str]] = field(default_factory=dict)
    max_delete_percent: float = 25.0
    send_welcome_email: bool = True
    max_welcome_emails: int = 50
    max_update_percent: float | None = None
    """Off (None) unless set."""
    scope: Scope = NO_SCOPE
    """What of the portal this configuration owns (``config.scope``)."""

    def is_protected(self, kind: str, key: str) -> bool:
        return key in self.protect.get(kind, frozenset())


@dataclass
class DesiredState:
    version: int
    endpoint: str | None
    portal: str | None
    policy: Policy
    objects: dict[str, dict[ObjectKey, DesiredObject]]
    """kind -> natural key (``(parent key, key)`` for a child kind) -> object,
    for every kind the config names."""
    files: list[str]
    digest: str
    layers: list[list[str]] = field(default_factory=list)
    """The files of each config path, in order (later paths override earlier ones)."""
    file_digests: dict[str, str] = field(default_factory=dict)
    """File -> sha256 of the bytes that were read."""
    unread: list[str] = field(default_factory=list)
    """Files below a config folder that were not read, nor read through
    another path (an editor's backup, a hidden or a .json file): named in
    ``warnings``; a plan that deletes says so again (``plan.planner``)."""
    linked_out: set[str] = field(default_factory=set)
    """The files of a config folder read through a link that leads out of
    it (``teams -> ../shared-teams``), which other configurations may share."""
    owners: dict[str, set[str]] = field(default_factory=dict)
    """Child kind -> keys of the parents that list it (an account that lists
    ``locations`` owns its whole set of locations)."""
    external_references: list[tuple[DesiredObject, Any]] | None = field(default=None, repr=False)
    """(object, ``kinds.Reference``) for each reference to a key the config
    does not define, found while loading: only these need the portal."""
    warnings: list[ConfigProblem] = field(default_factory=list)
    """What is valid but unwise (a sensitive value written in the YAML)."""
    sensitive_env: dict[tuple[str, ObjectKey, str], str] = field(default_factory=dict, repr=False)
    """(kind, filed key, field) -> the environment variable a sensitive value came
    from (a saved plan stores that name, not the value)."""
    retold: dict[Source, str] = field(default_factory=dict, repr=False)
    """Where a plain scalar is written that YAML read as a number or boolean
    whose own text is another (``1_000``, ``yes``) -> the text written
    (``yaml_loader.retells``)."""

    @property
    def kinds(self) -> list[str]:
        return list(self.objects)

    def count(self) -> int:
        return sum(len(v) for v in self.objects.values())
