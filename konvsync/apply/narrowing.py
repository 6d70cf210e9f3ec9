"""Lists whose items other objects hold as values (a SELECT account field's
options, held by the accounts' custom field values), narrowed last.

An update that takes such items away is sent in two parts: in its own step
the list as configured with the items taken away kept at its end, and after
every other step of the run (the holding kind's updates and deletes
included) the list as configured. The contract requires values to fit their
field and is silent on what a server does when a field changes under them:
one that refuses to take away an option an account still holds would
otherwise fail the field's update (the accounts are moved off it in a later
step) and the accounts' new values (not options yet), on every run. Each
reading stores the same in the end; the second part costs one mutation per
such field (batched as a step's are), and the planned change counts once,
done when both parts are; stopped between them, the second part is
reported not started (``PlanExecutor._narrow``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from konvsync.kinds import kind
from konvsync.plan.changes import Change, FieldChange, Update

NOTE = "items taken away after the objects holding them were changed"


def narrowed_last(change: Change) -> tuple[Change, Update | None]:
    """``change`` as its step sends it, and the update that takes the items
    away afterwards (None: it takes none away from such a list)."""
    if not isinstance(change, Update):
        return change, None
    held = {f.name for f in kind(change.kind).fields if f.held_by and f.shape == "list"}
    before, after = change.before or {}, change.after or {}
    widened: dict[str, list[Any]] = {}
    for name in held.intersection(change.changed_fields()):
        old, new = before.get(name) or [], after.get(name) or []
        gone = [item for item in old if item not in new]
        if gone:
            widened[name] = [*new, *gone]
    if not widened:
        return change, None
    first = replace(
        change,
        after={**after, **widened},
        fields=tuple(
            FieldChange(f.path, f.before, widened[f.top]) if f.top in widened else f
            for f in change.fields
        ),
    )
    last = Update(
        change.kind,
        change.key,
        dict(widened),
        {name: after.get(name) for name in widened},
        tuple(FieldChange(name, widened[name], after.get(name)) for name in widened),
        change.remote_id,
        note=NOTE,
        parent=change.parent,
    )
    return first, last
