"""Rules between the fields of one object that the contract states and the
config schema checks (``Kind.schema_rules``): the kind declares them with
these helpers, the generator writes them into the object's ``allOf`` as
they are. ``x-message`` is what ``validate`` says of an object that breaks
one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def required_when(field: str, value: str, needed: str, message: str) -> dict[str, Any]:
    """``needed`` must be given when ``field`` is ``value`` (CODE needs a code)."""
    return {"if": _is(field, value), "then": {"required": [needed], "x-message": message}}


def forbidden_when(field: str, value: str, forbidden: str, message: str) -> dict[str, Any]:
    """``forbidden`` must be left out when ``field`` is ``value``."""
    then = {"not": {"required": [forbidden]}, "x-message": message}
    return {"if": _is(field, value), "then": then}


def not_both(first: str, second: str, message: str) -> dict[str, Any]:
    """At most one of two fields may be given (null is none: it clears)."""
    given = {"not": {"type": "null"}}
    both = {"required": [first, second], "properties": {first: given, second: given}}
    return {"not": both, "x-message": message}


def _is(field: str, value: str) -> dict[str, Any]:
    return {"properties": {field: {"const": value}}, "required": [field]}


def _condition(rule: dict[str, Any]) -> tuple[str, Any]:
    """The field and value an ``if`` rule's condition names (``_is``: one)."""
    ((field, condition),) = rule["if"]["properties"].items()
    return field, condition["const"]


def rule_fields(rule: dict[str, Any]) -> tuple[str, ...]:
    """The fields a rule (made by the helpers above) ties together: its
    condition's field and the fields it needs or forbids, or both of a pair."""
    if "if" in rule:
        then = rule["then"]
        named = [*then.get("required", []), *then.get("not", {}).get("required", [])]
        return (_condition(rule)[0], *named)
    return tuple(rule["not"]["required"])


def implied_nulls(rules: tuple[dict[str, Any], ...], data: Mapping[str, Any]) -> set[str]:
    """The fields an object given as ``data`` must hold null by ``rules``
    (made by the helpers above): a field ``forbidden_when`` its condition
    holds, and the other of ``not_both`` when one is given. Updates are
    patches, so a field the config leaves out keeps the portal's value: a
    plan clears these where the portal has one (a CODE link made OPEN keeps
    its code otherwise, and the portal refuses it)."""
    out: set[str] = set()
    for rule in rules:
        if "if" in rule:
            field, value = _condition(rule)
            if data.get(field) == value:
                out.update(rule["then"].get("not", {}).get("required", []))
        elif "not" in rule:
            first, second = rule["not"]["required"]
            if data.get(first) is not None:
                out.add(second)
            if data.get(second) is not None:
                out.add(first)
    return out


def broken_rule(rules: tuple[dict[str, Any], ...], data: Mapping[str, Any]) -> str | None:
    """How an object as the portal answers it (``data``: its fields, null
    for none) breaks one of ``rules``, or None: ``has access CODE and no
    code``. Names fields and the condition's value, never another value (a
    sensitive one). A blank string counts as no value, as it compares (a
    portal may answer a nullable String without a value as ``""``)."""

    def given(name: str) -> bool:
        return data.get(name) not in (None, "")

    for rule in rules:
        if "if" in rule:
            field, value = _condition(rule)
            if data.get(field) != value:
                continue
            then = rule["then"]
            for needed in then.get("required", []):
                if not given(needed):
                    return f"has {field} {value} and no {needed}"
            for forbidden in then.get("not", {}).get("required", []):
                if given(forbidden):
                    return f"has {field} {value} and a {forbidden}"
        elif "not" in rule:
            first, second = rule["not"]["required"]
            if given(first) and given(second):
                return f"has both {first} and {second}"
    return None
