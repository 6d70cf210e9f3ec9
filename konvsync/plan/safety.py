"""Safety rails: the portal guard, the mass-delete and mass-update limits,
welcome e-mails.

A check that fails returns a ``Refusal`` (why, and the numbers behind it):
the planner still makes the whole plan, so that a refused plan can be shown
with its reason, and then refuses it (exit 3)."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from konvsync.config.model import DesiredState
from konvsync.kinds import kind
from konvsync.kinds.base import normalize_text
from konvsync.plan.changes import Change, Create, Delete, Refusal, RefusalCheck, Update
from konvsync.plan.remote import RemoteState

MASS_DELETE_MIN_OBJECTS = 10
MASS_CHECKS = {"delete": RefusalCheck.MASS_DELETE, "update": RefusalCheck.MASS_UPDATE}


def check_portal(desired: DesiredState, remote: RemoteState) -> Refusal | None:
    """Refuse a portal whose name is not the config's ``portal``, compared
    as every string is (NFC, without surrounding whitespace): the portal may
    store the name its administrators typed as they typed it."""
    if (
        desired.portal is not None
        and remote.portal_name is not None
        and normalize_text(desired.portal) != normalize_text(remote.portal_name)
    ):
        return Refusal(
            RefusalCheck.PORTAL_GUARD,
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
    deleting = Counter(c.kind for c in changes if isinstance(c, Delete) and not c.cascade)
    return _over_limit("delete", deleting, remote, desired.policy.max_delete_percent, desired)


def welcome_emails(changes: list[Change], desired: DesiredState) -> int:
    if not desired.policy.send_welcome_email:
        return 0
    return sum(1 for c in changes if isinstance(c, Create) and kind(c.kind).create_notice)


def check_mass_update(
    changes: list[Change], desired: DesiredState, remote: RemoteState, allow_mass_update: bool
) -> Refusal | None:
    """``policy.max_update_percent`` (off unless set), as octoDNS's update
    threshold: refuse a plan updating more of a kind (of at least 10)."""
    limit = desired.policy.max_update_percent
    if limit is None or allow_mass_update:
        return None
    updating = Counter(c.kind for c in changes if isinstance(c, Update))
    return _over_limit("update", updating, remote, limit, desired)


def _over_limit(
    action: str, counts: Counter[str], remote: RemoteState, limit: float, desired: DesiredState
) -> Refusal | None:
    """The refusal when, for a kind of at least ``MASS_DELETE_MIN_OBJECTS``
    objects, ``counts`` (deletes or updates) exceed ``limit`` percent. With
    ``policy.scope``, ``remote`` holds only the objects in scope: the limits
    are shares of what the configuration owns, not of the whole portal."""
    refused = []
    numbers: dict[str, Any] = {}
    for kind_name, count in sorted(counts.items()):
        existing = len(remote.get(kind_name))
        if existing >= MASS_DELETE_MIN_OBJECTS and count * 100 > limit * existing:
            percent = share_over(count, existing, limit)
            within = " in policy.scope" if desired.policy.scope.governs(kind_name) else ""
            refused.append(f"{count} of {existing} {kind_name}{within} ({percent:f}%)")
            numbers[kind_name] = {action: count, "existing": existing, "percent": float(percent)}
    if not refused:
        return None
    return Refusal(
        MASS_CHECKS[action],
        f"refusing to {action} {'; '.join(refused)}: more than max_{action}_percent "
        f"{limit:g}%; nothing was changed. Re-run with --allow-mass-{action} if this is "
        "intended",
        {f"max_{action}_percent": limit, "kinds": numbers},
    )


def share_over(count: int, total: int, limit: float) -> Decimal:
    """``count`` of ``total`` in percent, rounded half up to one decimal (20 of
    30: 66.7), with more decimals where that would not show it over ``limit``
    (2,501 of 10,000 over 25: 25.01, not 25.0)."""
    exact = Decimal(count * 100) / Decimal(total)
    bound = Decimal(str(limit))
    for places in range(1, 8):
        shown = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if shown > bound or exact <= bound:
            break
    return shown.normalize()


def check_welcome_emails(emails: int, desired: DesiredState, allowed: int) -> Refusal | None:
    """``policy.max_welcome_emails`` (default 50): welcome e-mails cannot be
    recalled, so more than that needs ``--allow-welcome-emails N``, N >= the count."""
    limit = desired.policy.max_welcome_emails
    if emails <= limit or emails <= allowed:
        return None
    return Refusal(
        RefusalCheck.WELCOME_EMAILS,
        f"refusing to send {emails} welcome e-mails: more than policy.max_welcome_emails "
        f"{limit}; nothing was changed. Re-run with --allow-welcome-emails {emails} if "
        "this is intended (or set policy.send_welcome_email: false)",
        {"welcome_emails": emails, "max_welcome_emails": limit},
    )
