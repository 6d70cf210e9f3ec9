"""Safety rails: the portal guard, the mass-delete limit, welcome e-mails.

A check that fails returns a ``Refusal`` (why, and the numbers behind it):
the planner still makes the whole plan, so that a refused plan can be shown
with its reason, and then refuses it (exit 3)."""

from __future__ import annotations

import math
from typing import Any

from konvsync.config.model import DesiredState
from konvsync.plan.changes import Change, Create, Delete, Refusal
from konvsync.plan.remote import RemoteState

MASS_DELETE_MIN_OBJECTS = 10


def check_portal(desired: DesiredState, remote: RemoteState) -> Refusal | None:
    if (
        desired.portal is not None
        and remote.portal_name is not None
        and desired.portal != remote.portal_name
    ):
        return Refusal(
            "portal_guard",
            f"portal guard: the config is for {desired.portal!r} but the "
            f"endpoint serves {remote.portal_name!r}; nothing was changed",
            {},
        )
    return None


def check_mass_delete(
    changes: list[Change], desired: DesiredState, remote: RemoteState, allow_mass_delete: bool
) -> Refusal | None:
    if allow_mass_delete:
        return None
    limit = desired.policy.max_delete_percent
    refused = []
    numbers: dict[str, Any] = {}
    for kind_name in {c.kind for c in changes if isinstance(c, Delete)}:
        existing = len(remote.get(kind_name))
        deleting = sum(
            1 for c in changes if isinstance(c, Delete) and c.kind == kind_name and not c.cascade
        )
        if existing >= MASS_DELETE_MIN_OBJECTS and deleting * 100 > limit * existing:
            percent = math.floor(deleting * 1000 / existing) / 10
            refused.append(f"{deleting} of {existing} {kind_name} ({percent:g}%)")
            numbers[kind_name] = {"delete": deleting, "existing": existing, "percent": percent}
    if not refused:
        return None
    return Refusal(
        "mass_delete",
        f"refusing to delete {'; '.join(sorted(refused))}: more than max_delete_percent "
        f"{limit:g}%; nothing was changed. Re-run with --allow-mass-delete if this is "
        "intended",
        {"max_delete_percent": limit, "kinds": dict(sorted(numbers.items()))},
    )


def welcome_emails(changes: list[Change], desired: DesiredState) -> int:
    if not desired.policy.send_welcome_email:
        return 0
    return sum(1 for c in changes if isinstance(c, Create) and c.kind == "users")
