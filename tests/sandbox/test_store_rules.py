"""The generic store's rules, derived from the kinds and the contract, through
the sandbox server over HTTP: references, unique keys, required and non-null
fields, children, cascades, time stamps, map keys, reference kinds, lookups,
at most one object in a state, and IDs."""

from __future__ import annotations

from typing import Any

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.sandbox.test_server import codes, gql_post, token


class Api:
    """GraphQL calls with one token."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.bearer = token(sandbox)

    def call(self, query: str, **variables: Any) -> dict[str, Any]:
        body: dict[str, Any] = gql_post(self.sandbox, query, variables, bearer=self.bearer).json()
        return body

    def ok(self, query: str, **variables: Any) -> Any:
        body = self.call(query, **variables)
        assert "errors" not in body, body
        (value,) = body["data"].values()
        return value

    def code(self, query: str, **variables: Any) -> str:
        response = gql_post(self.sandbox, query, variables, bearer=self.bearer)
        (code,) = codes(response)
        return code


@pytest.fixture
def api(sandbox: RunningSandbox) -> Api:
    return Api(sandbox)


def group(api: Api, external_id: str | None, name: str = "G") -> str:
    return str(
        api.ok(
            "mutation($i: GroupInput!) { createGroup(input: $i) { id } }",
            i={"externalId": external_id, "name": name},
        )["id"]
    )


def test_references_by_id_must_exist(api: Api) -> None:
    assert (
        api.code(
            'mutation { createUser(input: {email: "a@x.example", firstName: "A",'
            ' lastName: "B", groupIds: ["grp_99"]}) { id } }'
        )
        == "NOT_FOUND"
    )
    assert (
        api.code('mutation { createAccount(input: {name: "A", userGroupIds: ["usr_1"]}) { id } }')
        == "NOT_FOUND"
    )
    assert api.code('mutation { updateGroup(id: "grp_1", input: {name: "x"}) { id } }') == (
        "NOT_FOUND"
    )
    assert api.code('mutation { deleteUser(id: "nonsense") }') == "NOT_FOUND"
    assert api.sandbox.store.count("users") == 0 and api.sandbox.store.count("accounts") == 0


def test_unique_keys_case_insensitive_for_lowercase_fields_and_null_keys_many(api: Api) -> None:
    group(api, None, "One")
    group(api, None, "Two")  # keyless groups: as many as wanted
    group(api, "sales")
    assert api.code('mutation { createGroup(input: {externalId: "sales", name: "X"}) { id } }') == (
        "CONFLICT"
    )
    assert group(api, "Sales") == "grp_4"  # externalId is case-sensitive
    create = (
        'mutation($e: String) { createUser(input: {email: $e, firstName: "A", lastName: "B"})'
        " { id } }"
    )
    api.ok(create, e="Ann@X.example")
    assert api.code(create, e="ann@x.EXAMPLE") == "CONFLICT"
    other = api.ok(create, e="bob@x.example")["id"]
    renamed = "mutation($id: ID!, $e: String) { updateUser(id: $id, input: {email: $e}) { email } }"
    assert api.code(renamed, id=other, e="ANN@x.example") == "CONFLICT"
    assert api.ok(renamed, id=other, e="BOB@x.example") == {"email": "BOB@x.example"}


def test_required_non_null_and_blank_fields(api: Api) -> None:
    assert api.code('mutation { createGroup(input: {externalId: "g"}) { id } }') == "BAD_USER_INPUT"
    assert api.code('mutation { createGroup(input: {name: "  "}) { id } }') == "BAD_USER_INPUT"
    assert api.code('mutation { createAccountField(input: {key: "k", label: "K"}) { id } }') == (
        "BAD_USER_INPUT"
    )
    gid = group(api, "g")
    update = (
        "mutation($id: ID!, $i: GroupInput!) { updateGroup(id: $id, input: $i)"
        " { name permissions externalId } }"
    )
    assert api.code(update, id=gid, i={"name": None}) == "BAD_USER_INPUT"
    assert api.code(update, id=gid, i={"name": ""}) == "BAD_USER_INPUT"
    kept = api.ok(update, id=gid, i={"permissions": ["MANAGE_USERS", "MANAGE_USERS"]})
    assert kept == {"name": "G", "permissions": ["MANAGE_USERS"], "externalId": "g"}
    cleared = api.ok(update, id=gid, i={"permissions": None, "externalId": None})
    assert cleared == {"name": "G", "permissions": [], "externalId": None}
    field = api.ok(
        'mutation { createAccountField(input: {key: "k", label: "K", type: TEXT}) '
        "{ options required } }"
    )
    assert field == {"options": [], "required": False}  # non-null defaults


def test_children_live_in_their_parent_and_go_with_it(api: Api) -> None:
    acme = api.ok('mutation { createAccount(input: {externalId: "acme", name: "ACME"}) { id } }')
    other = api.ok('mutation { createAccount(input: {name: "Other"}) { id } }')
    add = (
        "mutation($a: ID!, $n: String) { createLocation(accountId: $a, input: {name: $n}) { id } }"
    )
    hq = api.ok(add, a=acme["id"], n="HQ")["id"]
    api.ok(add, a=acme["id"], n="Depot")
    api.ok(add, a=other["id"], n="HQ")  # a child's key is unique nowhere
    assert api.code(add, a="acc_99", n="X") == "NOT_FOUND"
    api.ok(
        "mutation($id: ID!) { updateLocation(id: $id,"
        ' input: {address: {city: "Springfield"}}) { id } }',
        id=hq,
    )
    listed = api.ok("{ accounts { nodes { externalId locations { name address { city } } } } }")
    assert listed["nodes"][0]["locations"] == [
        {"name": "HQ", "address": {"city": "Springfield"}},
        {"name": "Depot", "address": None},
    ]
    assert api.ok('{ account(externalId: "acme") { locations { name } } }') == {
        "locations": [{"name": "HQ"}, {"name": "Depot"}]
    }
    api.ok("mutation($id: ID!) { deleteAccount(id: $id) }", id=acme["id"])
    assert api.sandbox.store.count("locations") == 1
    assert api.code("mutation($id: ID!) { deleteLocation(id: $id) }", id=hq) == "NOT_FOUND"


def test_deletes_cascade_to_every_reference(api: Api) -> None:
    keep, gone = group(api, "keep"), group(api, "gone")
    account = api.ok(
        'mutation($g: [ID!]) { createAccount(input: {externalId: "a", name: "A",'
        " userGroupIds: $g}) { id } }",
        g=[keep, gone],
    )["id"]
    api.ok(
        'mutation($g: [ID!], $a: ID) { createUser(input: {email: "u@x.example", firstName: "U",'
        ' lastName: "V", groupIds: $g, accountId: $a}) { id } }',
        g=[gone, keep],
        a=account,
    )
    api.ok(
        'mutation($g: [ID!], $a: ID) { createInviteLink(input: {title: "T", access: CODE,'
        ' code: "c", groupIds: $g, accountId: $a}) { id } }',
        g=[gone],
        a=account,
    )
    api.ok("mutation($id: ID!) { deleteGroup(id: $id) }", id=gone)
    assert api.ok("{ accounts { nodes { userGroups { externalId } } } }")["nodes"] == [
        {"userGroups": [{"externalId": "keep"}]}
    ]
    assert api.ok("{ users { nodes { groups { externalId } } } }")["nodes"] == [
        {"groups": [{"externalId": "keep"}]}
    ]
    api.ok("mutation($id: ID!) { deleteAccount(id: $id) }", id=account)
    assert api.ok("{ users { nodes { account { id } } } }")["nodes"] == [{"account": None}]
    assert api.ok("{ inviteLinks { nodes { account { id } groups { id } } } }")["nodes"] == [
        {"account": None, "groups": []}
    ]


def test_timestamps_where_the_type_has_them(api: Api) -> None:
    gid = group(api, "g")
    query = '{ group(externalId: "g") { createdAt updatedAt } }'
    first = api.ok(query)
    assert first["createdAt"] == first["updatedAt"]
    api.ok('mutation($id: ID!) { updateGroup(id: $id, input: {name: "H"}) { id } }', id=gid)
    second = api.ok(query)
    assert second["createdAt"] == first["createdAt"] and second["updatedAt"] > first["updatedAt"]
    row = api.sandbox.store.create("accountFields", {"key": "k", "label": "K", "type": "TEXT"})
    assert "createdAt" not in row and "updatedAt" not in row


def test_custom_field_keys_exist_and_follow_their_field(api: Api) -> None:
    field = api.ok(
        'mutation { createAccountField(input: {key: "tier", label: "Tier", type: TEXT}) { id } }'
    )["id"]
    api.ok('mutation { createAccountField(input: {key: "vat", label: "VAT", type: TEXT}) { id } }')
    create = (
        "mutation($c: [CustomFieldValueInput!]) {"
        ' createAccount(input: {name: "A", customFields: $c}) { id } }'
    )
    assert api.code(create, c=[{"key": "nope", "value": "1"}]) == "BAD_USER_INPUT"
    twice = [{"key": "tier", "value": "1"}, {"key": "tier", "value": "2"}]
    assert api.code(create, c=twice) == "BAD_USER_INPUT"
    api.ok(create, c=[{"key": "tier", "value": "gold"}, {"key": "vat", "value": "DE1"}])
    api.ok(
        'mutation($id: ID!) { updateAccountField(id: $id, input: {key: "level"}) { id } }', id=field
    )
    values = "{ accounts { nodes { customFields { key value } } } }"
    assert api.ok(values)["nodes"][0]["customFields"] == [
        {"key": "level", "value": "gold"},
        {"key": "vat", "value": "DE1"},
    ]
    api.ok("mutation($id: ID!) { deleteAccountField(id: $id) }", id=field)
    assert api.ok(values)["nodes"][0]["customFields"] == [{"key": "vat", "value": "DE1"}]


def test_reference_kinds_are_read_only_content(api: Api) -> None:
    modules = api.ok("{ lmsModules { nodes { id slug title } totalCount } }")
    assert modules["totalCount"] == 4
    assert modules["nodes"][0] == {"id": "lms_1", "slug": "onboarding", "title": "Onboarding"}
    assert api.code('mutation { createLmsModule(input: {slug: "x"}) { id } }') == "BAD_USER_INPUT"
    gid = api.ok(
        'mutation { createGroup(input: {name: "G", damCategoryIds: ["dam_2"]}) '
        "{ damCategories { slug } id } }"
    )
    assert gid["damCategories"] == [{"slug": "price-lists"}]


def test_singular_lookups_by_id_or_key(api: Api) -> None:
    gid = group(api, "sales")
    api.ok(
        'mutation { createUser(input: {email: "Ann@X.example", firstName: "A",'
        ' lastName: "B"}) { id } }'
    )
    assert api.ok('{ group(externalId: "sales") { id } }') == {"id": gid}
    assert api.ok(f'{{ group(id: "{gid}") {{ externalId }} }}') == {"externalId": "sales"}
    assert api.ok('{ user(email: "ann@x.EXAMPLE") { id } }') == {"id": "usr_1"}
    assert api.ok('{ account(externalId: "none") { id } }') is None
    assert api.ok('{ group(id: "usr_1") { id } }') is None
    assert api.code('{ group(id: "grp_1", externalId: "sales") { id } }') == "BAD_USER_INPUT"
    assert api.code("{ user { id } }") == "BAD_USER_INPUT"


def test_at_most_one_object_in_the_kinds_state(api: Api) -> None:
    create = "mutation($i: InviteLinkInput!) { createInviteLink(input: $i) { id expired } }"
    api.ok(create, i={"title": "A", "access": "OPEN"})
    assert api.code(create, i={"title": "B", "access": "OPEN"}) == "CONFLICT"
    api.ok(create, i={"title": "C", "access": "OPEN", "expiresAt": "2001-01-01T00:00:00Z"})
    quiet = api.ok(create, i={"title": "D", "access": "OPEN", "active": False})["id"]
    activate = "mutation($id: ID!) { updateInviteLink(id: $id, input: {active: true}) { id } }"
    assert api.code(activate, id=quiet) == "CONFLICT"
    assert api.ok("{ inviteLinks { nodes { title expired } } }")["nodes"][1] == {
        "title": "C",
        "expired": True,
    }


def test_ids_keep_their_prefix_and_are_never_reused(api: Api) -> None:
    first = group(api, "a")
    api.ok("mutation($id: ID!) { deleteGroup(id: $id) }", id=first)
    assert (first, group(api, "b")) == ("grp_1", "grp_2")
    field = api.ok(
        'mutation { createAccountField(input: {key: "m", label: "M", type: BOOLEAN}) { id } }'
    )["id"]
    assert field == "fld_1"
    match = api.code(
        'mutation { createInviteLink(input: {title: "T", access: CODE, code: "c",'
        ' accountMatchFieldId: "fld_1"}) { id } }'
    )
    assert match == "BAD_USER_INPUT"  # a BOOLEAN field cannot be matched on (Field.ref_only)
