"""The answer checker (``konvsync/api/answers.py``), compiled from the
contract and konvsync's own documents: what it accepts and how it names
what it refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from konvsync.api import answers
from konvsync.api.answers import Misfit, check_data, check_field
from konvsync.api.operations import _kind_models, operation_document, read_document
from konvsync.kinds import KINDS, kind

READ_USERS = read_document(kind("users"))
USER = {
    "id": "usr_1",
    "updatedAt": "2026-11-30T12:00:00Z",
    "email": "a@acme.example",
    "title": None,
    "firstName": "A",
    "lastName": "One",
    "account": {"id": "acc_1", "externalId": "acme"},
    "groups": [{"id": "grp_1", "externalId": "sales"}],
}
PAGE: dict[str, Any] = {
    "users": {
        "nodes": [USER],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "totalCount": 1,
    }
}


def misfit(change: Any) -> str:
    data = copy.deepcopy(PAGE)
    change(data)
    with pytest.raises(Misfit) as caught:
        check_data(READ_USERS, data)
    return str(caught.value)


def test_a_page_as_the_contract_says_passes() -> None:
    check_data(READ_USERS, PAGE)


@pytest.mark.parametrize(
    "written",
    [
        "2026-11-30T14:00:00.1234567+02:00",
        "2026-11-30T12:00:00.000000000z",
        "2026-11-30T07:00-05:00",
    ],
)
def test_a_datetime_in_any_form_the_contract_allows_passes(written: str) -> None:
    data = copy.deepcopy(PAGE)
    data["users"]["nodes"][0]["updatedAt"] = written
    check_data(READ_USERS, data)


@pytest.mark.parametrize("written", ["2026-11-30 12:00:00", "2026-11-30T12:00:00", "30.11.2026"])
def test_a_datetime_konvsync_only_shows_is_taken_in_the_portals_own_form(written: str) -> None:
    """updatedAt is shown (drift), never compared nor acted on: a portal
    that writes it without an offset is read, not stopped."""
    data = copy.deepcopy(PAGE)
    data["users"]["nodes"][0]["updatedAt"] = written
    check_data(READ_USERS, data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["users"]["nodes"][0].update(firstName=None),
            "users.nodes[0].firstName is null, the schema says String!",
        ),
        (
            lambda d: d["users"]["nodes"][0].pop("lastName"),
            "users.nodes[0].lastName is missing",
        ),
        (
            lambda d: d["users"]["nodes"][0].update(id=7),
            "users.nodes[0].id is 7 (a number), the schema says ID!",
        ),
        (
            lambda d: d["users"]["nodes"].append(None),
            "users.nodes[1] is null, the schema says User!",
        ),
        (
            lambda d: d["users"].update(nodes={"0": USER}),
            "users.nodes is an object, the schema says [User!]!",
        ),
        (lambda d: d["users"].pop("pageInfo"), "users.pageInfo is missing"),
        (
            lambda d: d["users"].update(pageInfo=None),
            "users.pageInfo is null, the schema says PageInfo!",
        ),
        (
            lambda d: d["users"].update(nodes=None),
            "users.nodes is null, the schema says [User!]!",
        ),
        (
            lambda d: d["users"]["nodes"][0].update(groups=None),
            "users.nodes[0].groups is null, the schema says [Group!]!",
        ),
        (
            lambda d: d["users"]["nodes"][0]["groups"].append(None),
            "users.nodes[0].groups[1] is null, the schema says Group!",
        ),
        (lambda d: d.update(users=None), "users is null, the schema says UserConnection!"),
        (
            lambda d: d["users"].update(totalCount="1"),
            'users.totalCount is "1" (a string), the schema says Int!',
        ),
        (
            lambda d: d["users"]["pageInfo"].update(hasNextPage=1),
            "users.pageInfo.hasNextPage is 1 (a number), the schema says Boolean!",
        ),
        (
            lambda d: d["users"]["nodes"][0]["groups"][0].update(externalId=["x"]),
            "users.nodes[0].groups[0].externalId is a list, the schema says String",
        ),
        (
            lambda d: d["users"]["nodes"][0].update(updatedAt=1764504000),
            "users.nodes[0].updatedAt is 1764504000 (a number), the schema says DateTime!",
        ),
    ],
)
def test_misfits_name_the_path_and_the_schema(change: Any, expected: str) -> None:
    assert misfit(change) == expected


def test_enums_and_lists_are_checked_in_mutation_answers() -> None:
    document = operation_document(kind("groups"), "UpdateGroup", 2)
    good = {
        "id": "grp_1",
        "updatedAt": "2026-11-30T12:00:00Z",
        "externalId": "x",
        "name": "X",
        "permissions": ["MANAGE_DAMS"],
        "lmsModules": [{"id": "lms_1", "slug": "onboarding"}],
        "damCategories": [],
    }
    check_field(document, "m1", good)
    check_field(document, "m0", None)  # a failed alias is null, with its error
    with pytest.raises(Misfit, match=r"m0.permissions is \"MANAGE_DAMS\" \(a string\)"):
        check_field(document, "m0", {**good, "permissions": "MANAGE_DAMS"})
    with pytest.raises(
        Misfit, match=r"m0.permissions\[0\] is \"NOPE\", a value of enum Permission the contract"
    ):
        check_field(document, "m0", {**good, "permissions": ["NOPE"]})
    for value, shown in (({"a": 1}, "an object"), ([1], "a list")):  # unhashable, once a TypeError
        with pytest.raises(Misfit, match=rf"m0.permissions\[0\] is .*{shown}.*not a value of enum"):
            check_field(document, "m0", {**good, "permissions": [value]})


def _fitting(shape: Any) -> Any:
    """A value that fits ``shape`` (answers' ``Shape``), lists of two."""
    what = shape[0]
    if what == "typename":
        return shape[1]
    if what == "non_null":
        return _fitting(shape[2])
    if what == "list":
        return [_fitting(shape[2]), _fitting(shape[2])]
    if what == "object":
        return {key: _fitting(field) for key, field in shape[2]}
    if what == "enum":
        return shape[2][0]
    return {"Int": 7, "Float": 1.5, "Boolean": True, "DateTime": "2026-11-30T12:00:00Z"}.get(
        shape[2], "text"
    )


SPOILERS: list[Any] = [
    None,
    "text",
    "VIEW_ACCOUNT_USERS",
    "2026-11-30",
    7,
    2**31,
    True,
    1.5,
    float("nan"),
    [],
    [None],
    {},
    {"id": None},
]


def _spoiled(value: Any) -> list[Any]:
    """``value`` with each one of its parts replaced by each spoiler, or
    left out, or (a list) emptied or given a null item."""
    out: list[Any] = [spoiler for spoiler in SPOILERS]
    if isinstance(value, dict):
        for key, part in value.items():
            out.append({k: v for k, v in value.items() if k != key})
            out += [{**value, key: bad} for bad in _spoiled(part)]
    elif isinstance(value, list) and value:
        out += [[bad, *value[1:]] for bad in _spoiled(value[0])]
        out += [[*value, None], value[:1]]
    return out


def _fits_by_the_checker(document: Any, value: Any) -> bool:
    try:
        answers._field_checker(document.model)(value, ("m0",))
    except Misfit:
        return False
    return True


def _all_documents() -> list[Any]:
    documents = []
    for k in KINDS:
        for name in _kind_models(k):
            documents.append(operation_document(k, name, 2))
    return documents


@pytest.mark.parametrize("document", _all_documents(), ids=lambda d: d.model.name)
def test_the_quick_check_takes_what_the_checker_takes(document: Any) -> None:
    """The generated quick check (``answers._quick``) clears an answer
    without the checker: it must never clear one the checker refuses, and
    it should clear every one the checker takes (else that is slow)."""
    fits = answers._field_fits(document.model)
    fitting = _fitting(document.model.shape)
    assert fits(fitting) and _fits_by_the_checker(document, fitting)
    for value in _spoiled(fitting):
        assert fits(value) == _fits_by_the_checker(document, value), value
        check_data_value = {"m0": value, "m1": fitting}
        if fits(value):
            check_data(document, check_data_value)
            check_field(document, "m0", value)
        else:
            with pytest.raises(Misfit):
                check_data(document, check_data_value)
            with pytest.raises(Misfit):
                check_field(document, "m0", value)
