"""Type changes no order of one apply makes on a strict portal: a field
(``Field.held_by``, ``loosest``: an account field's ``type``) changed from
one constraining type to another while objects hold values the new type
does not fit.

The contract requires values to fit their field and is silent on field
updates: a portal may refuse such a type while the values are there. A
change away from the loosest type is made after the holders' steps
(``apply.tightening``: every value fits TEXT); any other is made before
them, so the values held then must fit it. When they do not, no order is
safe (clearing the values first would lose them if the run stopped
between), so the plan says which values and how to do it in two applies,
instead of a failure at apply time."""

from __future__ import annotations

from typing import Any

from konvsync.kinds import kind, value_holders
from konvsync.kinds.base import value_text
from konvsync.kinds.custom_values import value_fits
from konvsync.plan.changes import Change, Update
from konvsync.plan.remote import RemoteState
from konvsync.support.text import listed

SHOWN = 5


def unfit_type_changes(changes: list[Change], remote: RemoteState) -> list[str]:
    """A warning for each type change the values held (in scope or not)
    do not fit."""
    out = []
    for change in changes:
        if not isinstance(change, Update):
            continue
        fields = kind(change.kind).fields
        before, after = change.before or {}, change.after or {}
        changed = set(change.changed_fields())
        for f in fields:
            if not (f.held_by and f.loosest is not None and not f.binds_missing):
                continue
            old, new = before.get(f.name), after.get(f.name)
            if f.name not in changed or old in (f.loosest, new):
                continue
            held_list = next((g.name for g in fields if g.shape == "list" and g.held_by), "")
            options = list(after.get(held_list, before.get(held_list)) or [])
            unfit = _unfit_holders(change, remote, str(new), options)
            if unfit:
                out.append(
                    f"{change.address}: a portal that keeps values fitting their field may "
                    f"refuse to change its type from {old} to {new}, which apply does before "
                    f"the {f.held_by} are written, while {len(unfit)} {f.held_by} hold values "
                    f"that do not fit {new} ({listed(unfit, SHOWN)}); to be safe on any "
                    "portal, do it in two applies: first clear those values (null), then "
                    "change the type and set the new values"
                )
    return out


def _unfit_holders(
    change: Update, remote: RemoteState, field_type: str, options: list[str]
) -> list[str]:
    """Paths of the objects whose value under ``change``'s key (as the
    portal files it now) does not fit ``field_type``."""
    key = change.renamed_from or change.key
    unfit = []
    for holder, maps in value_holders(change.kind):
        held = remote.get(holder.name)
        for obj in [*held.objects.values(), *held.outside]:
            for name in maps:
                value: Any = (obj.data.get(name) or {}).get(key)
                if value is None:
                    continue
                text = value_text(value)
                if not value_fits(text, field_type, options):
                    unfit.append(obj.path)
    return sorted(unfit)
