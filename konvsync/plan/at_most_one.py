"""The portal's at-most-one rules (one active, unexpired OPEN invite link at a
time) checked against the portal as a plan would leave it: ``validate`` sees
only the configuration, but a portal object the configuration leaves alone
(made by hand, not pruned, or outside the scope) holds the state just as
well, and the portal answers CONFLICT to a second. That is a config problem
at the place of the object that would be the second, before anything is
sent, not a failure halfway through an apply."""

from __future__ import annotations

from typing import Any

from konvsync.errors import ConfigInvalid, ConfigProblem
from konvsync.kinds import KINDS
from konvsync.kinds.base import Kind
from konvsync.kinds.datetimes import now_utc
from konvsync.plan.changes import Change, Create, Delete, Update
from konvsync.plan.remote import RemoteState


def check_at_most_one(changes: list[Change], remote: RemoteState) -> None:
    """Raise ``ConfigInvalid`` where a create or update of ``changes`` would
    bring an object into a ruled state that an object the plan does not
    touch holds in the portal."""
    problems: list[ConfigProblem] = []
    for k in KINDS:
        if k.at_most_one is not None:
            problems += _problems(k, changes, remote)
    if problems:
        raise ConfigInvalid(problems)


def _problems(k: Kind, changes: list[Change], remote: RemoteState) -> list[ConfigProblem]:
    rule = k.at_most_one
    assert rule is not None
    now = now_utc()
    held = remote.get(k.name)
    holding = [obj for obj in [*held.all(), *held.outside] if rule.holds(obj.data, now)]
    if not holding:
        return []  # most portals: no pass over the plan's changes (plan.scope.narrowed_outside)
    touched = {c.remote_id for c in changes if c.kind == k.name and isinstance(c, (Update, Delete))}
    left_alone = [obj for obj in holding if obj.id not in touched]
    if not left_alone:
        return []
    other = left_alone[0]
    outside = any(obj is other for obj in held.outside)
    named = (
        f"{other.key!r} ({other.id}), which"
        if other.key is not None
        else f"{k.singular} {other.id}, which has no {k.key_field} and which"
    )
    if outside:
        whose = (
            "is outside policy.scope; the portal allows one at a time (have its owner "
            "deactivate or delete it, or make this one active: false)"
        )
    else:
        whose = (
            "this configuration leaves alone; the portal allows one at a time (deactivate or "
            "delete that one"
            + (", or add it to the configuration with active: false" if other.key else "")
            + ")"
        )
    problems: list[ConfigProblem] = []
    for change in changes:
        after: dict[str, Any]
        if isinstance(change, Create):
            after = {**k.defaults, **(change.after or {})}
        elif isinstance(change, Update):
            current = remote.find(k.name, change.remote_id)
            if current is None or rule.holds(current.data, now):
                continue  # already holds it: the portal's own doing, not this plan's
            after = {**current.data, **(change.after or {})}
        else:
            continue
        if change.source is None or not rule.holds(after, now):
            continue
        problems.append(
            change.source.problem(
                f"{k.singular} {change.key!r} would be a second {rule.what} next to the "
                f"portal's {named} {whose}"
            )
        )
    return problems
