"""Markdown for a pull-request comment: a summary table, deletes first, one
collapsible ``<details>`` section per kind, and never longer than a comment
may be (65,536 characters): past that it says what it left out. Drift is
the same comment read from the portal's side (``render.wording``)."""

from __future__ import annotations

import re

from konvsync.plan.changes import Change, Delete, Plan, Update, masked
from konvsync.render.values import show
from konvsync.render.wording import PLAN, Wording, refused_note
from konvsync.support.redact import printable

MAX_COMMENT = 65_536
_RESERVE = 600
_ORDER = {"delete": 0, "update": 1, "create": 2}


def render_markdown(plan: Plan, limit: int = MAX_COMMENT, wording: Wording = PLAN) -> str:
    head = [f"### konvsync {wording.title} for `{escape(printable(plan.endpoint))}`", ""]
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
            f"> **Refused:** {prose(plan.refused.reason)}",
            ">",
            f"> {refused_note(plan)}",
            "",
        ]
    if not plan.has_changes:  # its warnings still (an expired link, an exclude matching nothing)
        head += [f"**{wording.nothing}**", ""]
        return "\n".join([*head, *_warnings(plan.warnings, limit - len("\n".join(head)))])
    head.append(f"**{wording.summary_line(plan.changes)}**")
    head.append("")
    head.append("| kind | " + " | ".join(c.name for c in wording.shown) + " |")
    head.append("|---|" + "---:|" * len(wording.shown))
    by_kind = plan.by_kind()
    kinds = sorted(
        by_kind,
        key=lambda k: (not any(isinstance(c, Delete) for c in by_kind[k]), list(by_kind).index(k)),
    )
    for kind_name in kinds:
        counts = wording.counts(by_kind[kind_name])
        bold = wording.by_action["delete"]  # what apply would delete
        cells = [
            f"**{counts[c.name]}**" if c is bold and counts[c.name] else str(counts[c.name])
            for c in wording.shown
        ]
        head.append(f"| {kind_name} | {' | '.join(cells)} |")
    head.append("")
    head += _warnings(plan.warnings, limit // 2 - len("\n".join(head)))
    if wording.advice:
        head += [wording.advice.replace("'", "`"), ""]
    out, omitted = _sections("\n".join(head), by_kind, kinds, wording, limit - _RESERVE)
    if omitted:
        note = wording.omitted.format(omitted=omitted, total=len(plan.changes))
        out += f"\n_{note}_\n"
    return out


def _warnings(warnings: list[str], budget: int) -> list[str]:
    """The lines of the warnings that fit in ``budget`` characters (half a
    comment, less what stands above them: hundreds of them, an expired link
    each, left no room for the changes), and a line counting those left out."""
    lines: list[str] = []
    used = 0
    for index, warning in enumerate(warnings):
        block = f"> [!WARNING]\n> {prose(warning)}"
        if used + len(block) + 2 > budget - _RESERVE:
            left = len(warnings) - index
            lines += [
                f"_{left} more warning(s) are not shown: the text (`--format text`) "
                "and the JSON (`--format json`) have them all._",
                "",
            ]
            break
        lines += [block, ""]
        used += len(block) + 2
    return lines


def _sections(
    out: str, by_kind: dict[str, list[Change]], kinds: list[str], wording: Wording, budget: int
) -> tuple[str, int]:
    """``out`` with a collapsible ``diff`` block per kind, one line per change
    (those that fit in ``budget`` characters: one too long for what is left,
    a 70,000-character value, does not hide the shorter ones after it); and
    how many changes were left out."""
    omitted = 0
    for kind_name in kinds:
        items = sorted(by_kind[kind_name], key=lambda c: _ORDER[c.action])
        summary = f"<b>{kind_name}</b>: {len(items)} change(s)"
        opening = f"<details><summary>{summary}</summary>\n\n```diff\n"
        closing = "```\n\n</details>\n"
        if len(out) + len(opening) + len(closing) > budget:
            omitted += len(items)
            continue
        section = opening
        for item in items:
            text = _line(item, wording)
            if len(out) + len(section) + len(text) + len(closing) > budget:
                omitted += 1
                continue
            section += text
        if section != opening:  # not a block of a kind whose every line was left out
            out += "\n" + section + closing
    return out, omitted


def _line(change: Change, wording: Wording) -> str:
    change = masked(change)
    category = wording.category(change)
    text = f"{'!' if category.symbol == '~' else category.symbol} {change.address}"
    if isinstance(change, Update):
        if change.renamed_from is not None:
            text += f" (was {show(change.renamed_from)})"
        shown = [(f.path, *wording.values(f)) for f in change.fields]
        text += "  " + "; ".join(f"{path}: {show(old)} -> {show(new)}" for path, old, new in shown)
    notes = wording.notes(change, category)
    if notes:
        text += f"  ({', '.join(notes)})"
    return escape(printable(text)) + "\n"


def escape(text: str) -> str:
    """``text`` safe inside a fenced block."""
    return text.replace("```", "'''")


_MARKUP = re.compile(r"[\\`*\[\]<>&~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
"""What Markdown or HTML takes for markup; ``_`` only at a word's edge (one
inside a word, ``max_delete_percent``, is no emphasis in CommonMark)."""
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def prose(text: str) -> str:
    """``text`` (a warning, a reason: they quote the portal) as one line of
    Markdown outside a code block that shows as written: control characters
    escaped (``printable``), ``<``, ``>`` and ``&`` as HTML entities (a key
    holding ``<!--`` opened an HTML comment that hid the rest of the review
    comment) and the other characters Markdown takes for markup (``*``,
    ``[x](y)``, a backtick, GitHub's ``$`` math) escaped with a backslash."""
    return _MARKUP.sub(lambda m: _ENTITIES.get(m.group(0)) or "\\" + m.group(0), printable(text))
