"""The order changes are applied in, derived from the kinds: creates and
updates kind by kind in registry order, then deletes in reverse.

A kind with an ``AtMostOne`` rule (one open invite link at a time) first
runs the changes that take an object out of the ruled state, and the
deletes of its objects, so that switching from one object to another in
one apply never holds two at once."""

from __future__ import annotations

from konvsync.kinds import KINDS
from konvsync.kinds.address import Address
from konvsync.kinds.base import Kind
from konvsync.kinds.datetimes import now_utc
from konvsync.plan.changes import Change, Delete, Update
from konvsync.plan.remote import RemoteState

Step = tuple[str, list[Change]]


def releases(k: Kind, change: Change, remote: RemoteState) -> bool:
    """Whether ``change`` takes an object out of ``k``'s at-most-one state
    (a delete always may)."""
    rule = k.at_most_one
    if rule is None:
        return False
    if isinstance(change, Delete):
        return True
    if not isinstance(change, Update):
        return False
    current = remote.find(change.kind, change.remote_id)
    before = current.data if current is not None else dict(change.before or {})
    after = {**before, **(change.after or {})}
    now = now_utc()
    return rule.holds(before, now) and not rule.holds(after, now)


def apply_steps(changes: list[Change], remote: RemoteState) -> list[Step]:
    """The changes as labelled steps, in the order they are applied."""
    steps: list[Step] = []
    released: set[Address] = set()
    by_kind: dict[str, list[Change]] = {}
    for change in changes:  # one pass, not one per kind (12,100 changes, 8 kinds)
        by_kind.setdefault(change.kind, []).append(change)
    for k in KINDS:
        same = by_kind.get(k.name, [])
        first = [c for c in same if releases(k, c, remote)] if k.at_most_one else []
        if first:
            steps.append((f"{k.name}: release", first))
            released.update(c.address for c in first)
        upserts = [
            c
            for c in same
            if not isinstance(c, Delete) and not (released and c.address in released)
        ]
        if upserts:
            steps.append((f"{k.name}: create/update", upserts))
    for k in reversed(KINDS):
        deletes: list[Change] = [
            c
            for c in by_kind.get(k.name, [])
            if isinstance(c, Delete) and not (released and c.address in released)
        ]
        if deletes:
            steps.append((f"{k.name}: delete", deletes))
    return steps


def in_apply_order(changes: list[Change], remote: RemoteState) -> list[Change]:
    return [change for _label, step in apply_steps(changes, remote) for change in step]
