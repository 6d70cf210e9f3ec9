"""Rendering one value the same way in every human-readable format, with
control characters escaped (values come from the portal)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from konvsync.plan.changes import Plan

from konvsync.plan.changes import SENSITIVE
from konvsync.support.redact import printable

_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
"""One encoder for every value (``json.dumps`` with options builds a new one per call)."""


_ENCODE_STR = json.encoder.encode_basestring
"""The encoder's own string step (C), without its per-call set-up."""


def show(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is str:
        return printable(_ENCODE_STR(value))
    if value is SENSITIVE:
        return str(value)
    return printable(_ENCODE(value))


def action_label(action: str) -> str:
    return {"create": "created", "update": "updated in-place", "delete": "destroyed"}[action]


def summary_line(counts: dict[str, int]) -> str:
    return (
        f"Plan: {counts['add']} to add, {counts['change']} to change, "
        f"{counts['destroy']} to destroy."
    )


NO_CHANGES = "No changes. The portal matches the configuration."


def refused_note(plan: Plan) -> str:
    """What a reader of a refused plan should know (the plan is shown in full)."""
    counts = plan.counts
    return (
        "This plan was refused (exit 3) and cannot be applied as it is; it is shown in "
        f"full below ({counts['add']} to add, {counts['change']} to change, "
        f"{counts['destroy']} to destroy)."
    )


def scope_line(plan: Plan) -> str | None:
    """The plan's ``policy.scope`` in one line, or None without one."""
    if not plan.scope:
        return None
    return (
        f"Scope: {printable(plan.scope.describe())} (policy.scope: the rest of the portal is "
        "not this configuration's and is left alone)"
    )
