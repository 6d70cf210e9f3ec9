"""Executing a plan: ordered steps, batched concurrent mutations, and
consistency when the network or the API misbehaves.

Order: creates and updates of groups and accountFields, then accounts,
locations, users; then deletes in reverse. References use server IDs,
including those of objects created earlier in the run. A failed change
skips the changes that depend on it. After an ambiguous create (sent, no
answer) the object is read back by its key before anything is resent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from konvsync.api.batching import CallNotBuilt, MutationCall, MutationOutcome, run_mutations
from konvsync.api.client import PortalClient
from konvsync.api.documents import operation_text
from konvsync.api.pagination import read_all
from konvsync.errors import KonvsyncError
from konvsync.kinds import KINDS, kind, references
from konvsync.kinds.base import Kind
from konvsync.kinds.locations import split_location_key
from konvsync.plan.changes import Change, Create, Delete, FieldChange, Plan, Update
from konvsync.plan.remote import RemoteState, normalize_nodes

MAX_AMBIGUOUS_ROUNDS = 5
Progress = Callable[[str, int, int], None]
"""(step label, done in step, total in step)"""


@dataclass(frozen=True)
class ApplyOptions:
    batch_size: int = 50
    parallelism: int = 4
    send_welcome_email: bool = True


@dataclass(frozen=True)
class ChangeResult:
    change: Change
    status: str
    """done, failed or skipped."""
    message: str | None = None
    code: str | None = None
    """The API's error code of a failed change (INTERRUPTED, ABANDONED: ours)."""


@dataclass
class ApplyReport:
    results: list[ChangeResult] = field(default_factory=list)
    interrupted: bool = False
    created_ids: dict[str, str] = field(default_factory=dict)
    """address -> server ID of each object this run created."""

    def count(self, status: str, action: str | None = None) -> int:
        return sum(
            1
            for r in self.results
            if r.status == status and (action is None or r.change.action == action)
        )

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.status == "done" for r in self.results)

    @property
    def problems(self) -> list[ChangeResult]:
        return [r for r in self.results if r.status != "done"]


