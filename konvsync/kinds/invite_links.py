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
    key_field="title",
    fields=(
        Field("title"),
        Field("url", server_only=True, announce=True),
        Field("access"),
        Field("code", sensitive=True),
        Field("active", export_default=True),
        Field("expiresAt", timestamp=True),
        Field("expired", server_only=True),
        Field("account", ref="accounts", input_name="accountId"),
        Field(
            "accountMatchField",
            ref="accountFields",
            input_name="accountMatchFieldId",
            ref_only=("type", ("TEXT", "NUMBER", "SELECT")),
        ),
        Field("allowedEmailDomains", shape="set"),
        Field("groups", shape="set", ref="groups", input_name="groupIds"),
        Field("redirectPath"),
    ),
    operations_file="invite_links.graphql",
    type_name="InviteLink",
    id_prefix="inv",
    unique_key=False,
    at_most_one=AtMostOne("active, unexpired OPEN invite link", _open_and_live),
    expires_field="expiresAt",
)
