"""Terraform-like text: a ``+``/``~``/``-`` block per object and the line
``Plan: X to add, Y to change, Z to destroy.``"""

from __future__ import annotations

import click

from konvsync.kinds import kind
from konvsync.plan.changes import Change, Delete, Plan, Update
from konvsync.render.values import NO_CHANGES, action_label, show, summary_line

_COLORS = {"+": "green", "~": "yellow", "-": "red"}


def render_text(plan: Plan, color: bool = False) -> str:
    def paint(text: str, symbol: str) -> str:
        return click.style(text, fg=_COLORS[symbol]) if color else text

    lines: list[str] = []
    if plan.has_changes:
        lines.append("konvsync will perform the following actions:")
        lines.append("")
        for change in plan.changes:
            lines.extend(_block(change, paint))
            lines.append("")
    for warning in plan.warnings:
        lines.append(
            ("Warning: " if not color else click.style("Warning: ", fg="yellow", bold=True))
            + warning
        )
    if plan.warnings:
        lines.append("")
    lines.append(summary_line(plan.counts) if plan.has_changes else NO_CHANGES)
    return "\n".join(lines)


def _block(change: Change, paint: object) -> list[str]:
    assert callable(paint)
    k = kind(change.kind)
    symbol = change.symbol
    header = f"  # {change.address} will be {action_label(change.action)}"
    if change.note:
        header += f" ({change.note})"
    lines = [
        header,
        paint(f"  {symbol} {k.singular.replace(' ', '_')} {show(change.key)} {{", symbol),
    ]
    if isinstance(change, Update):
        width = max(len(f.path) for f in change.fields) if change.fields else 0
        for f in change.fields:
            lines.append(
                paint(f"      ~ {f.path.ljust(width)} = {show(f.before)} -> {show(f.after)}", "~")
            )
    else:
        values = change.before if isinstance(change, Delete) else change.after
        values = values or {}
        width = max((len(name) for name in values), default=0)
        for name, value in values.items():
            if value is None and not isinstance(change, Delete):
                continue
            lines.append(paint(f"      {symbol} {name.ljust(width)} = {show(value)}", symbol))
    lines.append(paint("    }", symbol))
    return lines
