"""Values named in messages: a message names a value, it does not copy it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate, which is not text (no encoder writes it): what Python
makes of bytes that are not UTF-8 in a file name or the environment
(surrogateescape), and what ``json.loads`` accepts from ``"\\ud800"``."""


def shortened(text: str, limit: int = 80) -> str:
    """``text`` whole when it is at most ``limit`` characters; else its
    first ``limit`` characters and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def listed(names: Sequence[str], limit: int) -> str:
    """The first ``limit`` of ``names``, joined by commas, and how many more
    there are: ``a, b, c and 2 more``."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def brief(value: Any, limit: int = 80) -> str:
    """``value`` as JSON (strings quoted, control characters escaped), shortened."""
    return shortened(json.dumps(value, default=str, ensure_ascii=True), limit)
