"""Pausing Python's cyclic garbage collector around bulk work.

Loading a config and normalizing a portal create hundreds of thousands of
objects without reference cycles; the collector would rescan all of them
again and again (it tripled the time to load a 5 MB file). Pausing it for
the bulk step and restoring it afterwards is the standard remedy; what the
step built is then frozen (``gc.freeze``) so that later collections skip it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the collector until the outermost pause ends (pauses nest: the
    config's load inside a command's)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                # What the bulk step built (a config, a portal's state) lives
                # on; frozen, the first collection after it does not scan a
                # million objects again (60 ms for a 10,000-user plan).
                gc.freeze()
                gc.enable()
