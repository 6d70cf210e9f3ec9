"""Portals that honour the contract in ways the sandbox does not play: where
the contract is silent, a real portal may choose otherwise (DESIGN, "Where
the contract is silent"). Each case changes what the portal does, not only
what it answers: it edits the sandbox's store behind the mutation, as a
portal with that habit would."""

from __future__ import annotations

from typing import Any

from konvsync.sandbox.store import Store
from tests.hostile.server import Call, Case, Json


class ValuesDroppedOnRename(Case):
    """Renaming an account field's key drops the accounts' values under it
    (neither moved to the new key nor left under the old one)."""

    name = "values-dropped-on-rename"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dropped = 0

    def answer(self, call: Call, answer: Json) -> Json:
        if not call.operation.startswith("UpdateAccountField"):
            return answer
        renamed = {
            given["key"]
            for name, given in call.variables.items()
            if name.startswith("input_") and isinstance(given, dict) and "key" in given
        }
        for account in self.store.page("accounts", 100, None)["nodes"]:
            values: list[dict[str, Any]] = account["customFields"]
            kept = [entry for entry in values if entry["key"] not in renamed]
            if kept != values:
                self.store.update("accounts", account["id"], {"customFields": kept})
                self.dropped += 1
        return answer


class NestedInputPatched(Case):
    """``updateLocation`` reads its ``address`` input as a patch too (the
    contract: update inputs are patches, an omitted field is left as it is):
    parts the input omits keep their stored values."""

    name = "nested-input-patched"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.kept: list[dict[str, Any]] = []

    def request(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        if not call.operation.startswith("UpdateLocation"):
            return body
        variables = dict(body.get("variables") or {})
        for name, given in list(variables.items()):
            if not (name.startswith("input_") and isinstance(given, dict)):
                continue
            address = given.get("address")
            if not isinstance(address, dict):
                continue
            stored = self.store.get("locations", id=variables[f"id_{name[len('input_') :]}"])
            before = (stored or {}).get("address") or {}
            merged = {**before, **address}
            if merged != address:
                self.kept.append(merged)
            variables[name] = {**given, "address": merged}
        return {**body, "variables": variables}
