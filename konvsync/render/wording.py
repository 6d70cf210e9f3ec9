"""How the renderers name changes: as a plan (what apply will do to the
portal) or as drift (the same changes read from the portal's side: an update
is a change made in the portal, a create an object deleted there, a delete an
object created there). One small value object per reading, so that text and
Markdown of plans and of drift come from the same renderers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from konvsync.kinds.address import Address
from konvsync.plan.changes import Change, FieldChange, Plan
from konvsync.render.values import NO_CHANGES, changed_label


@dataclass(frozen=True)
class Category:
    """What a change is called in one reading: its column in Markdown's
    table, its symbol, its label after the address, its words in the summary
    line, and a note shown with each change's own."""

    name: str
    symbol: str
    label: str
    counted: str
    note: str = ""


@dataclass(frozen=True)
class Wording:
    title: str
    intro: str
    nothing: str
    summary: str
    """The summary line, ``{}`` standing for the counts."""
    by_action: dict[str, Category]
    shown: tuple[Category, ...]
    """The categories of the summary line and table, in order."""
    omitted: str
    """Markdown's note on what it left out ({omitted} of {total})."""
    portal_side: bool = False
    """Fields read from the configuration's value to the portal's; sources shown."""
    advice: str = ""
    by_address: dict[Address, Category] = field(default_factory=dict)
    """Objects of a category of their own (drift's unmanaged ones)."""

    def category(self, change: Change) -> Category:
        found = self.by_address.get(change.address) if self.by_address else None
        return found or self.by_action[change.action]

    def counts(self, changes: Iterable[Change]) -> Counter[str]:
        if self.by_address:
            return Counter(self.category(change).name for change in changes)
        # Counted by action, without a call per change (the plan's summary
        # line; with the notes below, 2,000 users' cold plan text 119 -> 108
        # million instructions).
        counts: Counter[str] = Counter()
        for action, count in Counter(map(_ACTION, changes)).items():
            counts[self.by_action[action].name] += count
        return counts

    def counted(self, changes: Iterable[Change]) -> str:
        counts = self.counts(changes)
        return ", ".join(c.counted.format(counts[c.name]) for c in self.shown)

    def summary_line(self, changes: Iterable[Change]) -> str:
        return self.summary.format(self.counted(changes))

    def notes(self, change: Change, category: Category) -> list[str]:
        """What follows a change's address: its category's note and its own,
        when the portal changed it, where the YAML defines it."""
        notes = [category.note] if category.note else []
        if change.note:
            notes.append(change.note)
        if change.updated_at:
            notes.append(changed_label(change.updated_at))
        if self.portal_side and change.source is not None:
            notes.append(str(change.source))
        return notes

    def values(self, field: FieldChange) -> tuple[Any, Any]:
        """A field change's (from, to) as this reading shows it."""
        return (field.after, field.before) if self.portal_side else (field.before, field.after)


_ACTION = attrgetter("action")

_ADD = Category("add", "+", "will be created", "{} to add")
_CHANGE = Category("change", "~", "will be updated in-place", "{} to change")
_DESTROY = Category("destroy", "-", "will be destroyed", "{} to destroy")

PLAN = Wording(
    title="plan",
    intro="konvsync will perform the following actions:",
    nothing=NO_CHANGES,
    summary="Plan: {}.",
    by_action={"create": _ADD, "update": _CHANGE, "delete": _DESTROY},
    shown=(_ADD, _CHANGE, _DESTROY),
    omitted="{omitted} of {total} changes are not shown: the plan is longer than a "
    "pull-request comment may be. The JSON plan (`--format json`) or the saved plan file "
    "has them all.",
)


def refused_note(plan: Plan) -> str:
    """What a reader of a refused plan should know (the plan is shown in full)."""
    return (
        "This plan was refused (exit 3) and cannot be applied as it is; it is shown in "
        f"full below ({PLAN.counted(plan.changes)})."
    )
