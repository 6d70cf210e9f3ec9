"""The pure planner, ``plan(desired, remote, policy, targets) -> Plan``, on
a config file and API-shaped portal nodes: no server, no event loop."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from konvsync.config.loader import load_config
from konvsync.config.model import DesiredState, Policy, Source
from konvsync.errors import PlanError
from konvsync.kinds.address import Address
from konvsync.plan.changes import (
    Change,
    Create,
    Delete,
    FieldChange,
    Update,
    created,
    replaced,
    updated,
)
from konvsync.plan.diff import field_changes
from konvsync.plan.planner import plan
from konvsync.plan.remote import RemoteState, normalize_nodes
from konvsync.plan.safety import MASS_DELETE_MIN_OBJECTS


def desired(tmp_path: Path, text: str) -> DesiredState:
    path = tmp_path / "konvsync.yaml"
    path.write_text("konvsync: 1\n" + textwrap.dedent(text), encoding="utf-8")
    return load_config(str(path), allow_external_refs=True)


def account(
    node_id: str, key: str | None, name: str, locations: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    return {
        "id": node_id,
        "externalId": key,
        "name": name,
        "website": None,
        "userGroups": [],
        "customFields": [],
        "locations": [
            {"id": lid, "name": lname, "phone": None, "address": None} for lid, lname in locations
        ],
    }


def group(node_id: str, key: str | None, name: str) -> dict[str, Any]:
    return {"id": node_id, "externalId": key, "name": name, "permissions": []}


def remote(**nodes: list[dict[str, Any]]) -> RemoteState:
    state = normalize_nodes({"accountFields": [], **nodes})
    state.portal_name = "Test portal"
    return state


DEALERS = """\
    accounts:
      - externalId: dealers
        name: Dealers
        locations: [{name: HQ}]
      - externalId: dealers/east
        name: Dealers East
        locations: [{name: HQ}, {name: "Yard/B"}]
    """


def test_accounts_whose_keys_share_a_prefix_keep_their_own_locations(tmp_path: Path) -> None:
    portal = remote(
        accounts=[
            account("acc_1", "dealers", "Dealers", [("loc_1", "HQ")]),
            account(
                "acc_2", "dealers/east", "Dealers East", [("loc_2", "HQ"), ("loc_3", "Yard/B")]
            ),
        ]
    )
    assert plan(desired(tmp_path, DEALERS), portal).changes == []


def test_a_cold_plan_creates_each_location_under_its_own_account(tmp_path: Path) -> None:
    changes = plan(desired(tmp_path, DEALERS), remote(accounts=[])).changes
    locations = [c for c in changes if c.kind == "locations"]
    assert all(isinstance(c, Create) for c in changes)
    assert {(c.parent, c.address) for c in locations} == {
        ("dealers", Address("locations", "HQ", Address("accounts", "dealers"))),
        ("dealers/east", Address("locations", "HQ", Address("accounts", "dealers/east"))),
        ("dealers/east", Address("locations", "Yard/B", Address("accounts", "dealers/east"))),
    }
    assert str(locations[-1].address) == "locations/dealers/east/Yard/B"
    kinds = [c.kind for c in changes]
    assert kinds.index("accounts") < kinds.index("locations")


def test_a_changed_field_is_an_update_of_that_field(tmp_path: Path) -> None:
    config = desired(tmp_path, "groups: [{externalId: sales, name: Sales team}]\n")
    (change,) = plan(config, remote(groups=[group("grp_1", "sales", "Sales")])).changes
    assert isinstance(change, Update)
    assert change.remote_id == "grp_1"
    assert [(f.path, f.before, f.after) for f in change.fields] == [("name", "Sales", "Sales team")]


def test_adoption_and_ambiguous_adoption(tmp_path: Path) -> None:
    config = desired(tmp_path, "groups: [{externalId: legacy, name: Legacy Group}]\n")
    (adopt,) = plan(config, remote(groups=[group("grp_1", None, "Legacy Group")])).changes
    assert isinstance(adopt, Update) and adopt.adopt and adopt.remote_id == "grp_1"
    twins = remote(
        groups=[group("grp_1", None, "Legacy Group"), group("grp_2", None, "Legacy Group")]
    )
    with pytest.raises(PlanError, match=r"konvsync.yaml:2:10: .*\(IDs grp_1, grp_2\)"):
        plan(config, twins)


def test_prune_deletes_what_the_config_omits_and_the_policy_protects_the_rest(
    tmp_path: Path,
) -> None:
    config = desired(tmp_path, "groups: [{externalId: sales, name: Sales}]\n")
    portal = remote(
        groups=[
            group("grp_1", "sales", "Sales"),
            group("grp_2", "old", "Old"),
            group("grp_3", "keep", "Keep"),
            group("grp_4", "spare", "Spare"),
            group("grp_5", "other", "Other"),
        ]
    )
    pruning = Policy(prune=frozenset({"groups"}), protect={"groups": frozenset({"keep"})})
    changes = plan(config, portal, pruning).changes
    assert {(c.action, c.key) for c in changes} == {
        ("delete", "old"),
        ("delete", "spare"),
        ("delete", "other"),
    }
    assert plan(config, portal).changes == []  # the config's own policy prunes nothing


def test_deleting_an_account_takes_its_locations_along(tmp_path: Path) -> None:
    config = desired(tmp_path, "accounts: []\n")
    portal = remote(accounts=[account("acc_1", "dealers/east", "East", [("loc_1", "HQ")])])
    result = plan(config, portal, Policy(prune=frozenset({"accounts"}), max_delete_percent=100))
    deletes = {c.kind: c for c in result.changes}
    assert isinstance(deletes["accounts"], Delete) and not deletes["accounts"].cascade
    cascade = deletes["locations"]
    assert isinstance(cascade, Delete) and cascade.cascade and cascade.parent == "dealers/east"
    assert [c.kind for c in result.changes] == ["locations", "accounts"]


def test_mass_delete_is_refused_in_the_plan_not_raised(tmp_path: Path) -> None:
    config = desired(tmp_path, "groups: []\n")
    count = MASS_DELETE_MIN_OBJECTS
    portal = remote(groups=[group(f"grp_{i}", f"g{i}", f"G{i}") for i in range(count)])
    result = plan(config, portal, Policy(prune=frozenset({"groups"})))
    assert result.refused is not None and result.refused.check == "mass_delete"
    assert len(result.changes) == count


def test_targets_select_an_account_and_its_locations_only(tmp_path: Path) -> None:
    changes = plan(desired(tmp_path, DEALERS), remote(accounts=[]), targets=("accounts/dealers",))
    assert {str(c.address) for c in changes.changes} == {
        "accounts/dealers",
        "locations/dealers/HQ",
    }


@pytest.mark.parametrize("parent", [None, "dealers"])
def test_a_plans_create_holds_what_its_dataclass_would(parent: str | None) -> None:
    """``created`` (the plan's creates, made without the frozen dataclass's
    ``__init__``) sets every field as that ``__init__`` does: a field added
    to ``Change`` must be set there too."""
    after = {"name": "HQ", "phone": "+1 555 0100"}
    source = Source("accounts.yaml", 3, 5)
    made = created("locations", "HQ", after, source, parent)
    expected = Create("locations", "HQ", None, after, source=source, parent=parent)
    assert type(made) is Create
    assert vars(made) == vars(expected)
    assert made == expected


@pytest.mark.parametrize(
    ("parent", "adopt", "renamed_from"), [(None, False, None), ("d", True, "x")]
)
def test_a_plans_update_holds_what_its_dataclass_would(
    parent: str | None, adopt: bool, renamed_from: str | None
) -> None:
    """``updated`` (the plan's updates, made as ``created`` makes creates)
    sets every field as ``Update.__init__`` does: a field added to
    ``Update`` must be set there too."""
    before, after = {"name": "HQ", "phone": None}, {"name": "HQ", "phone": "+1 555 0100"}
    fields = (FieldChange("phone", None, "+1 555 0100"),)
    source = Source("accounts.yaml", 3, 5)
    made = updated(
        "locations", "HQ", before, after, fields, "loc_1", source, "a note", parent, adopt,
        renamed_from,
    )  # fmt: skip
    expected = Update(
        "locations", "HQ", before, after, fields, "loc_1", source, note="a note",
        parent=parent, adopt=adopt, renamed_from=renamed_from,
    )  # fmt: skip
    assert type(made) is Update
    assert list(vars(made).items()) == list(vars(expected).items())
    assert made == expected


@pytest.mark.parametrize(
    "change",
    [
        Create("users", "a@example.com", None, {"email": "a@example.com"}, source=None),
        Update("accounts", "a1", {"name": "A"}, {"name": "B"}, remote_id="acc_1", adopt=True),
        Delete("locations", "HQ", {"name": "HQ"}, None, remote_id="loc_1", parent="a1"),
    ],
)
def test_a_replaced_change_is_what_replace_makes(change: Change) -> None:
    """``replaced`` (drift's copies of the plan's changes) makes what
    ``dataclasses.replace`` makes, field by field and in the same order,
    and refuses a name that is no field, as it does."""
    from dataclasses import replace

    values: dict[str, Any] = {"before": {"name": "C"}, "updated_at": "2026-12-01T00:00:00Z"}
    made, expected = replaced(change, **values, note="n"), replace(change, **values, note="n")
    assert type(made) is type(expected)
    assert list(vars(made).items()) == list(vars(expected).items())
    assert made == expected and made.address == change.address
    with pytest.raises(TypeError):
        replaced(change, nothing=1)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # whole fields only, the same names on both sides (most updates)
        (
            {"title": "A", "name": "x", "groups": ["g"]},
            {"title": "B", "name": "y", "groups": ["g"]},
            [("name", "x", "y"), ("title", "A", "B")],
        ),
        # the same names in another order, and a field on one side only
        ({"b": 2, "a": 1}, {"a": 3, "b": 2}, [("a", 1, 3)]),
        ({"a": 1}, {"a": 1, "c": None, "b": 2}, [("b", None, 2), ("c", None, None)]),
        # a mapping that differs on both sides is explained by its parts
        (
            {"title": "x", "address": {"city": "A", "zip": "1"}},
            {"title": "y", "address": {"city": "B", "zip": "1"}},
            [("address.city", "A", "B"), ("title", "x", "y")],
        ),
        (
            {"address": None, "z": 1},
            {"address": {"city": "B"}, "z": 2},
            [("address", None, {"city": "B"}), ("z", 1, 2)],
        ),
    ],
)
def test_field_changes_name_each_changed_field_in_order(
    before: dict[str, Any], after: dict[str, Any], expected: list[tuple[str, Any, Any]]
) -> None:
    assert field_changes(before, after) == tuple(FieldChange(*item) for item in expected)


def test_a_plans_creates_take_no_more_memory_than_their_dataclass_makes() -> None:
    """Filled at once, their dicts shared no keys with the class's other
    instances: twice the memory, and 46 MB more at the peak of a
    100,000-user cold apply."""
    import tracemalloc

    keys = [f"user{i}@example.com" for i in range(2000)]
    after: dict[str, object] = {}
    sizes = []
    for make in (
        lambda key: Create("users", key, None, after, source=None, parent=None),
        lambda key: created("users", key, after, None, None),
    ):
        tracemalloc.start()
        made = [make(key) for key in keys]
        for change in made:
            assert change.address.key == change.key  # (cached in the dict, as apply asks)
        sizes.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
    assert sizes[1] <= sizes[0] * 1.05, sizes
