"""Values named in messages: a message names a value, it does not copy it."""

from __future__ import annotations

import json
from typing import Any


def shortened(text: str, limit: int = 80) -> str:
    """``text`` whole when it is at most ``limit`` characters; else its
    first ``limit`` characters and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def brief(value: Any, limit: int = 80) -> str:
    """``value`` as JSON (strings quoted, control characters escaped), shortened."""
    return shortened(json.dumps(value, default=str, ensure_ascii=True), limit)
