"""Executing a plan: ordered steps (``plan.order``), batched concurrent
mutations (``apply.calls``), and consistency when the network or the API
misbehaves: a failed change skips what depends on it; after an ambiguous
create the object is read back by key before anything is resent; the
operations and input fields are checked against the portal's schema before
the first write (``apply.checks``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import cache
from typing import Any

from konvsync.api.batching import MutationCall, MutationOutcome, run_mutations
from konvsync.api.client import PortalClient
from konvsync.apply.calls import mutation_call, operation
from konvsync.apply.checks import (
    Adopted,
    PortalLookup,
    Wanted,
    answer_mismatch,
    beside_deleted,
    check_inputs,
    concurrent_twins,
    keys_not_unique,
    last_writes,
    moved_objects,
    read_back,
    spelling_of,
)
from konvsync.apply.deleted_values import kept_warning, values_kept
from konvsync.apply.model import (
    NOT_AS_SENT,
    ApplyOptions,
    ApplyReport,
    Cascades,
    ChangeResult,
    Checkpoint,
    Interrupted,
    Mismatch,
    Progress,
    Status,
    Verify,
)
from konvsync.apply.renamed_values import left_behind_warning, values_left_behind
from konvsync.apply.tightening import tightened_last
from konvsync.errors import KonvsyncError, StalePlanError
from konvsync.kinds import kind, references, value_holders
from konvsync.kinds.address import Address, RemoteRef
from konvsync.kinds.custom_values import with_typed_maps
from konvsync.plan.changes import Change, Create, Delete, FieldChange, Plan, Update
from konvsync.plan.order import apply_steps
from konvsync.plan.remote import RemoteState
from konvsync.plan.renames import Renames, renames_in
from konvsync.plan.value_types import types_after

MAX_AMBIGUOUS_ROUNDS = 5
READ_BACK_AGAIN_AFTER = 1.0
"""Seconds before what the read-back found not as planned is read once more:
a portal may answer reads from a replica a moment behind its writes (the
contract does not promise to read one's own writes)."""


class PlanExecutor:
    def __init__(
        self,
        client: PortalClient,
        remote: RemoteState,
        options: ApplyOptions,
        progress: Progress | None = None,
        stop: Interrupted | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.client = client
        self.remote = remote
        self.options = options
        self.progress = progress
        self.stop = stop or Interrupted()
        self.adopted: Adopted = {}
        """Kind -> placeholders of its keyless objects this run adopts -> their new keys."""
        self.refused: str | None = None
        """Why the rest of the run is not sent: the portal moved under it."""
        self.ids: dict[Address, str] = {
            obj.address: obj.id
            for remote_kind in remote.kinds.values()
            for obj in remote_kind.referable().values()  # references may leave the scope
        }
        self.lookup = PortalLookup(
            client, remote, self.ids.get, options.batch_size, options.parallelism
        )
        self.made: set[tuple[str, str]] = set()  # (kind, ID) created; was a 16 s scan at 12k
        self.gone: set[tuple[str, str]] = set()
        """(kind, ID) of each object this run deleted: a portal may give its
        ID to an object created after it (the contract does not say an ID
        is never used again)."""
        self.answered: set[Address] = set()
        """Creates whose own answer gave the ID (not found by reading back)."""
        self.sent_again: set[Address] = set()
        """Creates sent again after an unanswered try was not found by its key:
        a second object with their key may be this run's first try."""
        self.checkpoint = checkpoint
        self.sent: set[Address] = set()
        """Changes whose batch went out (each may have been applied)."""
        self.unavailable: dict[Address, str] = {}
        """address -> why (failed or skipped): dependents are skipped."""
        self.codes: dict[Address, str] = {}
        """address -> error code of what failed (and of what that skipped)."""
        self.report = ApplyReport()
        self.cascades = Cascades()
        self.unproven: set[Address] = set()
        """Creates that got no answer, confirmed by reading them back (and
        updated where they differed): no answer shows their values."""
        self.renames: Renames = {}
        """The keys the plan renames (kind -> old key -> new key)."""
        self.deleting: set[tuple[str, str]] = set()
        """(kind, remote ID) of each object the plan deletes (an ID may be
        unique within its type only)."""
        self.loosening: dict[Address, tuple[Update, Delete]] = {}
        """address -> a planned delete sent in two parts (``apply.tightening``):
        the update that loosens the object first, and the delete itself. The
        first not done is the delete's result; the delete is checked against
        the portal as the first part left the object."""
        self.unanswered: dict[Address, str] = {}
        """Creates sent again after a try without a usable answer -> what that try got."""
        self.conflicted: dict[str, Address] = {}
        """kind -> a create of it the portal refused with CONFLICT: the portal
        holds an object with that key in a spelling konvsync does not take
        for it, and a delete of that kind in this run may be that object."""

    async def execute(self, plan: Plan) -> ApplyReport:
        for change in plan.changes:
            if isinstance(change, Update) and change.adopt and change.remote_id:
                # An adopted object is known by its desired key from now on,
                # so what references it in this run resolves to its ID.
                self.ids[change.address] = change.remote_id
                placeholders = self.adopted.setdefault(change.kind, {})
                placeholders[RemoteRef(change.remote_id)] = change.key
        self.renames = renames_in(plan.changes)
        self.lookup.types = types_after(self.remote, plan.changes)
        self.deleting = {
            (c.kind, c.remote_id) for c in plan.changes if isinstance(c, Delete) and c.remote_id
        }
        sent_first: list[Change] = []
        tightening: list[tuple[Change, Change]] = []  # each last part, and its planned change
        waiting: set[int] = set()  # ids of the planned changes with no first part
        for change in plan.changes:
            first, last = tightened_last(change)
            if first is not None:
                sent_first.append(first)
            else:
                waiting.add(id(change))
            if last is not None:
                tightening.append((last, change))
            if isinstance(first, Update) and isinstance(last, Delete):
                self.loosening[change.address] = (first, last)
        loosened = [first for first, _delete in self.loosening.values()]
        await self._check_inputs(
            [*plan.changes, *loosened, *(last for last, _change in tightening)]
        )
        for label, changes in apply_steps(sent_first, self.remote):
            if self.stop.is_set:
                self._finish(changes, Status.SKIPPED, "not started: interrupted")
                continue
            if self.refused is not None:
                self._finish(changes, Status.SKIPPED, f"not started: {self.refused}")
                continue
            await self._guarded(changes, self._step_and_carry(label, changes))
        if tightening:
            await self._tighten(tightening, waiting)
        self._finish(self.cascades.rest(), Status.SKIPPED, "not deleted: its parent was not")
        self.report.interrupted = self.stop.is_set
        if self.options.verify is not Verify.NONE and not self.stop.is_set:
            await self._verify(self.options.verify)
        return self.report

    async def _step_and_carry(self, label: str, changes: list[Change]) -> None:
        await self._step(label, changes)
        await self._carry_renamed_values(changes)
        if isinstance(changes[0], Delete) and value_holders(changes[0].kind):  # one kind a step
            done = {id(r.change) for r in self.report.results if r.status is Status.DONE}
            await self._clear_kept_values([c for c in changes if id(c) in done])

    async def _guarded(self, changes: list[Change], work: Awaitable[object]) -> None:
        """Await ``work`` on ``changes``: a failure after this run wrote
        stops the run there (``_stop_after_writes``); before, it is the
        run's one error (a stale plan, exit 3, included)."""
        try:
            await work
        except StalePlanError:
            raise
        except KonvsyncError as exc:
            if not self.sent:
                raise  # nothing was written: the one error line says it all
            self._stop_after_writes(changes, exc)

    # ----------------------------------------------------------------- checks

    async def _check_inputs(self, changes: list[Change]) -> None:
        # Distinct by name and action first: a Kind hashes all its fields
        # (12,100 hashes were 10 ms of a cold apply's CPU at 10,000 users).
        distinct = {
            (c.kind, c.action): c for c in changes if not (isinstance(c, Delete) and c.cascade)
        }
        sent = dict.fromkeys((c.kind, operation(c)) for c in distinct.values())
        # A delete or a rename of a key other objects file values under may
        # be followed by their updates (``deleted_values``,
        # ``renamed_values``): checked before the first write too.
        renaming = {c.kind for c in changes if isinstance(c, Update) and c.renamed_from}
        for name, op in list(sent):
            if op == kind(name).delete_operation or name in renaming:
                sent.update(
                    dict.fromkeys((h.name, h.update_operation) for h, _ in value_holders(name))
                )
        warning = await check_inputs(self.client, [(kind(name), op) for name, op in sent], changes)
        if warning:
            self.report.warnings.append(warning)

    async def _recheck(
        self, changes: list[Change], written: dict[Address, dict[str, Any]] | None = None
    ) -> list[Change]:
        """The step's changes that may still be sent: what they touch is as
        the plan saw it. When anything moved, none of the step is sent and
        the rest of the run is not started; before the first write, that is
        a stale plan (exit 3, nothing written)."""
        if not changes:
            return changes
        moved = await moved_objects(self.lookup, changes, self.adopted, self.renames, written)
        if not moved:
            return changes
        first, reason = next(iter(moved.items()))
        more = f" (and {len(moved) - 1} more)" if len(moved) > 1 else ""
        if not self._may_have_written():
            raise StalePlanError(
                f"stale plan: {first}: {reason}{more}; the portal is not as the plan saw it "
                "(another apply or a hand edit?). Nothing was changed; run plan again"
            )
        self.refused = "the portal changed under this apply (another writer?); run plan again"
        for change in changes:
            why = moved.get(change.address)
            if why is not None:
                self._record(change, Status.FAILED, f"not sent: {why}")
            else:
                self._record(change, Status.SKIPPED, f"not sent: {self.refused}")
        return []

    def _may_have_written(self) -> bool:
        """Whether this run may have changed the portal: a change done, or
        one that may have been applied. Only otherwise is "Nothing was
        changed" true."""
        return any(r.status is Status.DONE or self._may_be_applied(r) for r in self.report.results)

    def _may_be_applied(self, result: ChangeResult) -> bool:
        """A change sent whose failure is no refusal (an internal error or
        no answer: it may have been applied; ``NOT_AS_SENT``: applied in
        another form)."""
        return (
            result.status is Status.FAILED
            and result.change.address in self.sent
            and (not result.permanent or result.code == NOT_AS_SENT)
        )

    async def _carry_renamed_values(self, step: list[Change]) -> None:
        """After a step that renamed keys other objects file values under
        (account fields' keys, an account's customFields): file under the
        new key what the portal left under the old one
        (``renamed_values``)."""
        if self.stop.is_set or step[0].kind not in self.renames:
            return
        done = {id(r.change) for r in self.report.results if r.status is Status.DONE}
        renamed = renames_in(c for c in step if id(c) in done).get(step[0].kind)
        if not renamed:
            return
        updates = await values_left_behind(self.lookup, step[0].kind, renamed, self.deleting)
        if not updates:
            return
        self.report.warnings.append(left_behind_warning(updates, step[0].kind, renamed))
        outcomes = await self._send_after_a_step(updates)
        for update, outcome in zip(updates, outcomes, strict=True):
            self._settle(update, outcome)
        self.report.pending = []
        self._report_now(False)

    async def _send_after_a_step(self, updates: Sequence[Change]) -> list[MutationOutcome]:
        """Send ``updates`` that a step's outcome called for, beyond the
        plan's steps (values moved or cleared, constraints tightened last):
        pending in the report before they go out, as a step's changes are;
        a batch not yet sent when the run is stopped is not sent (its
        outcome says so). The caller settles them and clears ``pending``."""
        self.report.pending = list(updates)
        self._report_now(True)
        calls = [self._call(update) for update in updates]
        address_of = {id(call): update.address for call, update in zip(calls, updates, strict=True)}
        return await run_mutations(
            self.client,
            calls,
            self.options.batch_size,
            self.options.parallelism,
            should_stop=lambda: self.stop.is_set,
            on_send=lambda batch: self.sent.update(address_of[id(c)] for c in batch),
        )

    async def _clear_kept_values(self, done: list[Change]) -> None:
        """After deletes done of keys other objects file values under
        (account fields: an account's customFields): clear the values the
        portal kept under them (``deleted_values``)."""
        if self.stop.is_set or self.refused is not None:
            return  # the next plan clears them (``plan.stranded``)
        deleted: dict[str, set[str]] = {}
        for change in done:
            if isinstance(change, Delete) and not change.cascade and value_holders(change.kind):
                deleted.setdefault(change.kind, set()).add(change.key)
        updates: list[Update] = []
        kept_by_kind: list[tuple[str, set[str], list[Update]]] = []
        for kind_name, keys in deleted.items():
            kept = await values_kept(self.lookup, kind_name, keys, self.deleting)
            if kept:
                kept_by_kind.append((kind_name, keys, kept))
                updates += kept
        if not updates:
            return
        outcomes = await self._send_after_a_step(list(updates))
        cleared: set[int] = set()
        for update, outcome in zip(updates, outcomes, strict=True):
            self._settle(update, outcome)
            result = self.report.results[-1]
            if result.change is update and result.status is Status.DONE:
                self.report.results[-1] = result._replace(message=update.note)
                cleared.add(id(update))
        for kind_name, keys, kept in kept_by_kind:
            count = sum(id(update) in cleared for update in kept)
            self.report.warnings.append(kept_warning(kept, kind_name, keys, count))
        self.report.pending = []
        self._report_now(False)

    async def _tighten(self, planned: list[tuple[Change, Change]], waiting: set[int]) -> None:
        """After every step: tighten the constraints other objects' values
        must fit (``apply.tightening``: each update, and the planned change
        it ends), where the change's first part was done or it had none
        (``waiting``: ids of those planned changes). Done, the planned
        change is the result (counted once, and what the read-back holds
        the portal to); failed, or not started (the run was interrupted or
        stopped), the update is a result of its own beside the first
        part's, or the planned change's own result without one."""
        done = {r.change.address for r in self.report.results if r.status is Status.DONE}
        ready = [
            (
                replace(update, remote_id=update.remote_id or self.ids.get(update.address)),
                change,
                update.address in done,
            )
            for update, change in planned
            if (update.address in done and id(change) not in waiting)
            or (id(change) in waiting and change.address not in self.unavailable)
        ]
        if not ready:
            return
        # Checked against the portal as a step's changes are (the first
        # parts were): a change that waited whole (a stale plan before the
        # first write), and a loosened field's delete, as loosened (another
        # writer may have changed the field since its first part).
        waited = [change for _update, change, first_done in ready if not first_done]
        ready = await self._rechecked(ready, waited)
        deletes = [change for update, change, _first in ready if isinstance(update, Delete)]
        written = {a: first.after or {} for a, (first, _delete) in self.loosening.items()}
        ready = await self._rechecked(ready, deletes, written)
        if self.stop.is_set or self.refused is not None:
            # Not tightened: say so, beside a first part that was done.
            why = "interrupted" if self.stop.is_set else self.refused
            self._finish(
                [update if first_done else change for update, change, first_done in ready],
                Status.SKIPPED,
                f"not started: {why}",
            )
            return
        try:
            outcomes = await self._send_after_a_step([update for update, _c, _first in ready])
        except KonvsyncError as exc:
            ends = [update if first_done else change for update, change, first_done in ready]
            self._stop_after_writes(ends, exc)
            return
        deleted: list[Change] = []
        for (update, change, first_done), outcome in zip(ready, outcomes, strict=True):
            self._settle(update, outcome)
            result = self.report.results[-1]
            if isinstance(update, Delete) and result.status is Status.DONE:
                deleted.append(update)
            if not first_done:
                self.report.results[-1] = result._replace(change=change)
            elif result.status is Status.DONE:
                self.report.results.pop()
                self.report.done_as(change)
        self.report.pending = []
        self._report_now(False)
        await self._guarded(deleted, self._clear_kept_values(deleted))

    async def _rechecked(
        self,
        ready: list[tuple[Change, Change, bool]],
        changes: list[Change],
        written: dict[Address, dict[str, Any]] | None = None,
    ) -> list[tuple[Change, Change, bool]]:
        """``ready`` (last part, planned change, first part done) without
        the planned changes that ``changes``' recheck settled."""
        if not changes or self.stop.is_set or self.refused is not None:
            return ready
        await self._guarded(changes, self._recheck(changes, written))
        settled = {id(r.change) for r in self.report.results}
        return [item for item in ready if id(item[1]) not in settled]

    async def _verify(self, mode: Verify) -> None:
        """Read back what the run changed (``Verify``) and compare it with the plan."""
        # An update that may have been applied (the last part of a tightening
        # whose answer was lost) masks what an earlier part wrote.
        unsure = {
            id(r.change)
            for r in self.report.results
            if r.status is not Status.DONE
            and isinstance(r.change, Update)
            and self._may_be_applied(r)
        }
        results = self.report.results
        if mode is Verify.UPDATES:
            # Creates rest on their answers (but those read back to confirm
            # them); ``last_writes`` and ``beside_deleted`` look at updates
            # and deletes only, so they go first (0.5 % of a cold apply's instructions).
            unproven = self.unproven
            results = [
                r
                for r in results
                if not isinstance(r.change, Create) or r.change.address in unproven
            ]
        done = beside_deleted(
            last_writes(
                [
                    r.change
                    for r in results
                    if (
                        r.status is Status.DONE
                        and not (isinstance(r.change, Delete) and r.change.cascade)
                    )
                    or id(r.change) in unsure
                ],
                frozenset(unsure),
            )
        )
        if mode is Verify.UPDATES:
            done = [c for c in done if isinstance(c, Update) or c.address in self.unproven]
        # A delete whose ID the portal gave to an object this run created
        # is proven by that create's answer: the ID names the new object now.
        done = [
            c for c in done if not (isinstance(c, Delete) and (c.kind, c.remote_id) in self.made)
        ]
        self.report.verify = mode
        try:
            found = await read_back(self.lookup, done, whole=mode is Verify.FULL)
            if found:
                await asyncio.sleep(READ_BACK_AGAIN_AFTER)
                again = [change for change, _problem in found]
                found = await read_back(self.lookup, again, whole=mode is Verify.FULL)
        except KonvsyncError as exc:
            self.report.unverified = str(exc)
            return
        self.report.mismatches.extend(Mismatch(change, problem) for change, problem in found)
        self.report.verified = True

    # ------------------------------------------------------------------ steps

    async def _step(self, label: str, changes: list[Change]) -> None:
        ready: list[Change] = []
        for change in changes:
            if isinstance(change, Delete) and change.kind in self.conflicted:
                self._record(
                    change,
                    Status.SKIPPED,
                    f"not deleted: the create of {self.conflicted[change.kind]} met CONFLICT, "
                    f"so the portal holds that {kind(change.kind).singular} in another "
                    "spelling, which may be this one (run plan to see)",
                    "CONFLICT",
                )
                continue
            blocker = self._blocker(change)
            if blocker:
                self._record(
                    change,
                    Status.SKIPPED,
                    f"depends on {blocker}, which {self.unavailable[blocker].split(':')[0]}",
                    self.codes.get(blocker),
                )
            elif isinstance(change, Delete) and change.cascade:
                self.cascades.add(change)  # recorded with its parent (``_record``)
            else:
                ready.append(change)
        ready = await self._recheck(ready)
        if not ready:
            self._report_now(False)
            return
        total = len(ready)
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done = min(total, done + count)  # creates sent again count once
            if self.progress:
                self.progress(label, done, total)

        if self.progress:
            self.progress(label, 0, total)
        self.report.pending = ready
        self._report_now(True)  # before anything of the step is sent
        pending = ready
        for _round in range(MAX_AMBIGUOUS_ROUNDS):
            pending = await self._send(pending, advance)
            if not pending or self.stop.is_set:
                break
            self.sent_again.update(change.address for change in pending)
        for change in pending:
            self._record(
                change,
                Status.FAILED,
                "no answer to the create after "
                f"{MAX_AMBIGUOUS_ROUNDS} tries (the last: "
                f"{self.unanswered.get(change.address, 'no answer')}); it was not found by its key",
            )
        if keys_not_unique(kind(ready[0].kind)):
            await self._remove_twins(ready)
        self.report.pending = []
        self._report_now(False)

    def _stop_after_writes(self, step: Sequence[Change], exc: KonvsyncError) -> None:
        """A read or request the step needed failed after this run had
        written (the check before the step, a look-up after its creates):
        the step's changes without an outcome are settled as not sent (or,
        if sent, as unknown), the rest of the run is not started, and the
        summary says what was done, instead of one error line that hides it."""
        self.refused = f"the run stopped after a failure: {exc}"
        settled = {id(r.change) for r in self.report.results}
        unsettled = [
            change
            for change in step
            if id(change) not in settled and not (isinstance(change, Delete) and change.cascade)
        ]
        for change in unsettled:
            if change.address in self.sent:
                self._record(
                    change,
                    Status.FAILED,
                    f"sent, but the run stopped before its outcome was known ({exc}): it may "
                    "or may not have been applied (run plan to see)",
                )
            else:
                self._record(change, Status.SKIPPED, f"not sent: {self.refused}")
        if not unsettled:  # the step's own changes were done: what failed was a check after them
            self.report.unverified = str(exc)
        self.report.pending = []
        self._report_now(False)

    def _report_now(self, urgent: bool) -> None:
        if self.checkpoint is not None:
            self.checkpoint(self.report, urgent)

    async def _remove_twins(self, sent: list[Change]) -> None:
        """Delete this run's copy of each object another writer created at
        the same moment (see ``concurrent_twins``); the change fails.

        Only a copy this run made, known from its create's own answer, is
        ever deleted. A create sent again after an unanswered try that was
        not found by its key may meet this run's own first try as its twin:
        its second copy is deleted all the same, and the change is done by
        the copy that stays (the read-back after the run checks it), never
        blamed on another writer."""
        created = {id(r.change) for r in self.report.results if r.status is Status.DONE}
        answered = [
            c
            for c in sent
            if isinstance(c, Create) and id(c) in created and c.address in self.answered
        ]
        twins = [
            (change, ours, theirs)
            for change, ours, theirs in await concurrent_twins(self.lookup, answered)
            if (change.kind, ours) in self.made
        ]
        if not twins:
            return
        k = kind(twins[0][0].kind)
        calls = [MutationCall(k, k.delete_operation, {"id": ours}) for _, ours, _ in twins]
        outcomes = await run_mutations(
            self.client, calls, self.options.batch_size, self.options.parallelism
        )
        for (change, ours, theirs), outcome in zip(twins, outcomes, strict=True):
            self.report.results = [r for r in self.report.results if r.change is not change]
            resent = change.address in self.sent_again
            if outcome.ok and resent:
                self.ids[change.address] = theirs
                self.report.created_ids[change.address] = theirs
                self._record(
                    change,
                    Status.DONE,
                    f"created (ID {theirs}); it was sent again after a try without an answer, "
                    f"and a second copy (ID {ours}) was deleted again",
                )
                continue
            if outcome.ok:
                self.report.created_ids.pop(change.address, None)
            fate = "was deleted again" if outcome.ok else f"could not be deleted: {outcome.error}"
            who = (
                "this run's earlier try, whose answer was lost, or another writer"
                if resent
                else "another writer"
            )
            self._record(
                change,
                Status.FAILED,
                f"{who} created it at the same time (ID {theirs}); this run's copy "
                f"(ID {ours}) {fate}",
            )

    async def _send(self, changes: list[Change], advance: Callable[[int], None]) -> list[Change]:
        """Send ``changes``; return the creates to send again (ambiguous and
        not found on read-back). Each batch's outcomes are settled as soon as
        its answer is in: what konvsync received counts, however the run ends;
        the answers are not kept after that (``on_batch``)."""
        welcome = self.options.send_welcome_email
        calls = [mutation_call(change, self.ids, welcome) for change in changes]  # (``_call``)
        change_of = {id(call): change for call, change in zip(calls, changes, strict=True)}
        ambiguous: list[tuple[Change, MutationOutcome]] = []

        def sending(batch: list[MutationCall]) -> None:
            self.sent.update(change_of[id(call)].address for call in batch)

        def settle(outcomes: list[MutationOutcome]) -> None:
            for outcome in outcomes:
                change = change_of[id(outcome.call)]
                if outcome.ambiguous and isinstance(change, Create):
                    ambiguous.append((change, outcome))  # batching gives it no data
                else:
                    self._settle(change, outcome)
            advance(len(outcomes))
            self._report_now(False)

        await run_mutations(
            self.client,
            calls,
            self.options.batch_size,
            self.options.parallelism,
            on_batch=settle,
            should_stop=lambda: self.stop.is_set,
            on_send=sending,
        )
        if not ambiguous:
            return []
        order = {id(change): index for index, change in enumerate(changes)}
        return await self._read_back(sorted(ambiguous, key=lambda item: order[id(item[0])]))

    def _settle(self, change: Change, outcome: MutationOutcome) -> None:
        ok = outcome.error is None  # ``outcome.ok``, without a call per outcome
        mismatch = (
            answer_mismatch(
                change,
                outcome.call.operation,
                outcome.data,
                self._taken(change.kind),
                self.lookup.types,
            )
            if ok
            else None
        )
        if mismatch:
            self._record(change, Status.FAILED, mismatch, NOT_AS_SENT)
        elif ok:
            if isinstance(change, Create):
                remote_id = outcome.data["id"]
                self._remember(change, remote_id)
                self.answered.add(change.address)
                self._announce(change, outcome.data)
                self.lookup.created[change.kind] = self.lookup.created.get(change.kind, 0) + 1
                self.report.created_ids[change.address] = remote_id
            self._record(change, Status.DONE)
        elif isinstance(change, Delete) and outcome.code == "NOT_FOUND":
            self._record(change, Status.DONE, "already gone")
        elif outcome.code == "INTERRUPTED":
            self._record(change, Status.SKIPPED, "not sent: interrupted", "INTERRUPTED")
        else:
            detail = f" ({outcome.code})" if outcome.code else ""
            self._record(change, Status.FAILED, f"{outcome.error}{detail}", outcome.code)

    async def _read_back(self, unsure: list[tuple[Change, MutationOutcome]]) -> list[Change]:
        """After an ambiguous create: does the object exist? Then it was
        created (and is updated if it differs); else it is sent again, or,
        when the portal answered with an error of its own, it failed with
        that error.

        Not found is no proof while the create may still be on its way (no
        answer came at all: ``in_flight``) for a kind whose key the portal
        lets two objects share (``keys_not_unique``): a copy sent again would
        become a second object once the first lands (after any twin check).
        Those fail instead; the next plan shows whether the portal made
        them. A kind with a unique key is sent again: a late first try and
        the copy cannot both be made (the portal answers CONFLICT)."""
        creates = [change for change, _outcome in unsure]
        k = kind(creates[0].kind)
        resend: list[Change] = []
        confirmed: list[Change] = []
        follow_ups: dict[Address, Update] = {}
        lookups = [
            Wanted(change.address, None, change.key, change.parent, spelling_of(change))
            for change in creates
        ]
        try:
            current = await self.lookup.current(creates[0].kind, lookups)
        except KonvsyncError as exc:
            self._finish(
                creates,
                Status.FAILED,
                f"no answer to the create, and reading it back failed: {exc}",
            )
            return []
        for change, outcome in unsure:
            found = current[change.address]
            if found is None and outcome.in_flight and keys_not_unique(k):
                self._record(
                    change,
                    Status.FAILED,
                    f"{outcome.error or 'no answer'}; not found by its key afterwards, but the "
                    f"portal may still make it and takes a second {k.singular} with this "
                    f"{k.key_field}: not sent again (plan shows whether it was made)",
                )
                continue
            if found is None and outcome.resend:
                self.unanswered[change.address] = outcome.error or "no answer"
                resend.append(change)
                continue
            if found is None:
                detail = f" ({outcome.code})" if outcome.code else ""
                self._record(
                    change,
                    Status.FAILED,
                    f"{outcome.error}{detail}; not found by its key afterwards: not created",
                    outcome.code,
                )
                continue
            remote_id, data = found.id, found.data
            self._remember(change, remote_id)
            self._announce(change, found.server)
            self.report.created_ids[change.address] = remote_id
            wanted = kind(change.kind).normalize_desired(change.after or {})
            data = with_typed_maps(kind(change.kind), data, self.lookup.types, wanted)
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
                    parent=change.parent,
                )
            confirmed.append(change)
            self.unproven.add(change.address)
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
                    Status.FAILED,
                    f"created, but the update that followed failed: {failed[change.address]}",
                )
            else:
                self._record(change, Status.DONE, "created (confirmed by reading it back)")
        return resend

    def _call(self, change: Change) -> MutationCall:
        return mutation_call(change, self.ids, self.options.send_welcome_email)

    def _announce(self, change: Change, values: dict[str, Any]) -> None:
        names = _announced(change.kind)
        if names:
            self.report.announced[change.address] = {name: values.get(name) for name in names}

    def _remember(self, change: Change, remote_id: str) -> None:
        self.ids[change.address] = remote_id
        self.made.add((change.kind, remote_id))

    def _taken(self, kind_name: str) -> Callable[[str], bool]:
        """Whether an ID belongs to an object of ``kind_name`` read or made
        before, and not deleted by this run since."""
        return lambda remote_id: (
            (kind_name, remote_id) not in self.gone
            and (
                self.remote.find(kind_name, remote_id) is not None
                or (kind_name, remote_id) in self.made
            )
        )

    def _blocker(self, change: Change) -> Address | None:
        if not self.unavailable or isinstance(change, Delete):
            return None  # nothing has failed or been skipped; a delete refers to nothing
        for ref in references(kind(change.kind), change.after or {}):
            if ref.address in self.unavailable:
                return ref.address
        return None

    def _record(
        self, change: Change, status: Status, message: str | None = None, code: str | None = None
    ) -> None:
        # A member of an enum class is a slow look-up, once here; with
        # ``_settle`` testing the error itself, settling a 10,000-user cold
        # apply's 12,100 outcomes took 817 million instructions, now 780.
        done = status is Status.DONE
        if not done and isinstance(change, Update) and change.address in self.loosening:
            # The plan showed (and the user approved) a delete: its first
            # part not done, the delete is not sent and this is its result.
            change = self.loosening[change.address][1]
        if not done:
            self.unavailable[change.address] = f"{status}: {message}"
            if code is not None:
                self.codes[change.address] = code
            if code == "CONFLICT" and isinstance(change, Create):
                self.conflicted.setdefault(change.kind, change.address)
        if done and isinstance(change, Delete) and change.remote_id:
            self.gone.add((change.kind, change.remote_id))
        self.report.results.append(ChangeResult(change, status, message, code))
        if isinstance(change, Delete) and self.cascades.waiting:
            for child in self.cascades.follow(change, status, code):
                self._record(child.change, child.status, child.message, child.code)

    def abandon(self, plan: Plan) -> ApplyReport:
        """The report after the wait for requests in flight was cut short
        (a second signal, or the grace period ran out): changes sent that
        have no outcome yet may or may not have been applied; the rest were
        not sent."""
        self.cascades.waiting.clear()  # recorded below, before their parents
        settled = {result.change.address for result in self.report.results}
        for change in plan.changes:
            if change.address in settled:
                continue
            parent = change.address.parent
            cascaded = isinstance(change, Delete) and change.cascade and parent in self.sent
            if change.address in self.sent or cascaded:
                self._record(
                    change,
                    Status.FAILED,
                    "in flight when konvsync stopped waiting: it may or may not have been "
                    "applied (run plan to see)",
                    "ABANDONED",
                )
            else:
                self._record(change, Status.SKIPPED, "not sent: interrupted", "INTERRUPTED")
        self.report.interrupted = True
        return self.report

    def _finish(self, changes: list[Change], status: Status, message: str) -> None:
        for change in changes:
            self._record(change, status, message)


@cache
def _announced(kind_name: str) -> list[str]:
    """The fields apply prints for each object of the kind it created."""
    return [f.name for f in kind(kind_name).fields if f.announce]
