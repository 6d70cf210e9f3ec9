"""Renderers of plans and apply results; none of them prints."""

from __future__ import annotations

from konvsync.plan.changes import Plan
from konvsync.render.json_format import render_json
from konvsync.render.markdown import render_markdown
from konvsync.render.text import render_text
from konvsync.render.wording import PLAN, Wording

FORMATS = ("text", "json", "markdown")


def render_plan(plan: Plan, fmt: str, color: bool = False, wording: Wording = PLAN) -> str:
    if fmt == "json":
        return render_json(plan.data)
    if fmt == "markdown":
        return render_markdown(plan, wording=wording)
    return render_text(plan, color, wording)


__all__ = ["FORMATS", "render_plan"]
