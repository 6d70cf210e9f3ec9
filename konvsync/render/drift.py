"""Drift reports in text, JSON and Markdown: the plan's renderers with
drift's words (``render.wording``), then what ``--write`` did."""

from __future__ import annotations

from konvsync.drift.model import DriftReport
from konvsync.render.json_format import render_json
from konvsync.render.markdown import MAX_COMMENT, prose, render_markdown
from konvsync.render.text import render_text
from konvsync.render.wording import Category, Wording
from konvsync.support.redact import printable

_CHANGED = Category("changed", "~", "has changed in the portal", "{} changed")
_DELETED = Category("deleted", "-", "has been deleted in the portal", "{} deleted")
_CREATED = Category(
    "created", "+", "has been created in the portal", "{} created", "apply would delete it"
)
_UNMANAGED = Category(
    "unmanaged",
    "+",
    "has been created in the portal",
    "{} unmanaged",
    "not managed: its kind is not in policy.prune",
)


def drift_wording(report: DriftReport) -> Wording:
    shown = (_CHANGED, _DELETED, _CREATED)
    return Wording(
        title="drift",
        intro="Changed in the portal since the configuration was applied:",
        nothing="No drift. The portal matches the configuration.",
        summary="Drift: {} in the portal.",
        by_action={"create": _DELETED, "update": _CHANGED, "delete": _CREATED},
        shown=(*shown, _UNMANAGED) if report.include_unmanaged else shown,
        omitted="{omitted} of {total} drifted objects are not shown: the report is longer "
        "than an issue or pull-request body may be. `konvsync drift --format json` has them "
        "all.",
        portal_side=True,
        advice="" if report.written is not None else _advice(report),
        by_address=dict.fromkeys(report.unmanaged, _UNMANAGED),
    )


def _advice(report: DriftReport) -> str:
    advice = (
        "Revert it with 'konvsync apply', or accept it into the configuration with "
        "'konvsync drift --write'."
    )
    if report.moved_out:
        advice += (
            f" apply cannot bring back what was moved out of policy.scope "
            f"({len(report.moved_out)}): move it back in the portal, or accept it."
        )
    return advice


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
    footer = "".join(f"- {prose(line.strip())}\n" for line in written)
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
