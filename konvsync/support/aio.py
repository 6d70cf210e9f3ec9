"""asyncio helpers: ``run`` for results of any size, ``gather`` that leaves
nothing running behind a failure.

``run``:

When ``asyncio.run`` restores the SIGINT handler it replaced, CPython's
``signal.signal`` turns the old handler into an enum member or, failing
that, raises and catches a ``ValueError`` whose message holds ``repr()`` of
the handler, which holds the finished main task, whose repr holds its result.
For a 10,000-user plan that repr took 120 ms. Boxing the result keeps it
out of that repr.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Box(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<result>"


async def _boxed(coroutine: Coroutine[Any, Any, T]) -> _Box[T]:
    return _Box(await coroutine)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``."""
    return asyncio.run(_boxed(coroutine)).value


async def gather(*awaitables: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather``, except that when one fails the others are
    cancelled and waited for before the failure is raised: no request is
    left in flight on a connection that is about to close (``asyncio.run``
    would otherwise report its failure during shutdown, after ours)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
