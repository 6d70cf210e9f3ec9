"""Batched mutations after an ``UNAUTHENTICATED`` answer, through the CLI
against a sandbox behind a hostile portal (issue 23, item 3).

A token that expires while a batch is executed may be answered in every way
the contract allows: the data of every mutation plus one UNAUTHENTICATED
error (with or without a ``path``), no data at all, a null per alias with an
error of its own (not executed), or HTTP 401 before anything ran. konvsync
sends again only what the answer proves was not executed; a create it cannot
place is looked up by its key first. Afterwards each object exists exactly
once and the next plan is clean, for invite links (titles not unique) and
locations (names unique only within an account, where apply's twin check
deleted konvsync's own second copies and blamed "another writer").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke
from tests.hostile.harness import portal_yaml, seeded_sandbox
from tests.hostile.server import Call, Case, Json, running_hostile_server

EXPIRED = "the access token expired"


def _unauthenticated(path: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": EXPIRED, "extensions": {"code": "UNAUTHENTICATED"}}
    if path is not None:
        error["path"] = path
    return error


class AnsweredUnauthenticated(Case):
    """The first request of ``operation`` is executed by the portal, and its
    answer rewritten: ``data`` kept, null, or left out, plus one
    UNAUTHENTICATED error (``path`` to the first alias or none)."""

    def __init__(self, operation: str, data: str, with_path: bool) -> None:
        self.name = f"{operation}-{data}-data-{'path' if with_path else 'no-path'}"
        self.operation = operation
        self.data = data
        self.with_path = with_path
        self.done = False

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation or self.done:
            return answer
        self.done = True
        error = _unauthenticated(["m0"] if self.with_path else None)
        if self.data == "null":
            return {"data": None, "errors": [error]}
        if self.data == "absent":
            return {"errors": [error]}
        return {**answer, "errors": [*(answer.get("errors") or []), error]}


class RefusedUnauthenticated(Case):
    """The first request of ``operation`` is not executed: answered HTTP 401,
    or 200 with a null and an UNAUTHENTICATED error per alias, or 200 with
    null data and one error without a path (which does not say whether)."""

    def __init__(self, operation: str, how: str) -> None:
        self.name = f"{operation}-not-executed-{how}"
        self.operation = operation
        self.how = how
        self.done = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation or self.done:
            return None
        self.done = True
        if self.how == "http-401":
            body = {"errors": [_unauthenticated()]}
            return web.json_response(body, status=401)
        if self.how == "per-alias":
            aliases = [f"m{index}" for index in range(call.fields)]
            return web.json_response(
                {
                    "data": dict.fromkeys(aliases),
                    "errors": [_unauthenticated([alias]) for alias in aliases],
                }
            )
        return web.json_response({"data": None, "errors": [_unauthenticated()]})


ANSWERED = [
    ("kept", True),
    ("kept", False),
    ("null", False),
    ("absent", False),
]
REFUSED = ["http-401", "per-alias", "no-path"]

LINKS = (
    "inviteLinks:\n"
    "  - {title: Promo A, access: OPEN}\n"
    "  - {title: Promo B, access: OPEN, active: false}\n"
)
ACCOUNT = (
    "  - externalId: acct-new\n    name: New Co\n    locations: [{name: Lab}, {name: Annex}]\n"
)


def _config(tmp_path: Path, what: str) -> Path:
    text = portal_yaml(changed=False)
    if what == "inviteLinks":
        text += LINKS
    else:
        text = text.replace("users:\n", "users:\n", 1).replace(
            "accounts:\n", "accounts:\n" + ACCOUNT, 1
        )
    config = tmp_path / "konvsync.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def _created(sandbox: RunningSandbox, what: str) -> list[str]:
    if what == "inviteLinks":
        return sorted(n["title"] for n in sandbox.store.page("inviteLinks", 100, None)["nodes"])
    account = sandbox.store.get("accounts", key="acct-new")
    assert account is not None, "the account was not created"
    return sorted(
        location["name"] for location in sandbox.store.children("locations", account["id"])
    )


EXPECTED = {"inviteLinks": ["Promo A", "Promo B"], "locations": ["Annex", "Lab"]}
OPERATION = {"inviteLinks": "CreateInviteLinkBatch", "locations": "CreateLocationBatch"}


def _apply_and_check(tmp_path: Path, what: str, case: Case) -> None:
    config = _config(tmp_path, what)
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, case) as portal:
            result = invoke(
                ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
            )
            happened = portal.rewritten
            deletes = [op for op in portal.operations() if op.startswith("Delete")]
        created = _created(sandbox, what)
        again = invoke(["--endpoint", sandbox.url, "plan", str(config), "--detailed-exitcode"])
    assert happened, "the case never happened"
    assert result.exit_code == 0, result.output
    assert "Apply complete! Resources: " in result.stdout, result.output
    assert "another writer" not in result.output
    assert deletes == [], f"konvsync deleted something: {deletes}"
    assert created == EXPECTED[what], f"not each object exactly once: {created}"
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


@pytest.mark.parametrize("what", ["inviteLinks", "locations"])
@pytest.mark.parametrize(("data", "with_path"), ANSWERED)
def test_an_executed_batch_answered_unauthenticated_is_not_sent_again(
    tmp_path: Path, what: str, data: str, with_path: bool
) -> None:
    _apply_and_check(tmp_path, what, AnsweredUnauthenticated(OPERATION[what], data, with_path))


@pytest.mark.parametrize("what", ["inviteLinks", "locations"])
@pytest.mark.parametrize("how", REFUSED)
def test_a_batch_refused_unauthenticated_is_done_once(tmp_path: Path, what: str, how: str) -> None:
    _apply_and_check(tmp_path, what, RefusedUnauthenticated(OPERATION[what], how))


def test_updates_answered_unauthenticated_without_data_are_sent_again(tmp_path: Path) -> None:
    """An update batch executed but answered with null data and one error:
    sending an update again does no harm, so it is sent again, and done."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(portal_yaml(changed=False).replace("name: Team 1", "name: Team One"))
    case = AnsweredUnauthenticated("UpdateGroupBatch", "null", False)
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, case) as portal:
            result = invoke(
                ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
            )
            updates = portal.operations().count("UpdateGroupBatch")
        group = sandbox.store.get("groups", key="team-1")
    assert case.done and updates == 2, updates
    assert result.exit_code == 0, result.output
    assert "Resources: 0 added, 1 changed, 0 destroyed." in result.stdout
    assert group is not None and group["name"] == "Team One"
