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
