"""Drift reports in text, JSON and Markdown: the plan's renderers with the
drift wording (``render.wording``), then what ``--write`` did."""

from __future__ import annotations

from konvsync.drift.model import DriftReport
from konvsync.render.json_format import render_json
from konvsync.render.markdown import MAX_COMMENT, escape, render_markdown
from konvsync.render.text import render_text
from konvsync.render.wording import drift_wording
from konvsync.support.redact import printable

_MAX_KEPT_LINES = 50
"""Markdown's lines on what --write did (JSON has them all)."""


def render_drift(report: DriftReport, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return render_json(report.data)
    wording = drift_wording(report)
    written = written_lines(report)
    if fmt != "markdown":
        return "\n".join([render_text(report.plan, color, wording), *written])
    if len(written) > _MAX_KEPT_LINES:
        more = len(written) - _MAX_KEPT_LINES
        written = [*written[:_MAX_KEPT_LINES], f"... and {more} more (see --format json)"]
    footer = "".join(f"- {escape(line.strip())}\n" for line in written)
    body = render_markdown(report.plan, MAX_COMMENT - len(footer) - 1, wording)
    return f"{body}\n{footer}" if footer else body


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
        lines.extend(f"  {printable(str(kept))}" for kept in written.kept)
    return lines
