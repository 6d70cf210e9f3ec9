"""Every signal konvsync handles, in one place:

- ``sigterm_interrupts``: for the whole command, SIGTERM (what CI runners
  send on cancel) interrupts like Ctrl-C: one line, exit 1, instead of dying
  with 143 and no word;
- ``prompt_signals``: at apply's confirmation prompt, Ctrl-C raises
  KeyboardInterrupt (asyncio's own SIGINT handler would only cancel the task
  and leave the prompt waiting for a line);
- ``signals_call``: while apply sends changes, SIGINT and SIGTERM call a
  handler that stops new work and, the second time, stops waiting;
- ``signals_held``: SIGINT and SIGTERM wait while a record is written (the
  apply report's last write), and arrive right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block (main thread only)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def prompt_signals() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt inside the block, also inside a
    running event loop (the prompt turns it into a refusal)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: signals are not ours to set
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def signals_call(loop: asyncio.AbstractEventLoop, handler: Callable[[str], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``handler`` (with the signal's name) inside the
    block, in the event loop, in the order the signal came among the loop's
    other work; the handlers from before are restored after it.

    The signal's Python handler queues the call at once (it runs in the
    loop's thread at its next bytecode; the loop's wake-up pipe, which
    ``add_signal_handler`` sets, ends a wait for the network at once). With
    ``add_signal_handler``'s own call, queued only when the loop next read
    that pipe, a signal that came while an answer was on its way could be
    handled after the answer had let the next batch go: one more batch sent
    after Ctrl-C or SIGTERM (seen on a loaded machine)."""
    installed: list[tuple[signal.Signals, Any]] = []

    def queued(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(handler, signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _woken)  # the wake-up pipe; the call is below
            signal.signal(sig, queued)
            installed.append((sig, previous))
    try:
        yield
    finally:
        for sig, previous in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, TypeError):
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)


def _woken() -> None:
    """What the loop calls when it reads a signal from its wake-up pipe:
    nothing (``signals_call``'s handler has queued the call already)."""


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM are held (blocked) inside the block and delivered
    when it ends: a signal that comes while the apply's report is written
    (the one after a second Ctrl-C, say) does not cut that write short."""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, OSError, ValueError):  # no POSIX signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
