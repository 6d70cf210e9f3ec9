""" "Did you mean": the known words closest to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known words closest to ``word``, best first. Case is compared
    last: a known word that differs only in case is the only answer
    (``manage_users``: ``MANAGE_USERS``), and the others are matched without
    it (``View_Acount_Users``: ``VIEW_ACCOUNT_USERS``), and only those
    nearly as close as the best."""
    words = sorted(set(known))
    folded = word.casefold()
    same = [w for w in words if w.casefold() == folded and w != word]
    if same:
        return same[:limit]
    by_fold: dict[str, str] = {}
    for w in words:
        by_fold.setdefault(w.casefold(), w)
    close = difflib.get_close_matches(folded, list(by_fold), n=limit, cutoff=0.6)
    if not close:
        return []
    # Only those nearly as close as the best: VIEW_ACOUNT_USERS is
    # VIEW_ACCOUNT_USERS, not also MANAGE_ACCOUNT_USERS.
    best = _ratio(folded, close[0])
    return [by_fold[match] for match in close if _ratio(folded, match) >= best - _MARGIN]


_MARGIN = 0.1
"""How much less alike than the best match another may be and still be shown."""


def _ratio(word: str, other: str) -> float:
    return difflib.SequenceMatcher(None, word, other).ratio()


def did_you_mean(word: str, known: Iterable[str], limit: int = 3) -> str:
    """``"; did you mean 'name'?"`` (up to ``limit`` words, ``'a' or 'b'``),
    or ``""`` when nothing known is close to ``word``."""
    close = close_matches(word, known, limit)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
