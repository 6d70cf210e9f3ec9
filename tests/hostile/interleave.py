"""A portal that interleaves two konvsync runs the worst way: both plan from
the same state, A writes its first step, then B runs its whole apply, then A
goes on. Clients come through path prefixes ``a`` and ``b`` of one hostile
server (point A at ``server.endpoint("a")``).

A client's *apply phase* starts at its first request that is not part of
reading for the plan: a mutation, a ``Get*`` query, or a ``Read*`` query from
the first page (``after`` null) that this client has already made once (a
re-read before a step). Every wait gives up after :data:`PATIENCE` seconds so
that a konvsync that serializes some other way cannot deadlock the test.
"""

from __future__ import annotations

import asyncio
import threading
import time

from aiohttp import web

from tests.hostile.server import Call, Case, Json

PATIENCE = 20.0


async def _wait(event: threading.Event, patience: float = PATIENCE) -> None:
    limit = time.monotonic() + patience
    while not event.is_set() and time.monotonic() < limit:
        await asyncio.sleep(0.01)


class Interleave(Case):
    name = "interleave"

    def __init__(self) -> None:
        self.b_applying = threading.Event()
        """B has planned and made its first apply-phase request."""
        self.a_wrote = threading.Event()
        """A's first mutation has been executed."""
        self.b_finished = threading.Event()
        """Set by the test when B's process has ended."""
        self.applying: set[str] = set()
        self.first_pages: dict[str, set[str]] = {"a": set(), "b": set()}

    def _starts_apply_phase(self, call: Call) -> bool:
        if call.client in self.applying:
            return True
        apply_phase = call.is_mutation or call.operation.startswith("Get")
        if call.operation.startswith("Read") and call.variables.get("after") is None:
            seen = self.first_pages.setdefault(call.client, set())
            apply_phase = apply_phase or call.operation in seen
            seen.add(call.operation)
        if apply_phase:
            self.applying.add(call.client)
        return apply_phase

    async def before(self, call: Call) -> web.StreamResponse | None:
        if not self._starts_apply_phase(call):
            return None
        if call.client == "b":
            self.b_applying.set()
            await _wait(self.a_wrote)
        elif call.client == "a":
            if self.a_wrote.is_set():
                await _wait(self.b_finished)
            elif call.is_mutation:
                await _wait(self.b_applying)
        return None

    def answer(self, call: Call, answer: Json) -> Json:
        if call.client == "a" and call.is_mutation:
            self.a_wrote.set()
        return answer