class Interrupted:
    """Set by Ctrl-C: no new work is sent; requests in flight finish."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self) -> None:
        self.is_set = True


class PlanExecutor:
    def __init__(
        self,
        client: PortalClient,
        remote: RemoteState,
        options: ApplyOptions,
        progress: Progress | None = None,
        stop: Interrupted | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.progress = progress
        self.stop = stop or Interrupted()
        self.ids: dict[tuple[str, str], str] = {
            (kind_name, key): obj.id
            for kind_name, remote_kind in remote.kinds.items()
            for key, obj in remote_kind.objects.items()
        }
        self.unavailable: dict[str, str] = {}
        """address -> why (failed or skipped): dependents are skipped."""
        self.report = ApplyReport()
        self._step_changes: list[Change] = []

    async def execute(self, plan: Plan) -> ApplyReport:
        for change in plan.changes:
            if isinstance(change, Update) and change.adopt and change.remote_id:
                # An adopted object is known by its desired key from now on,
                # so what references it in this run resolves to its ID.
                self.ids[change.kind, change.key] = change.remote_id
        for label, changes in _steps(plan.changes):
            if self.stop.is_set:
                self._finish(changes, "skipped", "not started: interrupted")
                continue
            await self._step(label, changes)
        self.report.interrupted = self.stop.is_set
        return self.report

    # ------------------------------------------------------------------ steps

    async def _step(self, label: str, changes: list[Change]) -> None:
        self._step_changes = changes
        ready: list[Change] = []
        for change in changes:
            blocker = self._blocker(change)
            if blocker:
                self._record(
                    change,
                    "skipped",
                    f"depends on {blocker}, which {self.unavailable[blocker].split(':')[0]}",
                )
            elif isinstance(change, Delete) and change.cascade:
                self._record(change, "done")
            else:
                ready.append(change)
        if not ready:
            return
        total = len(ready)
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if self.progress:
                self.progress(label, done, total)

        if self.progress:
            self.progress(label, 0, total)
        pending = ready
        for _round in range(MAX_AMBIGUOUS_ROUNDS):
            pending = await self._send(pending, advance)
            if not pending or self.stop.is_set:
                break
        for change in pending:
            self._record(
                change,
                "failed",
                "no answer to the create after "
                f"{MAX_AMBIGUOUS_ROUNDS} tries; it was not found by its key",
            )

    async def _send(self, changes: list[Change], advance: Callable[[int], None]) -> list[Change]:
        """Send ``changes``; return the creates to send again (ambiguous and
        not found on read-back)."""
        outcomes = await run_mutations(
            self.client,
            [self._call(change) for change in changes],
            self.options.batch_size,
            self.options.parallelism,
            on_done=advance,
            should_stop=lambda: self.stop.is_set,
        )
        resend: list[Change] = []
        ambiguous: list[Change] = []
        for change, outcome in zip(changes, outcomes, strict=True):
            if outcome.ambiguous and isinstance(change, Create):
                ambiguous.append(change)
            else:
                self._settle(change, outcome)
        if ambiguous:
            resend = await self._read_back(ambiguous)
        return resend

    def _settle(self, change: Change, outcome: MutationOutcome) -> None:
        if outcome.ok:
            if isinstance(change, Create):
                self.ids[change.kind, change.key] = outcome.data["id"]
                self.report.created_ids[change.address] = outcome.data["id"]
            self._record(change, "done")
        elif isinstance(change, Delete) and outcome.code == "NOT_FOUND":
            self._record(change, "done", "already gone")
        elif outcome.code == "INTERRUPTED":
            self._record(change, "skipped", "not sent: interrupted", "INTERRUPTED")
        else:
            detail = f" ({outcome.code})" if outcome.code else ""
            self._record(change, "failed", f"{outcome.error}{detail}", outcome.code)

    async def _read_back(self, creates: list[Change]) -> list[Change]:
        """After an ambiguous create: does the object exist? Then it was
        created (and is updated if it differs); else it is sent again."""
        resend: list[Change] = []
        confirmed: list[Change] = []
        follow_ups: dict[str, Update] = {}
        semaphore = asyncio.Semaphore(self.options.parallelism)

        async def read(change: Change) -> tuple[str, dict[str, Any]] | KonvsyncError | None:
            async with semaphore:
                try:
                    return await fetch_object(self.client, kind(change.kind), change.key)
                except KonvsyncError as exc:
                    return exc

        results = await asyncio.gather(*(read(change) for change in creates))
        for change, found in zip(creates, results, strict=True):
            if isinstance(found, KonvsyncError):
                self._record(
                    change,
                    "failed",
                    f"no answer to the create, and reading it back failed: {found}",
                )
                continue
            if found is None:
                resend.append(change)
                continue
            remote_id, data = found
            self.ids[change.kind, change.key] = remote_id
            self.report.created_ids[change.address] = remote_id
            wanted = kind(change.kind).normalize_desired(change.after or {})
            fields = tuple(
                FieldChange(name, data.get(name), value)
                for name, value in wanted.items()
                if data.get(name) != value
            )
            if fields:
                follow_ups[change.address] = Update(
                    change.kind,
                    change.key,
                    data,
                    {f.path: f.after for f in fields},
                    fields,
                    remote_id,
                )
            confirmed.append(change)
        updates = list(follow_ups.values())
        outcomes = await run_mutations(
            self.client,
            [self._call(u) for u in updates],
            self.options.batch_size,
            self.options.parallelism,
        )
        failed = {u.address: o.error for u, o in zip(updates, outcomes, strict=True) if not o.ok}
        for change in confirmed:
            if change.address in failed:
                self._record(
                    change,
                    "failed",
                    f"created, but the update that followed failed: {failed[change.address]}",
                )
            else:
                self._record(change, "done", "created (confirmed by reading it back)")
        return resend

    # --------------------------------------------------------------- helpers

    def _call(self, change: Change) -> MutationCall:
        """The mutation for ``change``; its variables are built when its
        batch goes out."""
        k = kind(change.kind)
        if isinstance(change, Delete):
            return MutationCall(k, k.delete_operation, {"id": change.remote_id})
        operation = k.update_operation if isinstance(change, Update) else k.create_operation
        return MutationCall(k, operation, lambda: self._variables(change))

    def _variables(self, change: Change) -> dict[str, Any]:
        k = kind(change.kind)
        after = change.after or {}
        if isinstance(change, Update):
            values = {name: after.get(name) for name in change.changed_fields()}
            return {"id": change.remote_id, "input": k.build_input(values, self._id)}
        variables: dict[str, Any] = {"input": k.build_input(after, self._id)}
        if k.parent is not None:
            parent_key, _ = split_location_key(change.key)
            variables["accountId"] = self._id(k.parent, parent_key)
        if k.name == "users":
            variables["sendWelcomeEmail"] = self.options.send_welcome_email
        return variables

    def _id(self, kind_name: str, key: str) -> str:
        try:
            return self.ids[kind_name, key]
        except KeyError:
            raise CallNotBuilt(f"cannot resolve reference {kind_name}/{key}") from None

    def _blocker(self, change: Change) -> str | None:
        if not self.unavailable:
            return None  # nothing has failed or been skipped: nothing blocks
        if isinstance(change, Delete):
            if change.cascade:
                parent, _ = split_location_key(change.key)
                address = f"accounts/{parent}"
                return address if address in self.unavailable else None
            return None
        for ref in references(kind(change.kind), change.after or {}):
            if ref.address in self.unavailable:
                return ref.address
        return None

    def _record(
        self, change: Change, status: str, message: str | None = None, code: str | None = None
    ) -> None:
        if status != "done":
            self.unavailable[change.address] = f"{status}: {message}"
        self.report.results.append(ChangeResult(change, status, message, code))

    def abandon(self, plan: Plan) -> ApplyReport:
        """The report after the wait for requests in flight was cut short
        (a second signal, or the grace period ran out): changes of the step
        under way that have no outcome yet may or may not have been applied;
        later ones were not started."""
        settled = {result.change.address for result in self.report.results}
        current = {change.address for change in self._step_changes}
        for change in plan.changes:
            if change.address in settled:
                continue
            if change.address in current:
                self._record(
                    change,
                    "failed",
                    "in flight or queued when konvsync stopped waiting: it may or may not "
                    "have been applied (run plan to see)",
                    "ABANDONED",
                )
            else:
                self._record(change, "skipped", "not started: interrupted", "INTERRUPTED")
        self.report.interrupted = True
        return self.report

    def _finish(self, changes: list[Change], status: str, message: str) -> None:
        for change in changes:
            self._record(change, status, message)


def _steps(changes: list[Change]) -> list[tuple[str, list[Change]]]:
    """Creates and updates kind by kind in apply order, then deletes in reverse."""
    steps: list[tuple[str, list[Change]]] = []
    for k in KINDS:
        upserts = [c for c in changes if c.kind == k.name and not isinstance(c, Delete)]
        if upserts:
            steps.append((f"{k.name}: create/update", upserts))
    for k in reversed(KINDS):
        deletes: list[Change] = [c for c in changes if c.kind == k.name and isinstance(c, Delete)]
        if deletes:
            steps.append((f"{k.name}: delete", deletes))
    return steps


async def fetch_object(
    client: PortalClient, k: Kind, key: str
) -> tuple[str, dict[str, Any]] | None:
    """Read one object by its natural key: (ID, normalized data) or None."""
    if k.parent is not None:
        parent_key, _ = split_location_key(key)
        lookup_kind, lookup_key = kind(k.parent), parent_key
    else:
        lookup_kind, lookup_key = k, key
    if lookup_kind.has_operation(lookup_kind.get_operation):
        response = await client.execute(
            operation_text(lookup_kind, lookup_kind.get_operation),
            {"key": lookup_key},
            label=lookup_kind.get_operation,
        )
        data = response.raise_for_errors(f"reading {lookup_kind.singular} {lookup_key}")
        node = next(iter(data.values()))
        nodes = [node] if node else []
    else:
        nodes = await read_all(client, lookup_kind)
    state = normalize_nodes({lookup_kind.name: nodes})
    found = state.get(k.name).objects.get(key)
    return (found.id, found.data) if found else None
