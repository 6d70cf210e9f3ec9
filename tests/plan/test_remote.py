"""Normalizing the portal's answers (API-shaped nodes, as the transport
returns them) into the config's shape."""

from __future__ import annotations

import pytest

from konvsync.errors import ReadChanged
from konvsync.plan.remote import normalize_nodes


def test_two_remote_objects_claiming_one_key_name_both_ids() -> None:
    nodes = {
        "groups": [
            {"id": "grp_1", "externalId": "sales", "name": "Sales", "permissions": []},
            {"id": "grp_7", "externalId": "sales", "name": "Sales again", "permissions": []},
        ]
    }
    # Read again (ReadChanged): another writer may have deleted one and made
    # the other between two pages; in every read, it is the portal's.
    with pytest.raises(
        ReadChanged,
        match=r"changed while it was read: ReadGroups: two groups have the externalId "
        r"'sales' \(IDs grp_1 and grp_7\)",
    ):
        normalize_nodes(nodes)


def test_normalized_shape_matches_the_config() -> None:
    state = normalize_nodes(
        {
            "users": [
                {
                    "id": "usr_1",
                    "email": "Jane@Acme.example",
                    "title": None,
                    "firstName": "Jane",
                    "lastName": "Doe",
                    "account": {"id": "acc_1", "externalId": "acme"},
                    "groups": [
                        {"id": "grp_2", "externalId": "b"},
                        {"id": "grp_1", "externalId": "a"},
                        {"id": "grp_9", "externalId": None},
                    ],
                }
            ],
            "accounts": [
                {
                    "id": "acc_1",
                    "externalId": "acme",
                    "name": "ACME",
                    "website": None,
                    "userGroups": [],
                    "customFields": [
                        {"key": "tier", "value": "gold"},
                        {"key": "empty", "value": None},
                    ],
                    "locations": [
                        {
                            "id": "loc_1",
                            "name": "HQ",
                            "phone": None,
                            "address": {
                                "street": None,
                                "city": "X",
                                "region": None,
                                "postalCode": None,
                                "country": "US",
                            },
                        }
                    ],
                }
            ],
        }
    )
    user = state.get("users").objects["jane@acme.example"]
    assert user.written_key == "Jane@Acme.example"
    assert user.data == {
        "email": "jane@acme.example",
        "firstName": "Jane",
        "lastName": "Doe",
        "title": None,
        "account": "acme",
        "groups": ["<id grp_9>", "a", "b"],
    }
    account = state.get("accounts").objects["acme"]
    assert account.data["customFields"] == {"tier": "gold"}
    location = state.get("locations").objects["acme", "HQ"]
    assert location.data == {
        "account": "acme",
        "name": "HQ",
        "phone": None,
        "address": {"city": "X", "country": "US"},
    }
    assert state.find("locations", "loc_1") is location
    assert state.find("users", "loc_1") is None


def _group(number: int, modules: list[tuple[str, str]]) -> dict[str, object]:
    return {
        "id": f"grp_{number}",
        "externalId": f"g{number}",
        "name": f"G{number}",
        "permissions": [],
        "lmsModules": [{"id": i, "slug": slug} for i, slug in modules],
        "damCategories": [],
    }


def test_a_module_only_a_group_holds_is_known_by_the_id_the_group_answers() -> None:
    """The contract does not say ``lmsModules`` lists every module: one a
    group holds (with ID and slug) may be referred to, by that ID. One held
    with two IDs, and a slug held for an ID the list shows under another
    slug, are not known; nor is anything held of a kind that is not a
    reference kind (a group a user holds), nor of a reference kind not read."""
    listed = [{"id": "lms_1", "slug": "onboarding", "title": "Onboarding"}]
    groups = [
        _group(1, [("lms_1", "onboarding"), ("lms_3", "sales-training"), ("lms_5", "twice")]),
        _group(2, [("lms_3", "sales-training"), ("lms_6", "twice"), ("lms_1", "old-slug")]),
    ]
    user = {
        "id": "usr_1",
        "email": "a@example.test",
        "title": None,
        "firstName": "A",
        "lastName": "B",
        "account": None,
        "groups": [{"id": "grp_9", "externalId": "unlisted"}],
    }
    state = normalize_nodes({"lmsModules": listed, "groups": groups, "users": [user]})
    known = state.get("lmsModules").referable()
    assert {key: obj.id for key, obj in known.items()} == {
        "onboarding": "lms_1",
        "sales-training": "lms_3",
    }
    assert set(state.get("lmsModules").objects) == {"onboarding"}  # counted as read
    assert "unlisted" not in state.get("groups").referable()
    assert "damCategories" not in state.kinds
    assert "lmsModules" not in normalize_nodes({"groups": groups}).kinds
