"""A kind the sandbox has never heard of, declared as a kind module would and
added to the contract, is served with no sandbox change: list and singular
queries, create/update/delete, its references, a unique key, cascades."""

from __future__ import annotations

from typing import Any

import pytest

from konvsync.kinds import KINDS, Field, Kind
from konvsync.sandbox.model import build_tables
from konvsync.sandbox.server import RunningSandbox
from konvsync.sandbox.store import Store
from konvsync.support.resources import konvert_sdl
from tests.conftest import SandboxFactory
from tests.sandbox.test_server import codes, gql_post

REGIONS = Kind(
    name="regions",
    singular="region",
    key_field="code",
    fields=(
        Field("code", lowercase=True),
        Field("name"),
        Field("groups", shape="set", ref="groups", input_name="groupIds"),
        Field("account", ref="accounts", input_name="accountId"),
    ),
    operations_file="regions.graphql",
    type_name="Region",
)

CONTRACT_LINES = """
type Region {
  id: ID!
  code: String!
  name: String!
  groups: [Group!]!
  account: Account
  createdAt: DateTime!
  updatedAt: DateTime!
}
type RegionConnection { nodes: [Region!]! pageInfo: PageInfo! totalCount: Int! }
input RegionInput { code: String name: String groupIds: [ID!] accountId: ID }
extend type Query {
  regions(first: Int = 50, after: String): RegionConnection!
  region(id: ID, code: String): Region
}
extend type Mutation {
  createRegion(input: RegionInput!): Region
  updateRegion(id: ID!, input: RegionInput!): Region
  deleteRegion(id: ID!): ID
}
"""


@pytest.fixture
def regions(sandbox_factory: SandboxFactory) -> RunningSandbox:
    sdl = konvert_sdl() + CONTRACT_LINES
    store = Store(kinds=build_tables((*KINDS, REGIONS), sdl))
    return sandbox_factory(store, sdl=sdl)


def call(sandbox: RunningSandbox, query: str, **variables: Any) -> Any:
    body = gql_post(sandbox, query, variables).json()
    assert "errors" not in body, body
    return body["data"]


CREATE = """mutation($i: RegionInput!) { createRegion(input: $i) {
  id code name createdAt groups { externalId } account { externalId } } }"""


def test_a_new_kind_is_served_from_its_declaration_and_the_contract(
    regions: RunningSandbox,
) -> None:
    group = call(regions, 'mutation { createGroup(input: {externalId: "g", name: "G"}) { id } }')
    gid = group["createGroup"]["id"]
    account = call(
        regions, 'mutation { createAccount(input: {externalId: "a", name: "A"}) { id } }'
    )
    aid = account["createAccount"]["id"]
    made = call(
        regions, CREATE, i={"code": "EMEA", "name": "Europe", "groupIds": [gid], "accountId": aid}
    )["createRegion"]
    assert made["id"] == "reg_1" and made["createdAt"]
    assert made["groups"] == [{"externalId": "g"}] and made["account"] == {"externalId": "a"}
    assert codes(gql_post(regions, CREATE, {"i": {"code": "emea", "name": "X"}})) == ["CONFLICT"]
    assert codes(gql_post(regions, CREATE, {"i": {"code": "x"}})) == ["BAD_USER_INPUT"]
    assert codes(gql_post(regions, CREATE, {"i": {"name": "X", "groupIds": ["grp_9"]}})) == [
        "NOT_FOUND"
    ]
    assert call(regions, '{ region(code: "emea") { name } }') == {"region": {"name": "Europe"}}
    call(regions, 'mutation { updateRegion(id: "reg_1", input: {name: "EMEA"}) { id } }')
    call(
        regions,
        "mutation($g: ID!, $a: ID!) { deleteGroup(id: $g) deleteAccount(id: $a) }",
        g=gid,
        a=aid,
    )
    listed = call(regions, "{ regions { nodes { name groups { id } account { id } } totalCount } }")
    assert listed["regions"] == {
        "nodes": [{"name": "EMEA", "groups": [], "account": None}],
        "totalCount": 1,
    }
    assert call(regions, 'mutation { deleteRegion(id: "reg_1") }') == {"deleteRegion": "reg_1"}
    assert regions.store.count("regions") == 0
