"""Renderers of drift reports; none of them prints."""

from __future__ import annotations

from konvsync.drift.model import DriftReport


def render_drift(report: DriftReport, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        from konvsync.render.drift_json import render_drift_json

        return render_drift_json(report)
    if fmt == "markdown":
        from konvsync.render.drift_markdown import render_drift_markdown

        return render_drift_markdown(report)
    from konvsync.render.drift_text import render_drift_text

    return render_drift_text(report, color=color)
