"""What an apply is asked to do and what came of it, as values: options,
each change's result (a ``Status``), the report, and the interrupt flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from konvsync.kinds.address import Address
from konvsync.plan.changes import Change, Delete

NOT_AS_SENT = "NOT_AS_SENT"
"""konvsync's code for a mutation the portal answered with other values than
were sent (it stores them in another form, or ignores a field): the next
plan sends the same, and the portal answers the same."""
PERMANENT_CODES = frozenset({"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "CONFLICT", NOT_AS_SENT})
"""Error codes another run meets again: the config or the portal must change first."""
Progress = Callable[[str, int, int], None]
"""(step label, done in step, total in step)"""
Checkpoint = Callable[["ApplyReport", bool], None]
"""Called with the report so far whenever it changed: ``True`` right before a
step's changes are sent (the report must say so before they go), ``False``
after answers arrived (the caller may wait to gather several)."""


class Verify(StrEnum):
    """What ``apply`` reads back after the run (``--verify``). Every mutation's
    answer is checked against what was sent in every mode."""

    UPDATES = "updates"
    """The fields each update wrote (and objects whose create got no
    answer): an answer may be built from the input rather than from what the
    portal stored, and an update that was not stored leaves the old value,
    which may be access meant to be taken away. Creates and deletes rest on
    their answers."""
    FULL = "full"
    """Every object the run changed, every field; deletes must be gone."""
    NONE = "none"
    """Nothing: the answers only."""


@dataclass(frozen=True)
class ApplyOptions:
    batch_size: int = 50
    parallelism: int = 8
    send_welcome_email: bool = True
    verify: Verify = Verify.UPDATES
    """What is read back after the run and compared with the plan."""


class Status(StrEnum):
    """What became of one change."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class ChangeResult(NamedTuple):
    """What became of one change (a tuple: one per change of a run, made in
    a third of the time of a frozen dataclass)."""

    change: Change
    status: Status
    message: str | None = None
    code: str | None = None
    """The API's error code of a failed change (INTERRUPTED, ABANDONED,
    NOT_AS_SENT: ours)."""

    @property
    def permanent(self) -> bool:
        """Failed or skipped for a reason running apply again does not change."""
        return self.code in PERMANENT_CODES


@dataclass(frozen=True)
class Mismatch:
    """An object the portal does not hold as planned, found after the run."""

    change: Change
    message: str


@dataclass
class ApplyReport:
    results: list[ChangeResult] = field(default_factory=list)
    interrupted: bool = False
    mismatches: list[Mismatch] = field(default_factory=list)
    verified: bool = False
    """The changed objects were read back after the run."""
    verify: Verify | None = None
    """What was to be read back (None: nothing, ``--verify=none``)."""
    unverified: str | None = None
    """Why reading back after the run failed (the run is not ok then)."""
    warnings: list[str] = field(default_factory=list)
    announced: dict[Address, dict[str, Any]] = field(default_factory=dict)
    """Address -> the portal's values (``Field.announce``) of each object
    created: an invite link's URL is what the administrator wants next."""
    created_ids: dict[Address, str] = field(default_factory=dict)
    """address -> server ID of each object this run created."""
    pending: list[Change] = field(default_factory=list)
    """The changes of the step under way (sent, or about to be): those
    without a result yet may or may not have been applied."""

    def done_as(self, change: Change) -> None:
        """The done result at ``change``'s address now stands for ``change``
        (a planned change done in two parts, ``apply.tightening``)."""
        for index, result in enumerate(self.results):
            if result.change.address == change.address and result.status is Status.DONE:
                self.results[index] = ChangeResult(change, Status.DONE, result.message)
                return

    @property
    def unsettled(self) -> list[Change]:
        """The pending changes that have no result yet."""
        if not self.pending:
            return []
        settled = {id(r.change) for r in self.results}
        return [change for change in self.pending if id(change) not in settled]

    def count(self, status: Status, action: str | None = None) -> int:
        return sum(
            1
            for r in self.results
            if r.status == status and (action is None or r.change.action == action)
        )

    @property
    def ok(self) -> bool:
        return (
            not self.interrupted
            and not self.mismatches
            and self.unverified is None
            and all(r.status is Status.DONE for r in self.results)
        )

    @property
    def problems(self) -> list[ChangeResult]:
        return [r for r in self.results if r.status is not Status.DONE]

    @property
    def permanent_codes(self) -> list[str]:
        return sorted({r.code for r in self.problems if r.permanent and r.code})

    @property
    def rerun_helps(self) -> bool:
        """Whether running apply again may finish the job: something was
        interrupted, or failed (or was skipped) for a transient reason."""
        return (
            self.interrupted
            or self.unverified is not None
            or any(not r.permanent for r in self.problems)
        )


class Interrupted:
    """Set by Ctrl-C: no new work is sent; requests in flight finish."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self) -> None:
        self.is_set = True


@dataclass
class Cascades:
    """Deletes done by their parent's delete (a location's by its account's),
    which runs in a later step: each takes its parent's outcome, since a
    child whose parent was not deleted is still there."""

    waiting: dict[Address | None, list[Change]] = field(default_factory=dict)
    """Parent's address -> its children (None: a child without one, which
    only an edited plan file can hold: it waits for nothing, see ``rest``)."""

    def add(self, change: Change) -> None:
        self.waiting.setdefault(change.address.parent, []).append(change)

    def follow(self, parent: Change, status: Status, code: str | None) -> list[ChangeResult]:
        """The results of the children of ``parent``, now that it has one."""
        children = self.waiting.pop(parent.address, []) if isinstance(parent, Delete) else []
        if status is Status.DONE:
            return [ChangeResult(child, Status.DONE) for child in children]
        why = f"depends on {parent.address}, which {status}"
        return [ChangeResult(child, Status.SKIPPED, why, code) for child in children]

    def rest(self) -> list[Change]:
        """Children whose parent got no result (its delete was not in the plan)."""
        rest = [child for children in self.waiting.values() for child in children]
        self.waiting.clear()
        return rest
