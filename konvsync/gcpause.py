"""Pausing Python's cyclic garbage collector around bulk work.

Loading a config and normalizing a portal create hundreds of thousands of
objects without reference cycles; the collector would rescan all of them
again and again (it tripled the time to load a 5 MB file). Pausing it for
the bulk step and restoring it afterwards is the standard remedy.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
