""" "Did you mean": the known words closest to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, known: Iterable[str], limit: int = 3) -> str:
    """``"; did you mean 'name'?"`` (up to ``limit`` words, ``'a' or 'b'``),
    or ``""`` when nothing known is close to ``word``."""
    close = difflib.get_close_matches(word, sorted(set(known)), n=limit, cutoff=0.6)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
