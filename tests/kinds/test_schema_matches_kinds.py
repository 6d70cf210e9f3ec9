"""The config JSON Schema means what the kinds and the contract say.

Its kinds' parts are generated from the same declarations
(``render/kind_schema.py``), so comparing its structure with the kinds would
prove little; instead, documents are validated, with both validators
``validate`` uses, against the published schema: every field of every kind
is accepted, what each kind requires and what may be null (written out here
too, so that a change of meaning fails even when kinds and generator change
together), sets versus ordered lists, keys and references never blank, enum
values the contract's, server-only fields and reference kinds refused.
The examples pin today's kinds; a kind added later may add its own, and the
generator itself is tested with a kind declared in
``tests/render/test_generated.py``."""

from __future__ import annotations

import copy
from typing import Any

import fastjsonschema
import jsonschema
import pytest
from graphql import GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, build_schema

from konvsync.kinds import KINDS, REFERENCE_KINDS, TOP_LEVEL_KINDS, WRITABLE_KINDS, kind
from konvsync.kinds.base import Kind
from konvsync.support.resources import config_schema, json_schema, konvert_sdl

SCHEMA = config_schema()
CHECK = jsonschema.Draft202012Validator(SCHEMA)
FAST = fastjsonschema.compile(config_schema())
CONTRACT = build_schema(konvert_sdl())

LOCATION = {"name": "HQ", "phone": "+1 555 0100", "address": {"city": "Springfield"}}
FULL: dict[str, dict[str, Any]] = {
    "groups": {
        "externalId": "sales",
        "name": "Sales",
        "permissions": ["MANAGE_USERS", "VIEW_ACCOUNT_USERS"],
        "lmsModules": ["onboarding"],
        "damCategories": ["logos"],
        "renamedFrom": "sales-old",
    },
    "accountFields": {
        "key": "tier",
        "label": "Tier",
        "type": "SELECT",
        "options": ["gold", "silver"],
        "required": False,
        "renamedFrom": "level",
    },
    "accounts": {
        "externalId": "acme",
        "name": "ACME",
        "website": "https://acme.example",
        "userGroups": ["sales"],
        "customFields": {"tier": "gold", "seats": 5, "vip": True, "since": None},
        "locations": [LOCATION],
        "renamedFrom": "acme-old",
    },
    "locations": LOCATION,
    "users": {
        "email": "jane@acme.example",
        "firstName": "Jane",
        "lastName": "Doe",
        "title": "VP Sales",
        "account": "acme",
        "groups": ["sales"],
        "previousEmails": ["jane@old.example"],
    },
    "inviteLinks": {
        "title": "Partners",
        "renamedFrom": "Partner sign-up",
        "access": "CODE",
        "code": "${env:PARTNER_CODE}",
        "active": True,
        "expiresAt": "2030-06-30",
        "account": "acme",
        "allowedEmailDomains": ["acme.example"],
        "groups": ["sales"],
        "redirectPath": "/lms",
    },
}
"""One object of each kind konvsync writes, every field it may set given
(of two exclusive fields, the first)."""
EXCLUSIVE = {("inviteLinks", "accountMatchField"): ("account", "tier")}
"""A field FULL leaves out: the field given instead, and an example value."""
NEEDED_BY_RULE = {("inviteLinks", "code"): "access CODE needs a code (code: ${env:NAME})"}
"""A field FULL needs by a rule between its fields (its access is CODE)."""

REQUIRED = {
    "groups": {"externalId", "name"},
    "accountFields": {"key", "label", "type"},
    "accounts": {"externalId", "name"},
    "locations": {"name"},
    "users": {"email", "firstName", "lastName"},
    "inviteLinks": {"title", "access"},
}
NULLABLE = {
    "groups": set(),
    "accountFields": set(),
    "accounts": {"website"},
    "locations": {"phone", "address"},
    "users": {"title", "account"},
    "inviteLinks": {"expiresAt", "account", "accountMatchField", "redirectPath"},
}
EXAMPLED = [k for k in WRITABLE_KINDS if k.name in FULL]
"""The kinds these tests pin (a new kind is covered by the generator's tests)."""
ENUMS = [("groups", "permissions", "Permission"), ("accountFields", "type", "AccountFieldType")]
ENUMS += [("inviteLinks", "access", "InviteLinkAccess")]


