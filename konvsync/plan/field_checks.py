"""Custom field values checked against the account fields at plan time: an
undefined key, a value the field's type or options refuse (for fields the
configuration does not define; the loader checks the others offline), or a
required field left without a value (in an account's ``customFields``, or in
an account to be created) are config problems (file:line) before anything is
sent, not failures halfway through an apply. The portal's account fields are
read whenever the configuration names accounts."""

from __future__ import annotations

from typing import Any

from konvsync.config.model import DesiredState
from konvsync.config.rules import map_value_source
from konvsync.custom_values import value_fits
from konvsync.errors import ConfigInvalid, ConfigProblem
from konvsync.plan.remote import RemoteState


def check_custom_fields(desired: DesiredState, remote: RemoteState) -> None:
    """Raise ``ConfigInvalid`` for custom field values the portal would refuse."""
    accounts = desired.objects.get("accounts")
    if not accounts:
        return
    existing = remote.get("accounts").objects
    definitions: dict[str, dict[str, Any]] = {
        obj.key: obj.data
        for obj in remote.get("accountFields").objects.values()
        if obj.key is not None
    }
    for obj in desired.objects.get("accountFields", {}).values():
        definitions[obj.key] = {"type": "TEXT", "options": [], "required": False, **obj.data}
    problems: list[ConfigProblem] = []
    defined = desired.objects.get("accountFields", {})
    for account in accounts.values():
        values = account.data.get("customFields")
        if values is None and account.key not in existing:
            values = {}  # a create sends no values: required fields have none
        if not isinstance(values, dict):
            continue
        what = f"account {account.key!r}"
        for key, value in values.items():
            definition = definitions.get(str(key))
            if str(key) in defined:
                continue  # checked offline by the loader
            where = map_value_source(account, "customFields", key)
            if definition is None:
                problems.append(
                    where.problem(
                        f"{what}: custom field {key!r} is defined neither in accountFields "
                        "nor in the portal"
                    )
                )
                continue
            if value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            ftype = str(definition.get("type") or "TEXT")
            options = list(definition.get("options") or [])
            if not value_fits(text, ftype, options):
                expected = f"one of {', '.join(options)}" if ftype == "SELECT" else ftype
                problems.append(
                    where.problem(
                        f"{what}: custom field {key!r} value {value!r} is not {expected} "
                        "(as the portal defines it)"
                    )
                )
        for key, definition in definitions.items():
            if definition.get("required") and values.get(key) in (None, ""):
                problems.append(
                    account.source.problem(
                        f"{what}: custom field {key!r} is required, and "
                        + (
                            "customFields (the account's whole set) gives it no value"
                            if "customFields" in account.data
                            else "the account is created without customFields"
                        )
                    )
                )
    if problems:
        raise ConfigInvalid(problems)
