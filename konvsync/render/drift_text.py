"""Drift as text: one block per object, grouped by where the change was
made (changed, deleted, created in the portal), then a summary line and
what ``--write`` did."""

from __future__ import annotations

from typing import Any

import click

from konvsync.drift.model import (
    NO_DRIFT,
    SECTIONS,
    SENSITIVE,
    DriftReport,
    FieldDrift,
    ObjectDrift,
    summary_line,
)
from konvsync.kinds import kind
from konvsync.render.values import show

_SYMBOLS = {"changed": "~", "deleted": "-", "created": "+"}
_COLORS = {"~": "yellow", "-": "red", "+": "green"}


def render_drift_text(report: DriftReport, color: bool = False) -> str:
    def paint(text: str, symbol: str) -> str:
        return click.style(text, fg=_COLORS[symbol]) if color else text

    lines: list[str] = []
    for name, title in SECTIONS:
        items = report.section(name)
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        for item in items:
            symbol = _SYMBOLS[item.category]
            lines.append(paint(f"  {symbol} {object_line(item)}", symbol))
            lines.extend(f"      {text}" for text in detail_lines(item))
        lines.append("")
    for warning in report.warnings:
        lines.append(f"Warning: {warning}")
    if report.warnings:
        lines.append("")
    if report.has_drift:
        lines.append(summary_line(report))
    else:
        lines.append(NO_DRIFT)
    lines.extend(written_lines(report))
    if report.has_drift and report.written is None:
        lines.append(
            "Revert it with 'konvsync apply', or accept it into the configuration with "
            "'konvsync drift --write'."
        )
    return "\n".join(lines)


def object_line(item: ObjectDrift) -> str:
    """``group "sales" (changed 2026-11-29 14:02 UTC, groups.yaml:3:5)``."""
    label = kind(item.kind).singular.replace(" ", "_")
    extra = [text for text in (item.changed_label, item.note) if text]
    if item.source is not None:
        extra.append(str(item.source))
    tail = f" ({', '.join(extra)})" if extra else ""
    return f"{label} {show(item.path)}{tail}"


def detail_lines(item: ObjectDrift) -> list[str]:
    if item.category == "changed":
        return [field_line(f) for f in item.fields]
    if item.category == "created":
        return [
            f"{name} = {value}"
            for name, value in visible(item.kind, item.portal or {}).items()
            if name != kind(item.kind).key_field and value != "null"
        ]
    return []


def field_line(f: FieldDrift) -> str:
    portal = SENSITIVE if f.sensitive else show(f.portal)
    config = SENSITIVE if f.sensitive else show(f.config)
    return f"{f.path}: {portal} in the portal, {config} in the configuration"


def visible(kind_name: str, data: dict[str, Any]) -> dict[str, str]:
    """An object's values as shown, sensitive ones hidden."""
    fields = kind(kind_name).field_map
    out: dict[str, str] = {}
    for name, value in data.items():
        f = fields.get(name)
        if f is not None and f.sensitive and value is not None:
            out[name] = SENSITIVE
        elif value not in ([], {}):
            out[name] = show(value)
    return out


def written_lines(report: DriftReport) -> list[str]:
    written = report.written
    if written is None:
        return []
    lines: list[str] = []
    if written.files:
        lines.append(f"Accepted into the configuration: wrote {', '.join(written.files)}.")
    elif report.has_drift:
        lines.append("Accepted into the configuration: no file was changed.")
    if written.kept:
        lines.append(f"Left as written ({len(written.kept)}):")
        lines.extend(f"  {kept}" for kept in written.kept)
    return lines
