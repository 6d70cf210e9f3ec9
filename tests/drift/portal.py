"""Changing the sandbox by hand, as a person in the portal UI would: GraphQL
mutations sent straight to the sandbox's API."""

from __future__ import annotations

from typing import Any

import requests

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET


class HandEdits:
    def __init__(self, sandbox: RunningSandbox) -> None:
        self.url = sandbox.url
        answer = requests.post(
            f"{self.url}/oauth/token",
            auth=(KEY, SECRET),
            data={"grant_type": "client_credentials"},
            timeout=5,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]

    def run(self, query: str, **variables: Any) -> dict[str, Any]:
        answer = requests.post(
            f"{self.url}/api",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=5,
        )
        body = answer.json()
        assert not body.get("errors"), body
        return dict(body["data"])

    def group_id(self, external_id: str) -> str:
        data = self.run("query($k: String) { group(externalId: $k) { id } }", k=external_id)
        return str(data["group"]["id"])

    def account_id(self, external_id: str) -> str:
        data = self.run("query($k: String) { account(externalId: $k) { id } }", k=external_id)
        return str(data["account"]["id"])

    def user_id(self, email: str) -> str:
        data = self.run("query($e: String) { user(email: $e) { id } }", e=email)
        return str(data["user"]["id"])

    def update_group(self, external_id: str, **fields: Any) -> None:
        self.run(
            "mutation($id: ID!, $in: GroupInput!) { updateGroup(id: $id, input: $in) { id } }",
            id=self.group_id(external_id),
            **{"in": fields},
        )

    def create_group(self, **fields: Any) -> None:
        self.run("mutation($in: GroupInput!) { createGroup(input: $in) { id } }", **{"in": fields})

    def update_account(self, external_id: str, **fields: Any) -> None:
        self.run(
            "mutation($id: ID!, $in: AccountInput!) { updateAccount(id: $id, input: $in) { id } }",
            id=self.account_id(external_id),
            **{"in": fields},
        )

    def update_user(self, email: str, **fields: Any) -> None:
        self.run(
            "mutation($id: ID!, $in: UserInput!) { updateUser(id: $id, input: $in) { id } }",
            id=self.user_id(email),
            **{"in": fields},
        )

    def delete_user(self, email: str) -> None:
        self.run("mutation($id: ID!) { deleteUser(id: $id) }", id=self.user_id(email))

    def location_id(self, account: str, name: str) -> str:
        data = self.run(
            "query($k: String) { account(externalId: $k) { locations { id name } } }", k=account
        )
        return next(str(loc["id"]) for loc in data["account"]["locations"] if loc["name"] == name)

    def create_location(self, account: str, **fields: Any) -> None:
        self.run(
            "mutation($a: ID!, $in: LocationInput!) { createLocation(accountId: $a, input: $in) "
            "{ id } }",
            a=self.account_id(account),
            **{"in": fields},
        )

    def update_location(self, account: str, name: str, **fields: Any) -> None:
        self.run(
            "mutation($id: ID!, $in: LocationInput!) "
            "{ updateLocation(id: $id, input: $in) { id } }",
            id=self.location_id(account, name),
            **{"in": fields},
        )

    def delete_location(self, account: str, name: str) -> None:
        location = self.location_id(account, name)
        self.run("mutation($id: ID!) { deleteLocation(id: $id) }", id=location)

    def create_user(self, **fields: Any) -> None:
        self.run(
            "mutation($in: UserInput!) { createUser(input: $in, sendWelcomeEmail: false) { id } }",
            **{"in": fields},
        )

    def delete_group(self, external_id: str) -> None:
        self.run("mutation($id: ID!) { deleteGroup(id: $id) }", id=self.group_id(external_id))

    def delete_account(self, external_id: str) -> None:
        self.run("mutation($id: ID!) { deleteAccount(id: $id) }", id=self.account_id(external_id))
