"""Click parameter types for konvsync's own values: ``--target KIND[/KEY]``
of plan, apply and drift, ``export --target KIND/KEY`` and ``export --kinds
KIND,...``. A bad value is a usage error (exit 1) naming the option, before
anything is read or sent."""

from __future__ import annotations

from typing import Any

import click

from konvsync.errors import UsageError
from konvsync.export.targets import parse_kinds, parse_target
from konvsync.plan.targets import parse_targets


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
