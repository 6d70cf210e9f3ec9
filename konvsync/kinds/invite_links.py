"""Invite links: registration links, keyed by ``title`` (titles are not
unique in the portal: two remote links with one title stop the plan).

``code`` is sensitive; ``url`` and ``expired`` are the portal's. At most one
active, unexpired OPEN link may exist at a time (the contract answers
CONFLICT to a second), which the kind declares as its ``AtMostOne`` rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from konvsync.kinds.base import AtMostOne, Field, Kind
from konvsync.kinds.datetimes import parse_utc
from konvsync.kinds.schema_rules import forbidden_when, not_both, required_when


def _open_and_live(data: Mapping[str, Any], now: dt.datetime) -> bool:
    if data.get("access") != "OPEN" or data.get("active") is False:
        return False
    expires = data.get("expiresAt")
    if not isinstance(expires, str):
        return True
    try:
        return parse_utc(expires) > now
    except ValueError:
        return True


KIND = Kind(
    name="inviteLinks",
    singular="invite link",
    description="Invite links: registration links partners join through.",
    key_field="title",
    rename_field="renamedFrom",
    fields=(
        Field("title", "the link's title. An existing link with this title is adopted."),
        Field("url", "The link people register through.", server_only=True, announce=True),
        Field(
            "access",
            "OPEN: anyone with the link may register (at most one active, unexpired OPEN link "
            "at a time). CODE: registration also needs the code.",
        ),
        Field(
            "code",
            "the code a CODE link asks for (required with CODE, not allowed with OPEN).",
            sensitive=True,
        ),
        Field(
            "active", "The administrator's switch; expiry does not change it.", export_default=True
        ),
        Field("expiresAt", "When the link stops working; null: never.", timestamp=True),
        Field(
            "expired",
            "Whether expiresAt has passed (an expired link accepts no one).",
            server_only=True,
        ),
        Field(
            "account",
            "externalId of the account people who register land in (exclusive with "
            "accountMatchField).",
            ref="accounts",
            input_name="accountId",
        ),
        Field(
            "accountMatchField",
            "key of a TEXT, NUMBER or SELECT account field: people land in the account whose "
            "field equals what they enter (exclusive with account).",
            ref="accountFields",
            input_name="accountMatchFieldId",
            ref_only=("type", ("TEXT", "NUMBER", "SELECT")),
        ),
        Field(
            "allowedEmailDomains",
            "Lowercase e-mail domains allowed to register; empty: any.",
            shape="set",
            domain=True,
            pattern="^[a-z0-9.-]+$",
            pattern_message="must be a lowercase domain such as acme.example (an internationalized "
            "one in its ASCII form, such as xn--bcher-kva.example)",
        ),
        Field(
            "groups",
            "externalIds of the groups people who register join.",
            shape="set",
            ref="groups",
            input_name="groupIds",
        ),
        Field(
            "redirectPath",
            "A path inside the portal to open after registering, starting with / (such as /lms).",
            pattern="^/",
            pattern_message="must be a path starting with / (such as /lms)",
        ),
    ),
    operations_file="invite_links.graphql",
    type_name="InviteLink",
    id_prefix="inv",
    unique_key=False,
    at_most_one=AtMostOne("active, unexpired OPEN invite link", _open_and_live),
    expires_field="expiresAt",
    schema_rules=(
        required_when("access", "CODE", "code", "access CODE needs a code (code: ${env:NAME})"),
        forbidden_when(
            "access", "OPEN", "code", "access OPEN takes no code; remove it or use access: CODE"
        ),
        not_both("account", "accountMatchField", "give account or accountMatchField, not both"),
    ),
)
