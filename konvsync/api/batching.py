"""Many mutations in few requests: calls of one operation are merged into
aliased documents of at most ``batch_size`` fields (``m0: createUser(...)``,
variables renamed ``$input_0``), sent ``parallelism`` at a time. Each call
gets its own outcome, matched by alias through the error ``path``:

- an alias with data was executed (its data is checked against the
  contract), whatever errors come with it;
- an alias without data and with an error of its own (``path`` exactly the
  alias) was not executed: it failed, or, when that error is
  ``UNAUTHENTICATED``, it is sent once more (the client has renewed the
  token), and when it is ``RATE_LIMITED``, again after a wait that grows
  each time, up to ``max_retries`` times (as a request over the rate is:
  a portal may execute so many mutations a second and refuse the rest),
  and not once the run is interrupted (it did not run: "not sent");
- an alias without data whose error lies below it (``path`` ``[alias,
  "groups"]``) was executed: its object came back and a field of it failed
  (GraphQL nulls the mutation's own field then). A create's outcome is
  ambiguous, never sent again: its caller looks it up by key;
- an alias without data or an error of its own, in an answer whose errors
  include ``UNAUTHENTICATED`` (with no ``path``, or no data at all), may or
  may not have been executed: a create's outcome is ambiguous (its caller
  looks it up by key before sending it again), anything else (an update, a
  delete: sending it again does no harm) is sent once more;
- an alias without data or an error of its own in any other answer (``data:
  null`` and an error without a ``path``, an alias left out) may or may not
  have been executed either: a create is looked up by key (and, not found,
  fails with the portal's error), anything else fails with that error.
  Only an answer without ``data`` at all (a request error) says that nothing
  ran.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from konvsync.api.answers import Misfit, check_field, format_path
from konvsync.api.client import PortalClient, error_code, error_message
from konvsync.api.operations import operation_document
from konvsync.errors import AmbiguousRequestError, ContractError, KonvsyncError
from konvsync.kinds.base import Kind
from konvsync.support.redact import printable

RATE_LIMITED_WAIT = 1.0
"""Seconds before the mutations of a batch refused one by one with
RATE_LIMITED (no answer header to say how long) are sent again the first
time; each later time waits twice as long (up to the client's backoff cap)."""

STOP_POLL = 0.1
"""Seconds between looks at whether the run was interrupted, during that wait."""

log = logging.getLogger("konvsync.api")


class CallNotBuilt(Exception):
    """A call's variables cannot be built (e.g. a reference has no ID)."""


class MutationCall(NamedTuple):
    """One mutation to send (a tuple: one per change of a run)."""

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


class MutationOutcome(NamedTuple):
    """What became of one call (a tuple: one per mutation sent, made in a
    third of the time of a frozen dataclass)."""

    call: MutationCall
    data: Any = None
    error: str | None = None
    code: str | None = None
    ambiguous: bool = False
    """It may or may not have been applied (a create: its caller looks it up by key)."""
    resend: bool = True
    """An ambiguous create that the look-up does not find is sent again: no
    answer came (or the token expired). False: the portal answered with an
    error that does not say whether it ran; not found, the create failed
    with that error."""
    in_flight: bool = False
    """No answer came at all (a timeout, a dropped connection, a gateway's
    502/504): the portal may still be executing it, so a look-up by key that
    does not find it proves nothing yet."""

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
    on_batch: Callable[[list[MutationOutcome]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_send: Callable[[list[MutationCall]], None] | None = None,
) -> list[MutationOutcome]:
    """Send ``calls`` (grouped by operation) and return one outcome per call, in
    order; ``on_send`` gets each batch right before it goes out. Once
    ``should_stop()`` is true, batches not yet sent are not sent. With
    ``on_batch``, each batch's outcomes go to it as soon as its answer is in
    and none are returned (nor held: until the last batch, a cold apply's
    answers were 130 MB at 100,000 users)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, call in enumerate(calls):
        groups.setdefault((call.kind.name, call.operation), []).append(index)
    batches = [
        [calls[i] for i in chunk]
        for indexes in groups.values()
        for chunk in chunks(indexes, batch_size)
    ]
    order = [
        i for indexes in groups.values() for chunk in chunks(indexes, batch_size) for i in chunk
    ]
    semaphore = asyncio.Semaphore(parallelism)

    async def send(batch: list[MutationCall]) -> list[MutationOutcome]:
        async with semaphore:
            if should_stop is not None and should_stop():
                outcomes = [
                    MutationOutcome(call, error="not sent: interrupted", code="INTERRUPTED")
                    for call in batch
                ]
            else:
                if on_send:
                    on_send(batch)
                outcomes = await _send_batch(client, batch, should_stop)
        if on_batch:
            on_batch(outcomes)
            return []  # handed over
        return outcomes

    results = await asyncio.gather(*(send(b) for b in batches))
    if on_batch:
        return []
    flat = [outcome for batch in results for outcome in batch]
    by_index = dict(zip(order, flat, strict=True))
    return [by_index[i] for i in range(len(calls))]


async def _send_batch(
    client: PortalClient,
    calls: list[MutationCall],
    should_stop: Callable[[], bool] | None = None,
) -> list[MutationOutcome]:
    """One request for the calls whose variables can be built; an outcome
    for every call, in order. ``should_stop``: as ``run_mutations``'s."""
    unbuilt: dict[int, MutationOutcome] = {}
    batch: list[tuple[MutationCall, dict[str, Any]]] = []
    for position, call in enumerate(calls):
        try:
            batch.append((call, call.built_variables()))
        except CallNotBuilt as exc:
            unbuilt[position] = MutationOutcome(call, error=str(exc))
    sent = await _send_built(client, batch, should_stop=should_stop) if batch else []
    outcomes = iter(sent)
    return [unbuilt.get(position) or next(outcomes) for position in range(len(calls))]


async def _send_built(
    client: PortalClient,
    batch: list[tuple[MutationCall, dict[str, Any]]],
    again: bool = False,
    waited: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> list[MutationOutcome]:
    """Send ``batch`` (calls and their built variables) as one document;
    ``again``: it is the second try of calls an ``UNAUTHENTICATED`` answer
    left unexecuted (or maybe unexecuted), which is not tried a third time;
    ``waited``: how many times calls of it were sent again after RATE_LIMITED;
    ``should_stop``: once true, calls refused with RATE_LIMITED (they did not
    run) are not sent again: no new work is sent after an interrupt."""
    first = batch[0][0]
    document = operation_document(first.kind, first.operation, len(batch))
    variables = {
        f"{name}_{index}": value
        for index, (_call, built) in enumerate(batch)
        for name, value in built.items()
    }
    try:
        response = await client.execute(
            document,
            variables,
            retry_safe=first.retry_safe,
            label=f"{first.operation} x{len(batch)}",
            verify=False,  # alias by alias below: each succeeds or fails on its own
        )
    except AmbiguousRequestError as exc:
        return [
            MutationOutcome(
                call, error=str(exc), ambiguous=True, resend=exc.resend, in_flight=exc.resend
            )
            for call, _ in batch
        ]
    except KonvsyncError as exc:
        return [MutationOutcome(call, error=str(exc)) for call, _ in batch]
    errors: dict[str, dict[str, Any]] = {}
    below: dict[str, dict[str, Any]] = {}
    general: list[dict[str, Any]] = []
    for error in response.errors:
        path = error.get("path")
        if isinstance(path, list) and path and isinstance(path[0], str):
            (errors if len(path) == 1 else below).setdefault(path[0], error)
        else:
            general.append(error)
    unauthenticated = not again and any(
        error_code(error) == "UNAUTHENTICATED" for error in response.errors
    )
    executed = response.executed
    data = response.data or {}
    field = document.field
    # One kind a batch: only a kind with map fields can list a key twice.
    # With ``mutation_call`` choosing the operation itself and ``_send``
    # calling it directly, a call less each: building, sending and reading
    # the 12,100 mutations of a 10,000-user cold apply (the client aside)
    # 807 -> 779 million instructions.
    maps = bool(first.kind.map_names)
    outcomes: list[MutationOutcome | None] = []
    resend: dict[int, tuple[MutationCall, dict[str, Any]]] = {}
    limited: set[int] = set()
    for index, (call, built) in enumerate(batch):
        alias = f"m{index}"
        own = errors.get(alias)
        if data.get(alias) is None:
            if alias in below and not call.retry_safe:
                # An error below the alias: its object came back, so it ran,
                # whatever an error of its own says (RATE_LIMITED included).
                ran = _failed(call, below[alias])  # it ran: never sent again
                outcomes.append(ran._replace(ambiguous=True, resend=False))
                continue
            # Over the request rate: an alias's own error says it did not run;
            # one error of the whole answer (``data: null``) may not say as
            # much, so only a call that may run twice is sent again unasked.
            limit = own if own is not None else _answer_error(general, alias in below)
            over_rate = limit is not None and error_code(limit) == "RATE_LIMITED"
            if (
                waited < client.settings.max_retries
                and over_rate
                and (own is not None or call.retry_safe)
            ):
                limited.add(index)  # refused over the request rate
                resend[index] = (call, built)
                outcomes.append(None)
                continue
            if unauthenticated and (own is None or error_code(own) == "UNAUTHENTICATED"):
                if own is None and not call.retry_safe:
                    outcomes.append(MutationOutcome(call, error=_unproven(), ambiguous=True))
                    continue
                resend[index] = (call, built)
                outcomes.append(None)
                continue
            failed = _failed(call, own or below.get(alias) or (general[0] if general else None))
            if own is None and executed and not call.retry_safe:
                # It may have run: looked up by its key, and (refused over
                # the rate, which says it did not) sent again when not found.
                failed = failed._replace(ambiguous=True, resend=over_rate)
            outcomes.append(failed)
            continue
        own = own or below.get(alias)
        if own is not None or general:
            log.warning(
                "%s %s: the portal answered with its data and an error (%s); the data shows "
                "it was done",
                first.operation,
                alias,
                printable(error_message(own or general[0])),  # the portal's text: escaped
            )
        try:
            check_field(document, alias, data[alias])
            twice = call.kind.listed_twice(data[alias]) if maps else None
            if twice is not None:
                raise Misfit((alias, twice[0]), f"lists {twice[1]!r} twice")
        except Misfit as misfit:
            where = format_path((field, *misfit.path[1:]))
            problem = str(ContractError(first.operation, f"{where} {misfit.problem}"))
            outcomes.append(MutationOutcome(call, error=problem, code="CONTRACT"))
            continue
        outcomes.append(MutationOutcome(call, data=data[alias]))
    if limited:
        wait = RATE_LIMITED_WAIT * 2**waited
        cap = max(RATE_LIMITED_WAIT, client.settings.backoff_cap)
        if await _stopped_within(min(wait, cap), should_stop):  # before or during the wait
            for index in limited:
                del resend[index]
                outcomes[index] = MutationOutcome(
                    batch[index][0], error="not sent: interrupted", code="INTERRUPTED"
                )
    if resend:
        again = again or unauthenticated  # a token is renewed once a batch
        resent = iter(
            await _send_built(
                client, list(resend.values()), again, waited + bool(limited), should_stop
            )
        )
        outcomes = [outcome or next(resent) for outcome in outcomes]
    return [outcome for outcome in outcomes if outcome is not None]


def _answer_error(general: list[dict[str, Any]], below: bool) -> dict[str, Any] | None:
    """The one error of a whole answer (no path) that is all it says of an
    alias without data or an error of its own; None when there are several,
    or one below the alias (then it ran)."""
    return general[0] if len(general) == 1 and not below else None


async def _stopped_within(seconds: float, should_stop: Callable[[], bool] | None) -> bool:
    """Wait ``seconds``, or less when ``should_stop()`` becomes true (looked
    at every ``STOP_POLL`` seconds); whether it did."""
    if should_stop is None:
        await asyncio.sleep(seconds)
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not should_stop():
        left = deadline - loop.time()
        if left <= 0:
            return False
        await asyncio.sleep(min(left, STOP_POLL))
    return True


def _failed(call: MutationCall, error: dict[str, Any] | None) -> MutationOutcome:
    if error is None:
        return MutationOutcome(call, error="no result returned", code="INTERNAL")
    return MutationOutcome(call, error=error_message(error), code=error_code(error))


def _unproven() -> str:
    return (
        "the portal answered UNAUTHENTICATED without saying which mutations it executed; "
        "it may have been applied"
    )
