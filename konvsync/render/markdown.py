"""Markdown for a pull-request comment: a summary table, deletes first, one
collapsible ``<details>`` section per kind, and never longer than a comment
may be (65,536 characters): past that it says what it left out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from konvsync.plan.changes import Change, Delete, Plan, Update, masked
from konvsync.render.values import NO_CHANGES, refused_note, show, summary_line
from konvsync.support.redact import printable

T = TypeVar("T")

MAX_COMMENT = 65_536
_RESERVE = 600
_ORDER = {"delete": 0, "update": 1, "create": 2}


def render_markdown(plan: Plan, limit: int = MAX_COMMENT) -> str:
    head = [f"### konvsync plan for `{_escape(printable(plan.endpoint))}`", ""]
    if plan.scope:
        rules = "; ".join(
            f"`{r.kind} {printable(r.describe()).replace('`', chr(39))}`" for r in plan.scope.rules
        )
        head += [
            f"**Scope** (`policy.scope`): {rules}. The rest of the portal is not this "
            "configuration's and is left alone.",
            "",
        ]
    if plan.refused is not None:
        head += [
            "> [!CAUTION]",
            f"> **Refused:** {_escape(printable(plan.refused.reason))}",
            ">",
            f"> {refused_note(plan)}",
            "",
        ]
    if not plan.has_changes:
        return "\n".join([*head, f"**{NO_CHANGES}**", ""])
    head.append(f"**{summary_line(plan.counts)}**")
    head.append("")
    head.append("| kind | add | change | destroy |")
    head.append("|---|---:|---:|---:|")
    by_kind = plan.by_kind()
    kinds = sorted(
        by_kind,
        key=lambda k: (not any(isinstance(c, Delete) for c in by_kind[k]), list(by_kind).index(k)),
    )
    for kind_name in kinds:
        counts = {
            a: sum(1 for c in by_kind[kind_name] if c.action == a)
            for a in ("create", "update", "delete")
        }
        destroy = f"**{counts['delete']}**" if counts["delete"] else "0"
        head.append(f"| {kind_name} | {counts['create']} | {counts['update']} | {destroy} |")
    head.append("")
    for warning in plan.warnings:
        head.append(f"> [!WARNING]\n> {_escape(printable(warning))}")
        head.append("")
    out = "\n".join(head)
    budget = limit - _RESERVE
    sections = []
    for kind_name in kinds:
        changes = sorted(by_kind[kind_name], key=lambda c: _ORDER[c.action])
        sections.append((f"<b>{kind_name}</b>: {len(changes)} change(s)", changes))
    out, omitted = collapsible_sections(out, sections, _line, budget)
    if omitted:
        out += (
            f"\n_{omitted} of {len(plan.changes)} changes are not shown: the plan is longer "
            "than a pull-request comment may be. The JSON plan (`--format json`) or the "
            "saved plan file has them all._\n"
        )
    return out


def collapsible_sections(
    out: str, sections: Sequence[tuple[str, Sequence[T]]], line: Callable[[T], str], budget: int
) -> tuple[str, int]:
    """``out`` with a collapsible ``diff`` block per (summary, items) section,
    one ``line(item)`` per item (made only while they fit in ``budget``
    characters); and how many items were left out."""
    omitted = 0
    for summary, items in sections:
        opening = f"<details><summary>{summary}</summary>\n\n```diff\n"
        closing = "```\n\n</details>\n"
        if len(out) + len(opening) + len(closing) > budget:
            omitted += len(items)
            continue
        section = opening
        for index, item in enumerate(items):
            text = line(item)
            if len(out) + len(section) + len(text) + len(closing) > budget:
                omitted += len(items) - index
                break
            section += text
        out += "\n" + section + closing
    return out, omitted


def _line(change: Change) -> str:
    change = masked(change)
    prefix = {"create": "+", "update": "!", "delete": "-"}[change.action]
    text = f"{prefix} {change.address}"
    if isinstance(change, Update):
        if change.renamed_from is not None:
            text += f" (was {show(change.renamed_from)})"
        parts = [f"{f.path}: {show(f.before)} -> {show(f.after)}" for f in change.fields]
        text += "  " + "; ".join(parts)
    if change.note:
        text += f"  ({change.note})"
    return _escape(printable(text)) + "\n"


def _escape(text: str) -> str:
    return text.replace("```", "'''")
