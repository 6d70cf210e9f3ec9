"""Sensitive values in plans: every rendering shows ``(sensitive)`` in their
place (a change of one still shows as a change), and a saved plan holds the
``${env:NAME}`` it came from and a salted digest, never the value."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import replace
from typing import Any

from konvsync.errors import ConfigError, StalePlanError
from konvsync.kinds import kind
from konvsync.kinds.address import ObjectKey
from konvsync.plan.changes import Change, Delete, FieldChange, saved_key
from konvsync.support import redact
from konvsync.support.environment import environment_text


def digest(salt: str, value: str) -> str:
    return "hmac-sha256:" + hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()


def saved_references(
    changes: list[Change], sensitive_env: dict[tuple[str, ObjectKey, str], str]
) -> dict[str, Any]:
    """What a plan file keeps of the sensitive values it sends: per address
    and field, the variable and a salted digest of its value. A value that
    did not come from one variable cannot be saved (ConfigError)."""
    salt = secrets.token_hex(16)
    values: dict[str, dict[str, dict[str, str]]] = {}
    for change in changes:
        if isinstance(change, Delete):
            continue
        for name in kind(change.kind).sensitive_names:
            value = (change.after or {}).get(name)
            if value is None:
                continue
            variable = sensitive_env.get((change.kind, change.filed_key, name))
            if variable is None:
                raise ConfigError(
                    f"{change.address}: {name} is written in the configuration, and a saved "
                    "plan never holds a sensitive value; write it as ${env:NAME}"
                )
            values.setdefault(saved_key(change), {})[name] = {
                "env": variable,
                "digest": digest(salt, str(value)),
            }
    return {"salt": salt, "values": values} if values else {}


def restored(changes: list[Change], saved: dict[str, Any] | None) -> list[Change]:
    """The changes of a saved plan with their sensitive values read again
    from the environment; refuses (exit 3) when a variable is unset or its
    value is not the one planned."""
    if not saved or not saved.get("values"):
        return changes
    values: dict[str, dict[str, dict[str, str]]] = saved["values"]
    salt = str(saved["salt"])
    out = []
    for change in changes:
        fields = values.get(saved_key(change))
        if not fields:
            out.append(change)
            continue
        now: dict[str, str] = {}
        for name, entry in fields.items():
            variable = entry["env"]
            value = environment_text(variable)
            if value is None:
                raise StalePlanError(
                    f"{change.address}: {name} came from ${{env:{variable}}}, which is not "
                    "set now; set it as when the plan was made, or run plan again"
                )
            if not hmac.compare_digest(digest(salt, value), entry["digest"]):
                raise StalePlanError(
                    f"{change.address}: {name} came from ${{env:{variable}}}, whose value "
                    "changed since the plan was made; nothing was changed; run plan again"
                )
            redact.register(value)  # masked in every output of this run, whatever its length
            now[name] = value
        out.append(_with_values(change, now))
    return out


def _with_values(change: Change, values: dict[str, str]) -> Change:
    return replace(
        change,
        after={**(change.after or {}), **values},
        fields=tuple(
            FieldChange(f.path, f.before, values[f.top]) if f.top in values else f
            for f in change.fields
        ),
    )
