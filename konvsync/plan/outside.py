"""What a plan's warnings about objects outside ``policy.scope`` concern:
per kind of concern and per object of the plan, every object outside the
scope it changes or leaves behind, in full (a warning shows a count and
at most a few names).

A saved plan keeps them, and so does the plan ``apply`` showed before its
prompt: the portal read again is stale for the plan only when it would now
concern an object outside the scope (or a kind of concern) the reviewed
plan did not name; fewer is what was reviewed, less of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Concern(StrEnum):
    """How a change of the plan concerns objects outside the scope: the one
    list the plan schema's ``outside.concern`` is generated from."""

    TAKEN_FROM = "taken_from"
    """A delete the portal takes from the objects that refer to it."""
    VALUES_UNDER_DELETED = "values_under_deleted"
    """A deleted account field the objects hold values under."""
    VALUES_UNDER_OLD_KEY = "values_under_old_key"
    """A renamed account field the objects hold values under its old key."""
    VALUES_UNFIT = "values_unfit"
    """An account field change the objects' values no longer fit."""
    VALUES_MISSING = "values_missing"
    """An account field now required that the objects hold no value for."""
    REFERRING_TO_OLD_KEY = "referring_to_old_key"
    """A rename of an object the objects refer to."""


@dataclass(frozen=True)
class OutsideConcern:
    """The objects outside the scope (``holders``: their kind, ``objects``:
    their paths, sorted) that the plan's change of ``kind``/``key`` concerns
    in the way ``concern`` says."""

    concern: Concern
    kind: str
    key: str
    holders: str
    objects: tuple[str, ...]
    warning: str = field(default="", compare=False)
    """The plan's warning about it, as shown (not kept: the plan's warnings are)."""

    @property
    def subject(self) -> tuple[str, str, str, str]:
        """What it is about, whichever objects it names."""
        return (self.concern, self.kind, self.key, self.holders)

    def to_data(self) -> dict[str, Any]:
        return {
            "concern": self.concern.value,
            "kind": self.kind,
            "key": self.key,
            "holders": self.holders,
            "objects": list(self.objects),
        }


def concern_from_data(data: dict[str, Any]) -> OutsideConcern:
    """The inverse of ``OutsideConcern.to_data`` (for saved plans)."""
    return OutsideConcern(
        Concern(data["concern"]),
        data["kind"],
        data["key"],
        data["holders"],
        tuple(data["objects"]),
    )


def unnamed(reviewed: list[OutsideConcern], now: OutsideConcern) -> list[str] | None:
    """What ``now`` concerns that ``reviewed`` did not name: None when no
    concern of the reviewed plan is about the same (it was not said at all),
    else the objects it did not name (empty: nothing new, maybe fewer)."""
    named: set[str] | None = None
    for concern in reviewed:
        if concern.subject == now.subject:
            named = (named or set()) | set(concern.objects)
    if named is None:
        return None
    return [path for path in now.objects if path not in named]
