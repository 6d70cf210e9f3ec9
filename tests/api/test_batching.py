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

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke
from tests.hostile.harness import apply_args, portal_yaml, seeded_sandbox
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


class AnsweredBelowTheAlias(Case):
    """The first request of ``operation`` is executed, and the answer of its
    alias ``alias`` is rewritten to null with one error whose ``path`` goes
    below the alias (``["m1", "groups"]``): the mutation ran and returned an
    object, one of whose fields failed (GraphQL nulls the nearest nullable
    parent, the mutation's own field). ``code`` is that error's code."""

    def __init__(self, operation: str, alias: str, code: str) -> None:
        self.name = f"{operation}-{alias}-below-{code}"
        self.operation = operation
        self.alias = alias
        self.code = code
        self.done = False

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation or self.done:
            return answer
        self.done = True
        answer["data"][self.alias] = None
        error = {
            "message": "could not resolve groups",
            "path": [self.alias, "groups"],
            "extensions": {"code": self.code},
        }
        return {**answer, "errors": [*(answer.get("errors") or []), error]}


class AnsweredWithoutSaying(Case):
    """The first request of ``operation`` is executed, and answered with
    ``data: null`` and one error without a ``path`` (``INTERNAL``): the
    answer does not say which mutations ran."""

    def __init__(self, operation: str) -> None:
        self.name = f"{operation}-data-null-internal"
        self.operation = operation
        self.done = False

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != self.operation or self.done:
            return answer
        self.done = True
        return {"data": None, "errors": [{"message": "internal error", "extensions": {}}]}


def _apply_with_report(tmp_path: Path, what: str, case: Case) -> tuple[Any, ...]:
    config = _config(tmp_path, what)
    report_file = tmp_path / "report.json"
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, case) as portal:
            result = invoke([*apply_args(portal.endpoint(), config), "--report", str(report_file)])
            sent = portal.operations().count(OPERATION[what])
        created = _created(sandbox, what)
        again = invoke(["--endpoint", sandbox.url, "plan", str(config), "--detailed-exitcode"])
    report = json.loads(report_file.read_text(encoding="utf-8"))
    return result, sent, created, again, report


@pytest.mark.parametrize("what", ["inviteLinks", "locations"])
@pytest.mark.parametrize("code", ["UNAUTHENTICATED", "INTERNAL"])
def test_a_create_whose_error_lies_below_its_alias_ran_and_is_not_sent_again(
    tmp_path: Path, what: str, code: str
) -> None:
    """An error whose path goes below the alias says the mutation ran (its
    object came back, a field of it failed): the create is looked up by its
    key, never sent again (UNAUTHENTICATED made a second copy), and counts as
    done (INTERNAL made it 'failed' though the portal holds it)."""
    case = AnsweredBelowTheAlias(OPERATION[what], "m1", code)
    result, sent, created, again, report = _apply_with_report(tmp_path, what, case)
    assert case.done, "the case never happened"
    assert created == EXPECTED[what], f"not each object exactly once: {created}"
    assert sent == 1, f"the batch was sent {sent} times"
    assert result.exit_code == 0, result.output
    assert "Apply complete!" in result.stdout, result.output
    summary = report["summary"]
    assert summary["done"] == summary["planned"] and summary["failed"] == 0, summary
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


@pytest.mark.parametrize("what", ["inviteLinks", "locations"])
def test_creates_answered_with_null_data_and_an_error_without_path_are_looked_up(
    tmp_path: Path, what: str
) -> None:
    """``data: null`` and an error without a path do not say whether the
    creates ran: they are looked up by key, and the report counts what the
    portal holds as done (it said '2 failed' for two objects it held)."""
    case = AnsweredWithoutSaying(OPERATION[what])
    result, sent, created, again, report = _apply_with_report(tmp_path, what, case)
    assert case.done, "the case never happened"
    assert created == EXPECTED[what], f"not each object exactly once: {created}"
    assert sent == 1, f"the batch was sent {sent} times"
    assert result.exit_code == 0, result.output
    summary = report["summary"]
    assert summary["done"] == summary["planned"] and summary["failed"] == 0, summary
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


class RefusedWithoutData(Case):
    """The first request of ``operation`` is not executed: answered with an
    error and no ``data`` at all (a request error, as for a document the
    server does not take)."""

    def __init__(self, operation: str) -> None:
        self.name = f"{operation}-request-error"
        self.operation = operation
        self.done = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation or self.done:
            return None
        self.done = True
        error = {"message": "input rejected", "extensions": {"code": "BAD_USER_INPUT"}}
        return web.json_response({"errors": [error]})


def test_creates_refused_without_data_fail_with_the_portals_error_and_are_not_resent(
    tmp_path: Path,
) -> None:
    case = RefusedWithoutData(OPERATION["inviteLinks"])
    result, sent, created, _again, report = _apply_with_report(tmp_path, "inviteLinks", case)
    assert case.done, "the case never happened"
    assert sent == 1, f"the batch was sent {sent} times"
    assert created == [], created
    assert result.exit_code == 1, result.output
    assert "input rejected (BAD_USER_INPUT)" in result.stdout, result.output
    assert report["summary"]["failed"] == 2, report
