"""Drift as Markdown, sized for an issue or a pull-request body: a summary
table, one collapsible section per category, and never longer than GitHub
allows (65,536 characters): past that it says what it left out."""

from __future__ import annotations

from konvsync.drift.model import NO_DRIFT, SECTIONS, DriftReport, ObjectDrift, summary_line
from konvsync.render.drift_text import detail_lines, object_line, written_lines
from konvsync.render.markdown import collapsible_sections

MAX_BODY = 65_536
_RESERVE = 600
_MAX_KEPT_LINES = 50
_SYMBOLS = {"changed": "!", "deleted": "-", "created": "+"}


def render_drift_markdown(report: DriftReport, limit: int = MAX_BODY) -> str:
    head = [f"### konvsync drift for `{report.endpoint}`", ""]
    if not report.has_drift:
        head += [f"**{NO_DRIFT}**", ""]
        head += _written(report)
        return "\n".join(head)
    head += [f"**{summary_line(report)}**", "", "| where | objects |", "|---|---:|"]
    sections = [(title, report.section(name)) for name, title in SECTIONS]
    sections = [(title, items) for title, items in sections if items]
    head += [f"| {_escape(title)} | {len(items)} |" for title, items in sections]
    head.append("")
    head += [f"> [!WARNING]\n> {_escape(w)}\n" for w in report.warnings]
    head.append(
        "Revert with `konvsync apply` (the portal goes back to the configuration), or "
        "accept with `konvsync drift --write` (the configuration takes the portal's values)."
    )
    head.append("")
    head += _written(report)
    out = "\n".join(head)
    budget = limit - _RESERVE
    if len(out) > budget:
        out = out[:budget] + "\n"
    titled = [(f"<b>{_escape(title)}</b>: {len(items)}", items) for title, items in sections]
    out, omitted = collapsible_sections(out, titled, _line, budget)
    if omitted:
        out += (
            f"\n_{omitted} of {len(report.items)} drifted objects are not shown: the report "
            "is longer than an issue or pull-request body may be. `konvsync drift --format "
            "json` has them all._\n"
        )
    return out


def _line(item: ObjectDrift) -> str:
    details = detail_lines(item)
    text = f"{_SYMBOLS[item.category]} {item.address}{_tail(item)}"
    if details:
        text += "  " + "; ".join(details)
    return _escape(text).replace("\n", " ") + "\n"


def _tail(item: ObjectDrift) -> str:
    """`` (changed ..., file:line:col)`` as in the text report."""
    line = object_line(item)
    return line[line.index(" (") :] if line.endswith(")") and " (" in line else ""


def _written(report: DriftReport) -> list[str]:
    lines = written_lines(report)
    if len(lines) > _MAX_KEPT_LINES:
        more = len(lines) - _MAX_KEPT_LINES
        lines = [*lines[:_MAX_KEPT_LINES], f"... and {more} more (see --format json)"]
    return [f"- {_escape(line.strip())}" for line in lines] + ([""] if lines else [])


def _escape(text: str) -> str:
    return text.replace("```", "'''")
