"""The registry's apply order is derived from the kinds' references and
parents (a topological sort), so no kind can be written before what it needs."""

from __future__ import annotations

from dataclasses import replace
from graphlib import CycleError

import pytest

from konvsync.kinds import KINDS, apply_order, children_of, depends_on, kind


def test_every_kind_comes_after_what_it_depends_on() -> None:
    position = {k.name: index for index, k in enumerate(KINDS)}
    for k in KINDS:
        for dependency in depends_on(k):
            assert position[dependency] < position[k.name], (k.name, dependency)


def test_locations_depend_on_their_parent_and_users_on_accounts_and_groups() -> None:
    assert depends_on(kind("locations")) == {"accounts"}
    assert depends_on(kind("users")) == {"accounts", "groups"}
    assert depends_on(kind("accounts")) == {"groups", "accountFields"}


def test_the_order_does_not_depend_on_the_listing() -> None:
    reordered = apply_order(list(reversed(KINDS)))
    position = {k.name: index for index, k in enumerate(reordered)}
    for k in reordered:
        assert all(position[d] < position[k.name] for d in depends_on(k))


def test_a_reference_cycle_cannot_be_registered() -> None:
    groups = kind("groups")
    looped = replace(groups, fields=(*groups.fields, replace(groups.fields[0], ref="users")))
    with pytest.raises(CycleError):
        apply_order([looped, kind("users"), kind("accounts"), kind("accountFields")])


def test_parent_links_and_defaults_come_from_the_kinds() -> None:
    locations = kind("locations")
    assert children_of("accounts") == (locations,)
    assert locations.parent_field is locations.field_map["account"]
    assert locations.address("HQ", "a/b") != locations.address("b/HQ", "a")
    assert str(locations.address("HQ", "a/b")) == "locations/a/b/HQ"  # display only
    assert kind("accountFields").defaults == {"options": [], "required": False}
    assert kind("inviteLinks").defaults == {"active": True}
