"""Click parameter types for konvsync's own values: ``--target KIND[/KEY]``
of plan, apply and drift, ``export --target KIND/KEY`` and ``export --kinds
KIND,...``, and their help texts, which name the kinds of the registry. A bad
value is a usage error (exit 1) naming the option, before anything is read or
sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from konvsync.errors import UsageError
from konvsync.export.targets import parse_kinds, parse_target
from konvsync.kinds import KINDS, TOP_LEVEL_KINDS, WRITABLE_KINDS, Kind
from konvsync.plan.targets import parse_targets


def plan_target_help(kinds: Sequence[Kind] = WRITABLE_KINDS) -> str:
    """``--target KIND[/KEY]`` of plan, apply and drift."""
    return (
        "Limit the plan to a kind or one object (repeatable); what it needs is included. "
        f"KIND: {_names(kinds)}."
    )


def export_kinds_help(
    kinds: Sequence[Kind] = TOP_LEVEL_KINDS, all_kinds: Sequence[Kind] = KINDS
) -> str:
    """``export --kinds KIND,...``: the top-level kinds, and the kinds that
    come with their parent."""
    children = "".join(
        f"; {k.name} come with {k.parent}" for k in all_kinds if k.parent and not k.reference
    )
    return f"Only these kinds, comma-separated: {_names(kinds)} (default: all{children})."


def export_target_help(kinds: Sequence[Kind] = TOP_LEVEL_KINDS) -> str:
    """``export --target KIND/KEY``."""
    return (
        "Print only this object's YAML (to add an existing object to a config). "
        f"KIND: {_names(kinds)}."
    )


def _names(kinds: Sequence[Kind]) -> str:
    return ", ".join(k.name for k in kinds)


def _reason(exc: UsageError) -> str:
    """The message without its ``--option 'value':`` lead (click adds its own)."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("--") and ": " in text else text


class PlanTarget(click.ParamType[str]):
    """``KIND`` or ``KIND/KEY`` of a writable kind (the key may hold ``/``)."""

    name = "KIND[/KEY]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:

        try:
            parse_targets((str(value),))
        except UsageError as exc:
            self.fail(_reason(exc), param, ctx)
        return str(value)


class ExportTarget(click.ParamType[str]):
    """``KIND/KEY`` of a top-level kind."""

    name = "KIND/KEY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:

        try:
            parse_target(str(value))
        except UsageError as exc:
            self.fail(_reason(exc), param, ctx)
        return str(value)


class KindList(click.ParamType[list[str]]):
    """``KIND,...`` of top-level kinds, as a list in registry order."""

    name = "KIND,..."

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[str]:
        if isinstance(value, list):
            return value

        try:
            return parse_kinds(str(value))
        except UsageError as exc:
            self.fail(_reason(exc), param, ctx)
