"""Rules between the fields of one object that the contract states and the
config schema checks (``Kind.schema_rules``): the kind declares them with
these helpers, the generator writes them into the object's ``allOf`` as
they are. ``x-message`` is what ``validate`` says of an object that breaks
one."""

from __future__ import annotations

from typing import Any


def required_when(field: str, value: str, needed: str, message: str) -> dict[str, Any]:
    """``needed`` must be given when ``field`` is ``value`` (CODE needs a code)."""
    return {"if": _is(field, value), "then": {"required": [needed], "x-message": message}}


def forbidden_when(field: str, value: str, forbidden: str, message: str) -> dict[str, Any]:
    """``forbidden`` must be left out when ``field`` is ``value``."""
    then = {"not": {"required": [forbidden]}, "x-message": message}
    return {"if": _is(field, value), "then": then}


def not_both(first: str, second: str, message: str) -> dict[str, Any]:
    """At most one of two fields may be given."""
    return {"not": {"required": [first, second]}, "x-message": message}


def _is(field: str, value: str) -> dict[str, Any]:
    return {"properties": {field: {"const": value}}, "required": [field]}
