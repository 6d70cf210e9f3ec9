"""The contract's rules that the kinds and the schema cannot say, as small
hooks per kind, and the portal's own content a new sandbox starts with.

Everything else (required and non-null fields, references that must exist,
unique natural keys, children, cascades, time stamps, custom field keys, at
most one object in a state) is the generic store's, derived from
``konvsync.kinds`` and ``schemas/konvert.graphql``: a kind without rules of
its own needs nothing here.

Hooks see objects as the store keeps them: fields under their output names,
references as the referred objects' numbers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from konvsync.kinds.custom_values import value_fits
from konvsync.sandbox.rows import StoreError, is_past

Row = dict[str, Any]


class Lookup(Protocol):
    """What a hook may ask of the store, inside the mutation's transaction."""

    def objects(self, kind: str) -> list[Row]: ...

    def send_mail(self, object_id: str, address: str) -> None: ...


def _no_check(_store: Lookup, _row: Row, _given: Mapping[str, Any] | None) -> None:
    return None


def _nothing(_row: Row) -> None:
    return None


def _not_sent(_store: Lookup, _row: Row, _options: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Rules:
    check: Callable[[Lookup, Row, Mapping[str, Any] | None], None] = _no_check
    """Raise ``StoreError`` when the object, as it would be stored, breaks a
    rule; given the update's input (None for a create)."""
    made: Callable[[Row], None] = _nothing
    """Fill in what the portal makes when it creates an object (a link's URL)."""
    created: Callable[[Lookup, Row, Mapping[str, Any]], None] = _not_sent
    """After a create, with the mutation's other arguments (sendWelcomeEmail)."""
    computed: Callable[[Row], None] = _nothing
    """Add the fields the portal computes when it answers (``expired``)."""


def _bad(message: str) -> StoreError:
    return StoreError(message, "BAD_USER_INPUT")


# ------------------------------------------------------------------ users


def _check_user(_store: Lookup, row: Row, _given: Mapping[str, Any] | None) -> None:
    email = str(row.get("email") or "")
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise _bad(f"{email!r} is not an e-mail address")


def _welcome(store: Lookup, row: Row, options: Mapping[str, Any]) -> None:
    """Creating a user sends a welcome e-mail unless sendWelcomeEmail is
    false (null sends it, as the argument's default; the store's own callers,
    who pass no such argument, send none)."""
    if "sendWelcomeEmail" in options and options["sendWelcomeEmail"] is not False:
        store.send_mail(row["id"], row["email"])


# ----------------------------------------------------- accounts, fields


def _check_account_field(_store: Lookup, row: Row, _given: Mapping[str, Any] | None) -> None:
    if row.get("type") == "SELECT" and not row.get("options"):
        raise _bad("a SELECT field needs at least one option")


def _check_account(store: Lookup, row: Row, given: Mapping[str, Any] | None) -> None:
    """Custom values must fit their AccountField (type, options, required),
    checked when they are written (a field made required later does not
    stop other changes to an account without a value)."""
    if given is not None and "customFields" not in given:
        return
    fields = {f["key"]: f for f in store.objects("accountFields")}
    values = {item["key"]: item.get("value") for item in row.get("customFields") or []}
    for key, value in values.items():
        field = fields[key]
        if value is not None and not value_fits(value, field["type"], field["options"]):
            raise _bad(f"value {value!r} does not fit custom field {key!r} ({field['type']})")
    for key, field in fields.items():
        if field["required"] and values.get(key) in (None, ""):
            raise _bad(f"custom field {key!r} is required")


# ----------------------------------------------------------- invite links

URL_BASE = "https://sandbox.konvert.invalid/join/"


def _check_link(_store: Lookup, row: Row, _given: Mapping[str, Any] | None) -> None:
    access = row.get("access")
    if access not in ("OPEN", "CODE"):
        raise _bad(f"access {access!r} is not OPEN or CODE")
    if access == "CODE" and not row.get("code"):
        raise _bad("a CODE link needs a code")
    if access == "OPEN" and row.get("code"):
        raise _bad("an OPEN link takes no code")
    if row.get("account") is not None and row.get("accountMatchField") is not None:
        raise _bad("give accountId or accountMatchFieldId, not both")
    for domain in row.get("allowedEmailDomains") or []:
        if domain != domain.lower():
            raise _bad(f"domain {domain!r} is not lowercase")
    path = row.get("redirectPath")
    if path is not None and not path.startswith("/"):
        raise _bad(f"redirectPath {path!r} does not start with /")


def _link_url(row: Row) -> None:
    row["url"] = URL_BASE + secrets.token_urlsafe(12)


def _expired(row: Row) -> None:
    row["expired"] = is_past(row.get("expiresAt"))


RULES: dict[str, Rules] = {
    "users": Rules(check=_check_user, created=_welcome),
    "accountFields": Rules(check=_check_account_field),
    "accounts": Rules(check=_check_account),
    "inviteLinks": Rules(check=_check_link, made=_link_url, computed=_expired),
}
_NONE = Rules()
COMPUTED = {name: r.computed for name, r in RULES.items() if r.computed is not _nothing}
"""The kinds with computed fields (objects of others are shaped without a call)."""


def rules_of(kind: str) -> Rules:
    return RULES.get(kind, _NONE)


CONTENT: dict[str, tuple[Row, ...]] = {
    "lmsModules": (
        {"slug": "onboarding", "title": "Onboarding"},
        {"slug": "product-basics", "title": "Product basics"},
        {"slug": "sales-training", "title": "Sales training"},
        {"slug": "service-certification", "title": "Service certification"},
    ),
    "damCategories": (
        {"slug": "brand-assets", "name": "Brand assets"},
        {"slug": "price-lists", "name": "Price lists"},
        {"slug": "product-photos", "name": "Product photos"},
    ),
}
"""What a new sandbox holds of the reference kinds: they are authored in the
portal, not through the API, so the sandbox starts with a few of each."""
