"""Many mutations in few requests: calls of one operation are merged into
aliased documents of at most ``batch_size`` fields (``m0: createUser(...)``,
variables renamed ``$input_0``), sent ``parallelism`` at a time. Each call
gets its own outcome, matched by alias through the error ``path``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode

from konvsync.api.answers import Misfit, check_field, format_path
from konvsync.api.client import PortalClient, error_code
from konvsync.api.documents import aliased_document, operation_text
from konvsync.errors import AmbiguousRequestError, ContractError, KonvsyncError
from konvsync.kinds.base import Kind


class CallNotBuilt(Exception):
    """A call's variables cannot be built (e.g. a reference has no ID)."""


@dataclass(frozen=True)
class MutationCall:
    kind: Kind
    operation: str
    """Operation name in the kind's .graphql file, e.g. ``CreateUser``."""
    variables: dict[str, Any] | Callable[[], dict[str, Any]]
    """Or how to build them, just before the call's batch is sent (IDs made
    by earlier steps are known then, and 10,000 calls are not all built
    before the first batch can go)."""

    @property
    def retry_safe(self) -> bool:
        return not self.operation.startswith("Create")

    def built_variables(self) -> dict[str, Any]:
        return self.variables() if callable(self.variables) else self.variables


@dataclass(frozen=True)
class MutationOutcome:
    call: MutationCall
    data: Any = None
    error: str | None = None
    code: str | None = None
    ambiguous: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def run_mutations(
    client: PortalClient,
    calls: Sequence[MutationCall],
    batch_size: int,
    parallelism: int,
    on_done: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_outcome: Callable[[int, MutationOutcome], MutationOutcome] | None = None,
) -> list[MutationOutcome]:
    """Send ``calls`` (grouped by operation) and return one outcome per call, in
    order. Once ``should_stop()`` is true, batches not yet sent are not sent.
    ``on_outcome(index, outcome)`` sees each call's outcome (``index`` into
    ``calls``) as soon as its batch is answered; what it returns is what is
    kept and returned (so a caller can let go of an answer it has used)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, call in enumerate(calls):
        groups.setdefault((call.kind.name, call.operation), []).append(index)
    index_chunks = [chunk for indexes in groups.values() for chunk in chunks(indexes, batch_size)]
    semaphore = asyncio.Semaphore(parallelism)

    async def send(chunk: Sequence[int]) -> list[MutationOutcome]:
        batch = [calls[i] for i in chunk]
        async with semaphore:
            if should_stop is not None and should_stop():
                return [
                    MutationOutcome(call, error="not sent: interrupted", code="INTERRUPTED")
                    for call in batch
                ]
            outcomes = await _send_batch(client, batch)
        if on_done:
            on_done(len(batch))
        if on_outcome is not None:
            outcomes = [on_outcome(i, o) for i, o in zip(chunk, outcomes, strict=True)]
        return outcomes

    results = await asyncio.gather(*(send(chunk) for chunk in index_chunks))
    by_index = {
        i: outcome
        for chunk, outcomes in zip(index_chunks, results, strict=True)
        for i, outcome in zip(chunk, outcomes, strict=True)
    }
    return [by_index[i] for i in range(len(calls))]


async def _send_batch(client: PortalClient, calls: list[MutationCall]) -> list[MutationOutcome]:
    """One request for the calls whose variables can be built; an outcome
    for every call, in order."""
    unbuilt: dict[int, MutationOutcome] = {}
    batch: list[MutationCall] = []
    variables: dict[str, Any] = {}
    for position, call in enumerate(calls):
        try:
            built = call.built_variables()
        except CallNotBuilt as exc:
            unbuilt[position] = MutationOutcome(call, error=str(exc))
            continue
        for name, value in built.items():
            variables[f"{name}_{len(batch)}"] = value
        batch.append(call)
    sent = await _send_built(client, batch, variables) if batch else []
    outcomes = iter(sent)
    return [unbuilt.get(position) or next(outcomes) for position in range(len(calls))]


async def _send_built(
    client: PortalClient, batch: list[MutationCall], variables: dict[str, Any]
) -> list[MutationOutcome]:
    first = batch[0]
    document = aliased_document(first.kind, first.operation, len(batch))
    try:
        response = await client.execute(
            document,
            variables,
            retry_safe=first.retry_safe,
            label=f"{first.operation} x{len(batch)}",
            verify=False,  # alias by alias below: each succeeds or fails on its own
        )
    except AmbiguousRequestError as exc:
        return [MutationOutcome(call, error=str(exc), ambiguous=True) for call in batch]
    except KonvsyncError as exc:
        return [MutationOutcome(call, error=str(exc)) for call in batch]
    errors: dict[str, dict[str, Any]] = {}
    general: list[dict[str, Any]] = []
    for error in response.errors:
        path = error.get("path")
        if isinstance(path, list) and path and isinstance(path[0], str):
            errors.setdefault(path[0], error)
        else:
            general.append(error)
    data = response.data or {}
    field = _root_field(first)
    # Every alias is checked as the operation's own field: one checker for
    # every batch size (compiling one per aliased document cost 0.1 s of
    # CPU in a cold apply of 10,000 users).
    single = operation_text(first.kind, first.operation)
    outcomes = []
    for index, call in enumerate(batch):
        alias = f"m{index}"
        found = errors.get(alias) or (general[0] if general else None)
        if found is not None or data.get(alias) is None:
            error = found or {"message": "no result returned"}
            outcomes.append(
                MutationOutcome(call, error=str(error["message"]), code=error_code(error))
            )
            continue
        try:
            check_field(single, field, data[alias])
        except Misfit as misfit:
            where = format_path((field, *misfit.path[1:]))
            problem = str(ContractError(first.operation, f"{where} {misfit.problem}"))
            outcomes.append(MutationOutcome(call, error=problem, code="CONTRACT"))
            continue
        outcomes.append(MutationOutcome(call, data=data[alias]))
    return outcomes


def _root_field(call: MutationCall) -> str:
    """The mutation field of ``call``'s operation: ``createGroup``."""
    selection = call.kind.operation(call.operation).selection_set.selections[0]
    assert isinstance(selection, FieldNode)
    return selection.name.value
