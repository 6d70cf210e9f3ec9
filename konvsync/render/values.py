"""Rendering one value the same way in every human-readable format, with
control characters escaped (values come from the portal)."""

from __future__ import annotations

import json
from typing import Any

from konvsync.redact import printable

_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
"""One encoder for every value (``json.dumps`` with options builds a new one per call)."""


_ENCODE_STR = json.encoder.encode_basestring
"""The encoder's own string step (C), without its per-call set-up."""


def show(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is str:
        return printable(_ENCODE_STR(value))
    return printable(_ENCODE(value))


def action_label(action: str) -> str:
    return {"create": "created", "update": "updated in-place", "delete": "destroyed"}[action]


def summary_line(counts: dict[str, int]) -> str:
    return (
        f"Plan: {counts['add']} to add, {counts['change']} to change, "
        f"{counts['destroy']} to destroy."
    )


NO_CHANGES = "No changes. The portal matches the configuration."
