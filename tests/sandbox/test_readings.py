"""The sandbox's readings of the contract (``sandbox.readings``): each switch
makes the server answer another way the contract allows, over real HTTP;
the default reading answers as before. ``tests/app/test_readings.py`` runs
konvsync against each of them."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from typing import Any

import pytest
import requests

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from tests.cli.test_ci import KONVSYNC, subprocess_env
from tests.conftest import KEY, SECRET, SandboxFactory
from tests.sandbox.test_server import gql_post

SETUP = """
mutation {
  g1: createGroup(input: {externalId: "a", name: "A",
                          permissions: [MANAGE_DAMS, MANAGE_NEWS, MANAGE_USERS]}) { id }
  g2: createGroup(input: {externalId: "b", name: "B"}) { id }
  f1: createAccountField(input: {key: "num", label: "Number", type: TEXT}) { id }
  f2: createAccountField(input: {key: "tier", label: "Tier", type: SELECT,
                                 options: ["gold", "silver", "bronze"]}) { id }
}
"""

READ = """
{
  groups(first: 100) { nodes { externalId permissions createdAt } }
  accountFields { nodes { key options } }
  accounts { nodes { externalId website customFields { key value }
                     locations { name phone address { street city } } } }
  users { nodes { email title lastName groups { externalId } } }
}
"""


def _post(sandbox: RunningSandbox, query: str, variables: dict[str, Any] | None = None) -> Any:
    answer = gql_post(sandbox, query, variables).json()
    assert "errors" not in answer, answer
    return answer["data"]


def _portal(sandbox: RunningSandbox) -> Any:
    _post(sandbox, SETUP)
    groups = {g["externalId"]: g["id"] for g in _groups(sandbox)}
    account = _post(
        sandbox,
        """mutation($g: [ID!]) { a: createAccount(input: {externalId: "acme", name: "Acme",
             website: "", userGroupIds: $g,
             customFields: [{key: "num", value: " A-1 "}]}) { id } }""",
        {"g": [groups["a"], groups["b"]]},
    )["a"]["id"]
    _post(
        sandbox,
        """mutation($a: ID!) { l1: createLocation(accountId: $a, input: {name: "HQ"}) { id }
             l2: createLocation(accountId: $a,
                                input: {name: "Depot", address: {city: "X"}}) { id } }""",
        {"a": account},
    )
    _post(
        sandbox,
        """mutation($a: ID!, $g: [ID!]) { u: createUser(input: {email: "Jane@Acme.Example",
             firstName: "Jane", lastName: "Ro\\u0308ssler  ", title: "", accountId: $a,
             groupIds: $g}, sendWelcomeEmail: false) { id } }""",
        {"a": account, "g": [groups["a"], groups["b"]]},
    )
    return _post(sandbox, READ)


def _groups(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    return list(_post(sandbox, "{ groups { nodes { id externalId } } }")["groups"]["nodes"])


def test_the_default_reading_answers_as_stored(sandbox: RunningSandbox) -> None:
    data = _portal(sandbox)
    assert [g["externalId"] for g in data["groups"]["nodes"]] == ["a", "b"]
    assert data["groups"]["nodes"][0]["permissions"] == [
        "MANAGE_DAMS",
        "MANAGE_NEWS",
        "MANAGE_USERS",
    ]
    assert data["groups"]["nodes"][0]["createdAt"].endswith("Z")
    account = data["accounts"]["nodes"][0]
    assert account["website"] == ""
    assert account["customFields"] == [{"key": "num", "value": " A-1 "}]
    assert [loc["name"] for loc in account["locations"]] == ["HQ", "Depot"]
    assert account["locations"][0]["address"] is None
    user = data["users"]["nodes"][0]
    assert user["email"] == "Jane@Acme.Example"
    assert user["lastName"] == "Ro\u0308ssler  "
    assert user["title"] == ""


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_order_reverses_or_shuffles_every_open_list_but_options(
    order: str, sandbox_factory: SandboxFactory
) -> None:
    sandbox = sandbox_factory(readings=readings.named([order], seed=3))
    _portal(sandbox)
    for index in range(20):
        _post(
            sandbox,
            f'mutation {{ g: createGroup(input: {{externalId: "x{index}", name: "X"}}) {{ id }} }}',
        )
    seen: list[list[str]] = []
    for _ in range(3):
        data = _post(sandbox, READ)
        keys = [g["externalId"] for g in data["groups"]["nodes"]]
        assert sorted(keys) == sorted(["a", "b", *(f"x{i}" for i in range(20))])
        seen.append(keys)
        tier = next(f for f in data["accountFields"]["nodes"] if f["key"] == "tier")
        assert tier["options"] == ["gold", "silver", "bronze"]  # the display order
    if order == "reversed":
        assert seen[0][:2] == ["x19", "x18"]
        data = _post(sandbox, READ)
        assert data["groups"]["nodes"][-1]["permissions"] == [
            "MANAGE_USERS",
            "MANAGE_NEWS",
            "MANAGE_DAMS",
        ]
        account = data["accounts"]["nodes"][0]
        assert [loc["name"] for loc in account["locations"]] == ["Depot", "HQ"]
        assert [g["externalId"] for g in data["users"]["nodes"][0]["groups"]] == ["b", "a"]
    else:
        assert len({tuple(keys) for keys in seen}) > 1  # another order each time


def test_pages_follow_the_cursor_whatever_the_order(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(readings=readings.named(["shuffled"]), page_cap=3)
    for index in range(10):
        _post(
            sandbox,
            f'mutation {{ g: createGroup(input: {{externalId: "x{index}", name: "X"}}) {{ id }} }}',
        )
    read: list[str] = []
    after = None
    while True:
        page = _post(
            sandbox,
            "query($after: String) { groups(first: 3, after: $after) "
            "{ nodes { externalId } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )["groups"]
        read += [node["externalId"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(read) == sorted(f"x{i}" for i in range(10))


def test_values_written_are_stored_as_each_reading_says(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(
        readings=readings.named(["lowercase-emails", "trim", "nfc", "blank-as-null"])
    )
    data = _portal(sandbox)
    user = data["users"]["nodes"][0]
    assert user["email"] == "jane@acme.example"
    assert user["lastName"] == "R\u00f6ssler"
    assert user["title"] is None
    account = data["accounts"]["nodes"][0]
    assert account["website"] is None
    assert account["customFields"] == [{"key": "num", "value": "A-1"}]


def test_answers_by_each_reading(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(
        readings=readings.named(["offset-datetimes", "empty-address-parts", "every-custom-field"])
    )
    data = _portal(sandbox)
    created = data["groups"]["nodes"][0]["createdAt"]
    assert created.endswith("+02:00") and "." in created, created
    account = data["accounts"]["nodes"][0]
    assert account["locations"][0]["address"] == {"street": None, "city": None}
    assert account["locations"][1]["address"] == {"street": None, "city": "X"}
    assert {e["key"]: e["value"] for e in account["customFields"]} == {"num": " A-1 ", "tier": None}


def test_null_as_blank_answers_empty_strings_for_nullable_strings_only(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(readings=readings.named(["null-as-blank", "empty-address-parts"]))
    _portal(sandbox)
    data = _post(
        sandbox,
        "{ accounts { nodes { locations { phone address { street city } } } }"
        "  groups(first: 1) { pageInfo { endCursor hasNextPage } } }",
    )
    locations = data["accounts"]["nodes"][0]["locations"]
    assert locations[0] == {"phone": "", "address": {"street": "", "city": ""}}
    assert data["groups"]["pageInfo"]["endCursor"] not in ("", None)


@pytest.mark.parametrize("reading", [None, "values-stay"])
def test_values_follow_a_renamed_key_or_stay_under_the_old_one(
    reading: str | None, sandbox_factory: SandboxFactory
) -> None:
    sandbox = sandbox_factory(readings=readings.named([reading] if reading else []))
    _portal(sandbox)
    field_id = _post(sandbox, "{ accountFields { nodes { id key } } }")["accountFields"]["nodes"][0]
    assert field_id["key"] == "num"
    _post(
        sandbox,
        'mutation($id: ID!) { f: updateAccountField(id: $id, input: {key: "number"}) { id } }',
        {"id": field_id["id"]},
    )
    values = _post(sandbox, "{ accounts { nodes { customFields { key } } } }")
    keys = [e["key"] for e in values["accounts"]["nodes"][0]["customFields"]]
    assert keys == (["num"] if reading else ["number"])
    _post(sandbox, "mutation($id: ID!) { d: deleteAccountField(id: $id) }", {"id": field_id["id"]})
    values = _post(sandbox, "{ accounts { nodes { customFields { key } } } }")
    keys = [e["key"] for e in values["accounts"]["nodes"][0]["customFields"]]
    assert keys == (["num"] if reading else [])


def test_every_named_reading_is_a_setting() -> None:
    assert readings.named([]) == readings.Readings()
    for name in readings.NAMED:
        assert readings.named([name]) != readings.Readings(), name
    together = readings.named([readings.ALL])
    assert together.order == "shuffled" and together.map_keys_stay and together.null_as_blank
    with pytest.raises(KeyError):
        readings.named(["no-such-reading"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_sandbox_command_takes_readings(tmp_path: Any) -> None:
    """``konvsync sandbox --reading NAME`` (hidden: for tests in another process)."""
    port = _free_port()
    process = subprocess.Popen(
        [
            *KONVSYNC,
            "sandbox",
            "--port",
            str(port),
            "--db",
            ":memory:",
            "--reading",
            "lowercase-emails",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.post(
                    f"{url}/oauth/token",
                    auth=(KEY, SECRET),
                    data={"grant_type": "client_credentials"},
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        bearer = answer.json()["access_token"]
        created = requests.post(
            f"{url}/api",
            json={
                "query": 'mutation { u: createUser(input: {email: "A@B.example", firstName: "A",'
                ' lastName: "B"}, sendWelcomeEmail: false) { email } }'
            },
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=5,
        ).json()
        assert created["data"]["u"]["email"] == "a@b.example"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    help_text = subprocess.run(
        [*KONVSYNC, "sandbox", "--help"], capture_output=True, text=True, env=subprocess_env()
    ).stdout
    assert "--reading" not in help_text  # not a flag users need
