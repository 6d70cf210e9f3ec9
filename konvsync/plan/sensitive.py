"""Sensitive values in plans: every rendering shows ``(sensitive)`` in their
place (a change of one still shows as a change), and a saved plan holds the
``${env:NAME}`` it came from and a salted digest, never the value."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import Any

from konvsync.errors import ConfigError, StalePlanError
from konvsync.kinds import kind
from konvsync.kinds.address import ObjectKey
from konvsync.plan.changes import Change, Delete, FieldChange, Update, saved_key
from konvsync.support import redact
from konvsync.support.environment import environment_text

SCRYPT_COST = {"n": 2**15, "r": 8, "p": 1, "maxmem": 2**26}
"""scrypt's cost (32 MiB, about a seventh of a second a value, paid by
``plan --out`` and ``apply PLANFILE`` for each distinct sensitive value
the plan sends): a plan file is a CI artifact that more people can read
than the secrets, and a fast digest (a SHA-256, an HMAC keyed with the salt
beside it) lets them try guesses of a short code offline at billions a
second."""


@cache
def digest(salt: str, value: str) -> str:
    """A salted, costly digest of ``value``: what a saved plan keeps of it.
    Once a run for each value: 40 links sharing one code's variable took
    4.2 s to ``plan --out`` and 4.8 s to apply, 0.4 and 0.5 s so."""
    derived = hashlib.scrypt(value.encode(), salt=salt.encode(), dklen=32, **SCRYPT_COST)
    return "scrypt:" + derived.hex()


def saved_references(
    changes: list[Change], sensitive_env: dict[tuple[str, ObjectKey, str], str]
) -> dict[str, Any]:
    """What a plan file keeps of the sensitive values it sends: per address
    and field, the variable and a salted digest of its value. A value that
    did not come from one variable cannot be saved (ConfigError)."""
    salt = secrets.token_hex(16)
    values: dict[str, dict[str, dict[str, str]]] = {}
    for change, name, value in _sent(changes):
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


def _sent(changes: list[Change]) -> Iterator[tuple[Change, str, Any]]:
    """Each sensitive value the changes send: its change, field and value."""
    for change in changes:
        if isinstance(change, Delete):
            continue
        for name in kind(change.kind).sensitive_names:
            value = (change.after or {}).get(name)
            if value is not None:
                yield change, name, value


def unmatched(changes: list[Change], saved: dict[str, Any] | None) -> str | None:
    """Where a saved plan's sensitive values (``saved``) do not match its
    changes, or None: a sensitive value a change sends (``(sensitive)`` in
    the plan's data) whose variable the file does not keep would be sent as
    that placeholder, and a variable kept for no such value would be sent
    unreviewed. Both are edits of the file, as ``saved_references`` writes
    none of them."""
    kept = {
        (key, name)
        for key, fields in ((saved or {}).get("values") or {}).items()
        for name in fields
    }
    sent = {(saved_key(change), name): str(change.address) for change, name, _ in _sent(changes)}
    for (key, name), address in sent.items():
        if (key, name) not in kept:
            return f"{address}: {name} is sensitive and the file keeps no variable for it"
    for key, name in sorted(kept - sent.keys()):
        return f"sensitive/values: {key} {name} is no sensitive value the plan sends"
    return None


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
            redact.register(value)  # masked in every output of this run, whatever its length
            planned = _as_planned(change, name, value)
            if not hmac.compare_digest(digest(salt, planned), entry["digest"]):
                raise StalePlanError(
                    f"{change.address}: {name} came from ${{env:{variable}}}, whose value "
                    "changed since the plan was made; nothing was changed; run plan again"
                )
            now[name] = planned
        out.append(_with_values(change, now))
    return out


def _as_planned(change: Change, name: str, value: str) -> str:
    """A variable's ``value`` as the plan took it into ``change`` (and made
    its digest of): normalized as konvsync compares and sends values (NFC,
    without surrounding spaces). Read as it was, a code written with a space
    around it never matched its own digest, and the plan was refused as
    stale."""
    k = kind(change.kind)
    planned = k.normalize_desired({name: value}, keep_case=not isinstance(change, Update)).get(name)
    return planned if isinstance(planned, str) else value


def _with_values(change: Change, values: dict[str, str]) -> Change:
    return replace(
        change,
        after={**(change.after or {}), **values},
        fields=tuple(
            FieldChange(f.path, f.before, values[f.top]) if f.top in values else f
            for f in change.fields
        ),
    )
