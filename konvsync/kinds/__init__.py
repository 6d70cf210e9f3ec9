"""The registry of kinds, in apply order (derived from their references and
parents)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from graphlib import TopologicalSorter
from typing import Any, NamedTuple

from konvsync.kinds import (
    account_fields,
    accounts,
    dam_categories,
    groups,
    invite_links,
    lms_modules,
    locations,
    users,
)
from konvsync.kinds.address import Address
from konvsync.kinds.base import Field, Kind


def depends_on(k: Kind) -> set[str]:
    """The kinds that must exist before ``k``'s objects can be written: the
    targets of its references (custom field names included) and its parent."""
    out = {f.ref for f in k.fields if f.ref} | {f.keys_ref for f in k.fields if f.keys_ref}
    if k.parent is not None:
        out.add(k.parent)
    return out - {k.name}


def apply_order(kinds: Sequence[Kind]) -> tuple[Kind, ...]:
    """``kinds`` sorted so that each comes after everything it depends on (a
    topological sort; a cycle is a ``graphlib.CycleError`` at import). Among
    kinds free to go, the one listed first goes first."""
    by_name = {k.name: k for k in kinds}
    listed = {k.name: index for index, k in enumerate(kinds)}
    sorter: TopologicalSorter[str] = TopologicalSorter(
        {k.name: depends_on(k) & by_name.keys() for k in kinds}
    )
    sorter.prepare()
    ready: list[str] = []
    order: list[Kind] = []
    while sorter.is_active():
        ready.extend(sorter.get_ready())
        ready.sort(key=listed.__getitem__)
        name = ready.pop(0)
        order.append(by_name[name])
        sorter.done(name)
    return tuple(order)


KINDS: tuple[Kind, ...] = apply_order(
    [
        m.KIND
        for m in (
            lms_modules,
            dam_categories,
            groups,
            account_fields,
            accounts,
            locations,
            users,
            invite_links,
        )
    ]
)
"""Every kind, in apply order: creates and updates in this order, deletes in reverse."""
KINDS_BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
for _k in KINDS:  # what addresses and references support: one level of children
    if _k.parent is not None and KINDS_BY_NAME[_k.parent].parent is not None:
        raise TypeError(f"kind {_k.name}: its parent {_k.parent} must be a top-level kind")
    if _k.parent is not None and _k.rename_field is not None:
        raise TypeError(f"kind {_k.name}: a child kind cannot be renamed in place")
    for _f in _k.references:
        if _f.ref != _k.parent and KINDS_BY_NAME[_f.ref or ""].parent is not None:
            raise TypeError(f"{_k.name}.{_f.name}: a reference to a child kind has no key")
TOP_LEVEL_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k.parent is None and not k.reference)
"""The kinds a config lists at its top level (and ``export`` writes)."""
REFERENCE_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k.reference)
WRITABLE_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if not k.reference)


def kind(name: str) -> Kind:
    return KINDS_BY_NAME[name]


@cache
def children_of(kind_name: str) -> tuple[Kind, ...]:
    """The kinds an object of ``kind_name`` holds (an account's locations).
    The YAML lists them inside the parent under the child kind's name; a
    parent that lists them owns that whole set."""
    return tuple(k for k in KINDS if k.parent == kind_name)


@cache
def value_holders(kind_name: str) -> tuple[tuple[Kind, tuple[str, ...]], ...]:
    """The kinds that file values under the keys of ``kind_name``'s objects,
    each with those map fields (accounts' ``customFields`` under account
    fields' keys): what a rename of such a key concerns."""
    return tuple(
        (k, names)
        for k in KINDS
        if (names := tuple(f.name for f in k.fields if f.keys_ref == kind_name))
    )


class Reference(NamedTuple):
    """One reference from an object's data to another object, by key (a
    tuple: a config load makes one per reference, 22,000 at 10,000 users,
    in a third of the time of a frozen dataclass)."""

    field: Field
    target: Kind
    written: Any
    """As the data has it."""
    key: str
    """The target's natural key, normalized as the target compares keys."""

    @property
    def address(self) -> Address:
        return Address(self.target.name, self.key)


def references(
    k: Kind, data: Mapping[str, Any], include_parent: bool = True
) -> Iterator[Reference]:
    """Every reference in ``data`` (an object of kind ``k``), single or listed.
    ``include_parent=False`` skips the parent link (a location's account)."""
    for f in k.references:
        if f is k.parent_field and not include_parent:
            continue
        target = KINDS_BY_NAME[f.ref or ""]
        value = data.get(f.name)
        for written in value if isinstance(value, list) else [value] if value else []:
            key = target.normalize_key(written)
            if key is not None:
                yield Reference(f, target, written, key)


__all__ = [
    "KINDS",
    "KINDS_BY_NAME",
    "REFERENCE_KINDS",
    "TOP_LEVEL_KINDS",
    "WRITABLE_KINDS",
    "Address",
    "Field",
    "Kind",
    "Reference",
    "children_of",
    "kind",
    "references",
]