def document(kind_name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A config holding ``data`` as its one object of ``kind_name``."""
    parent = kind(kind_name).parent
    if parent is None:
        return {"konvsync": 1, kind_name: [data]}
    return {"konvsync": 1, parent: [{**_bare(parent), kind_name: [data]}]}


def _bare(kind_name: str) -> dict[str, Any]:
    return {name: FULL[kind_name][name] for name in REQUIRED[kind_name]}


def problems(kind_name: str, data: dict[str, Any]) -> list[str]:
    """What ``validate``'s schema check says of the object (both validators agree)."""
    doc = document(kind_name, data)
    found = []
    for error in CHECK.iter_errors(doc):
        found.append(error.message)
        if "x-message" in error.schema:
            found.append(error.schema["x-message"])
    try:
        FAST(copy.deepcopy(doc))
        assert found == [], f"fastjsonschema accepts what jsonschema does not: {found}"
    except fastjsonschema.JsonSchemaException as exc:
        assert found, f"fastjsonschema refuses what jsonschema accepts: {exc}"
    return found


def with_field(kind_name: str, name: str, value: Any) -> dict[str, Any]:
    """The FULL object with ``name`` set to ``value`` (and its exclusive partner left out)."""
    data = {**FULL[kind_name], name: value}
    for (owner, field), (instead, _) in EXCLUSIVE.items():
        if owner == kind_name and name in (field, instead):
            data.pop(instead if name == field else field, None)
    return data


def fields(k: Kind) -> list[str]:
    """What a config may set on an object of ``k``: its managed fields (a
    child's parent link left out: it is where the child is listed), its
    rename field and the kinds listed inside it."""
    names = [f.name for f in k.managed_fields if k.parent is None or f.ref != k.parent]
    names += [k.rename_field] if k.rename_field else []
    return names + [child.name for child in KINDS if child.parent == k.name]


@pytest.mark.parametrize("k", EXAMPLED, ids=lambda k: k.name)
def test_every_field_of_every_kind_is_accepted_and_nothing_else(k: Kind) -> None:
    given = set(FULL[k.name]) | {f for (owner, f) in EXCLUSIVE if owner == k.name}
    assert given == set(fields(k)), "give FULL an example of every field"
    assert problems(k.name, FULL[k.name]) == []
    for (owner, field), (_, example) in EXCLUSIVE.items():
        if owner == k.name:
            assert problems(k.name, with_field(k.name, field, example)) == []
    assert any(
        "'colour' was unexpected" in p for p in problems(k.name, with_field(k.name, "colour", "x"))
    )


@pytest.mark.parametrize("k", EXAMPLED, ids=lambda k: k.name)
def test_required_are_the_key_and_the_contracts_non_null_fields_without_default(k: Kind) -> None:
    read = CONTRACT.get_type(k.type_name)
    assert isinstance(read, GraphQLObjectType)
    from_contract = {
        f.name
        for f in k.managed_fields
        if f.shape == "scalar"
        and f.export_default is None
        and f is not k.parent_field
        and isinstance(read.fields[f.name].type, GraphQLNonNull)
    }
    assert REQUIRED[k.name] == from_contract | {k.key_field}
    for name in fields(k):
        left_out = {n: v for n, v in FULL[k.name].items() if n != name}
        said = problems(k.name, left_out)
        if name in REQUIRED[k.name]:
            assert f"'{name}' is a required property" in said
        elif (k.name, name) in NEEDED_BY_RULE:
            assert NEEDED_BY_RULE[k.name, name] in said
        else:
            assert said == [], name


@pytest.mark.parametrize("k", EXAMPLED, ids=lambda k: k.name)
def test_null_is_allowed_where_the_contract_allows_it(k: Kind) -> None:
    """Null clears a nullable field; a key and a sensitive value (given as
    ``${env:NAME}`` or left out) are never null."""
    read = CONTRACT.get_type(k.type_name)
    assert isinstance(read, GraphQLObjectType)
    from_contract = {
        f.name
        for f in k.managed_fields
        if f is not k.parent_field
        and not isinstance(read.fields[f.name].type, GraphQLNonNull)
        and f.name != k.key_field
        and not f.sensitive
    }
    assert NULLABLE[k.name] == from_contract
    for name in fields(k):
        said = problems(k.name, with_field(k.name, name, None))
        assert (said == []) == (name in NULLABLE[k.name]), (name, said)


@pytest.mark.parametrize("k", EXAMPLED, ids=lambda k: k.name)
def test_sets_take_each_item_once_and_ordered_lists_repeat(k: Kind) -> None:
    for f in k.managed_fields:
        if f.shape not in ("set", "list"):
            continue
        value = FULL[k.name][f.name]
        said = problems(k.name, with_field(k.name, f.name, [*value, value[0]]))
        if f.shape == "set":
            assert any("has non-unique elements" in p for p in said), f.name
        else:
            assert said == [], f.name


@pytest.mark.parametrize("k", EXAMPLED, ids=lambda k: k.name)
def test_keys_references_and_required_strings_are_never_blank(k: Kind) -> None:
    """konvsync sends a blank string as null: where a value must be there
    (a key, a reference in a list, a non-null field) a blank one is an
    error; a nullable field's blank value is no value."""
    for f in k.managed_fields:
        example = FULL[k.name].get(f.name)
        text = example[0] if isinstance(example, list) else example
        if not isinstance(text, str) or f.name in _enum_fields(k):
            continue  # a child's parent link, booleans, maps, objects, enums
        blank = [" "] if isinstance(example, list) else " "
        said = problems(k.name, with_field(k.name, f.name, blank))
        may_be_blank = f.pattern is None and (f.shape == "list" or f.name in NULLABLE[k.name])
        assert (said == []) == may_be_blank, (f.name, said)


def _enum_fields(k: Kind) -> set[str]:
    return {name for owner, name, _ in ENUMS if owner == k.name}


@pytest.mark.parametrize(("kind_name", "name", "enum"), ENUMS)
def test_enum_values_are_the_contracts(kind_name: str, name: str, enum: str) -> None:
    values = CONTRACT.get_type(enum)
    assert isinstance(values, GraphQLEnumType)
    for value in values.values:
        given = [value] if kind(kind_name).field_map[name].shape == "set" else value
        said = problems(kind_name, with_field(kind_name, name, given))
        assert not [p for p in said if "is not one of" in p], said  # (OPEN takes no code)
    given = ["SUPERUSER"] if kind(kind_name).field_map[name].shape == "set" else "SUPERUSER"
    said = problems(kind_name, with_field(kind_name, name, given))
    assert f"'SUPERUSER' is not one of {list(values.values)}" in said


@pytest.mark.parametrize(
    ("k", "name"),
    [(k, f.name) for k in EXAMPLED for f in k.fields if f.server_only],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_server_only_fields_are_refused_saying_why(k: Kind, name: str) -> None:
    said = problems(k.name, with_field(k.name, name, "https://portal.example/join/1"))
    assert f"{name} is made by the portal (read only), not configured" in said


def test_top_level_properties_are_the_top_level_and_reference_kinds() -> None:
    kinds = set(SCHEMA["properties"]) - {"konvsync", "endpoint", "portal", "variables", "policy"}
    assert kinds == {k.name for k in TOP_LEVEL_KINDS} | {k.name for k in REFERENCE_KINDS}
    shown = {"lmsModules": "LMS modules", "damCategories": "DAM categories"}
    for k in REFERENCE_KINDS:
        doc = {"konvsync": 1, k.name: [{k.key_field: "x"}]}
        said = [e.schema.get("x-message", e.message) for e in CHECK.iter_errors(doc)]
        assert said == [
            f"{shown[k.name]} are read from the portal, not configured; refer to them by slug "
            f"in a group's {k.name} list"
        ]


def test_the_plan_schema_names_every_writable_kind() -> None:
    change = json_schema("plan.schema.json")["$defs"]["change"]
    assert set(change["properties"]["kind"]["enum"]) == {k.name for k in WRITABLE_KINDS}


def test_policy_names_every_writable_kind_and_its_fields() -> None:
    """A new kind can be pruned (top level), protected and have changes
    ignored, field by field, as soon as it is declared."""
    policy = SCHEMA["properties"]["policy"]["properties"]
    assert set(policy["prune"]["items"]["enum"]) == {k.name for k in TOP_LEVEL_KINDS}
    assert set(policy["protect"]["properties"]) == {k.name for k in WRITABLE_KINDS}
    ignored = policy["ignore_changes"]["properties"]
    assert set(ignored) == {k.name for k in WRITABLE_KINDS}
    for k in WRITABLE_KINDS:
        names = {f.name for f in k.managed_fields if k.parent is None or f.ref != k.parent}
        assert set(ignored[k.name]["items"]["enum"]) == names, k.name
