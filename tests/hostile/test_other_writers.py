"""Other writers edit the portal while konvsync runs: what apply's checks
of the portal make of a read that an edit made inconsistent. Each test
drives the real CLI through a hostile portal (tests/hostile/server.py) in
front of a seeded sandbox, which the case edits as another writer would."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from konvsync.sandbox.store import Store
from tests.hostile.cases import OnConnection, connection_of
from tests.hostile.harness import (
    Finished,
    after_plan,
    apply_args,
    hostile_portal,
    one_error_line,
    portal_yaml,
    run_konvsync,
    seeded_sandbox,
    write_desired,
)
from tests.hostile.legal_cases import MissedAndLookedUpAsStored
from tests.hostile.server import Call, Case, Json, running_hostile_server
from tests.published_schemas import validated

DOOMED = "user29@example.test"
"""The user the config no longer has (users are pruned): apply deletes it."""


def config_deleting_one_user(directory: Path) -> Path:
    """The seeded portal with users pruned and :data:`DOOMED` left out: the
    plan's one change deletes it."""
    text = (
        portal_yaml(changed=True)
        .replace("Team One", "Team 1")
        .replace("title: Lead", "title: Member")
    )
    config = directory / "konvsync.yaml"
    config.write_text(
        "".join(line for line in text.splitlines(keepends=True) if DOOMED not in line),
        encoding="utf-8",
    )
    return config


class EditedAndMissedByTheRecheck(Case):
    """Another writer edits :data:`DOOMED` (a new title: someone wants to
    keep it) after the plan read the users, and at the same time deletes one
    user and creates another: offset pages then slip, and the read apply
    makes before its step does not show :data:`DOOMED` (its place on the
    page goes to the user created, so ``totalCount`` holds)."""

    name = "edited-and-missed-by-the-recheck"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.first_pages = 0
        self.edited = False
        self.hidden = False

    def _rechecking(self, call: Call) -> bool:
        return call.operation == "ReadUsers" and self.first_pages >= 2

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation == "ReadUsers" and call.variables.get("after") is None:
            self.first_pages += 1
        if self._rechecking(call) and not self.edited:
            self.edited = True
            user = self.store.get("users", key=DOOMED)
            assert user is not None
            self.store.update("users", user["id"], {"title": "Keep me: still with us"})
        return None

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer) if self._rechecking(call) else None
        for index, node in enumerate(connection["nodes"] if connection else []):
            if node.get("email") == DOOMED:
                self.hidden = True
                connection["nodes"][index] = {**node, "id": "usr_999", "email": "new@example.test"}
        return answer


def test_a_delete_whose_object_the_recheck_missed_is_not_sent_unchecked(tmp_path: Path) -> None:
    """The step's check before the delete must not take "not in the page"
    for "deleted since the plan": the object is asked for by its ID, found
    changed, and the plan is refused as stale (exit 3) with nothing deleted."""
    config = config_deleting_one_user(tmp_path)
    with seeded_sandbox(tmp_path) as sandbox:
        case = EditedAndMissedByTheRecheck(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
            deletes = [call for call in portal.mutations if call.operation.startswith("Delete")]
        kept = sandbox.store.get("users", key=DOOMED)
    assert case.edited and case.hidden, f"the case never happened: {result.describe()}"
    assert kept is not None, f"deleted though edited since the plan: {result.describe()}"
    assert deletes == [], result.describe()
    assert result.exit_code == 3, result.describe()
    assert f"users/{DOOMED}" in result.stderr and "stale plan" in result.stderr, result.describe()


class DeletedBeforeTheRecheck(Case):
    """Another writer deletes :data:`DOOMED` after the plan read the users
    and before apply's check of its step: the object the plan deletes is
    gone for certain (asked for by its ID), as the config wants."""

    name = "deleted-before-the-recheck"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.first_pages = 0
        self.deleted = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation == "ReadUsers" and call.variables.get("after") is None:
            self.first_pages += 1
        if call.operation == "ReadUsers" and self.first_pages >= 2 and not self.deleted:
            self.deleted = True
            user = self.store.get("users", key=DOOMED)
            assert user is not None
            self.store.delete("users", user["id"])
        return None


def test_a_delete_another_writer_made_first_is_already_gone(tmp_path: Path) -> None:
    """Pages that do not show an object the plan deletes are not taken for
    its absence (above), but the portal's answer to a question by its ID is:
    an object deleted by someone else in the meantime is "already gone", the
    run succeeds (exit 0) and the next plan is clean."""
    config = config_deleting_one_user(tmp_path)
    report_file = tmp_path / "report.json"
    with seeded_sandbox(tmp_path) as sandbox:
        case = DeletedBeforeTheRecheck(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            args = [*apply_args(portal.endpoint(), config), "--report", str(report_file)]
            result = run_konvsync(args, tmp_path)
            asked = portal.operations()
        again = run_konvsync(["--endpoint", sandbox.url, "plan", str(config)], tmp_path)
    assert case.deleted, f"the case never happened: {result.describe()}"
    assert any(operation.startswith("GetUser") for operation in asked), asked
    assert result.exit_code == 0, result.describe()
    report = validated(report_file.read_text(encoding="utf-8"), "apply-report")
    assert "already gone" in str(report["changes"]), report
    assert again.exit_code == 0 and "No changes." in again.stdout, again.describe()


MISSED = "user03@example.test"


def _slip_past(connection: dict[str, Any], _call: Call) -> None:
    """As offset pages show it while someone deletes one user and creates
    another: :data:`MISSED` slips between two pages; the new user's node
    takes its place (``totalCount`` holds)."""
    for index, node in enumerate(connection["nodes"]):
        if node.get("email") == MISSED:
            connection["nodes"][index] = {**node, "id": "usr_999", "email": "new@example.test"}


def test_export_force_refuses_to_drop_an_object_its_read_missed(tmp_path: Path) -> None:
    """``export --force`` rewrites a configuration and keeps its policy,
    pruning included: a user the list read missed would be gone from the
    files, and the next apply would delete it. The export asks for it by its
    key, finds it, and writes nothing (exit 1, one line naming it); once the
    user is really deleted, the export drops it."""
    out = tmp_path / "portal"
    with seeded_sandbox(tmp_path) as sandbox:
        first = run_konvsync(["--endpoint", sandbox.url, "export", "--out", str(out)], tmp_path)
        assert first.exit_code == 0, first.describe()
        with (out / "konvsync.yaml").open("a", encoding="utf-8") as text:
            text.write("policy:\n  prune: [users]\n")
        before = {path.name: path.read_bytes() for path in out.iterdir()}
        case = OnConnection("missed-by-the-export", "ReadUsers", _slip_past, page=0)
        with running_hostile_server(sandbox.url, case) as portal:
            args = ["--endpoint", portal.endpoint(), "export", "--out", str(out), "--force"]
            result = run_konvsync(args, tmp_path)
            asked = portal.operations()
        after = {path.name: path.read_bytes() for path in out.iterdir()}
        line = one_error_line(result)
        user = sandbox.store.get("users", key=MISSED)
        assert user is not None
        sandbox.store.delete("users", user["id"])
        gone = run_konvsync(
            ["--endpoint", sandbox.url, "export", "--out", str(out), "--force"], tmp_path
        )
    assert any(operation.startswith("GetUser") for operation in asked), asked
    assert f"users/{MISSED}" in line and "nothing was written" in line, line
    assert after == before
    assert gone.exit_code == 0, gone.describe()
    assert MISSED not in (out / "users.yaml").read_text(encoding="utf-8")
    assert "prune: [users]" in (out / "konvsync.yaml").read_text(encoding="utf-8")


MIXED = "Mixed.Case@Example.test"


def test_export_force_keeps_a_user_the_read_missed_on_a_portal_that_looks_up_as_stored(
    tmp_path: Path,
) -> None:
    """The files name Mixed.Case@Example.test as the portal stores it; the
    list read misses her, and the portal finds an e-mail only as stored. She
    is asked for as the files spell her as well as lowercased, found, and
    nothing is written. Before, only "mixed.case@example.test" was asked
    for: she was taken for deleted and dropped from users.yaml, whose
    ``prune: [users]`` the next apply would have deleted her by."""
    out = tmp_path / "portal"
    with seeded_sandbox(tmp_path) as sandbox:
        sandbox.store.create("users", {"email": MIXED, "firstName": "Mixed", "lastName": "Case"})
        first = run_konvsync(["--endpoint", sandbox.url, "export", "--out", str(out)], tmp_path)
        assert first.exit_code == 0, first.describe()
        assert MIXED in (out / "users.yaml").read_text(encoding="utf-8")
        with (out / "konvsync.yaml").open("a", encoding="utf-8") as text:
            text.write("policy:\n  prune: [users]\n")
        before = {path.name: path.read_bytes() for path in out.iterdir()}
        with running_hostile_server(
            sandbox.url, MissedAndLookedUpAsStored(MIXED, {"id": "usr_999", "email": "n@x.test"})
        ) as portal:
            args = ["--endpoint", portal.endpoint(), "export", "--out", str(out), "--force"]
            result = run_konvsync(args, tmp_path)
        after = {path.name: path.read_bytes() for path in out.iterdir()}
    line = one_error_line(result)
    assert "users/mixed.case@example.test" in line and "nothing was written" in line, line
    assert after == before


class CreatesUserBetweenPages(Case):
    """Another writer creates a user while apply reads the users again
    before its users step (after the groups step wrote): the read's
    ``totalCount`` changes between pages, and konvsync cannot trust it."""

    name = "creates-a-user-between-recheck-pages"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.first_pages = 0
        self.created = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation == "ReadUsers" and call.variables.get("after") is None:
            self.first_pages += 1
        rechecking = call.operation == "ReadUsers" and self.first_pages >= 2
        if rechecking and call.variables.get("after") is not None and not self.created:
            self.created = True
            self.store.create(
                "users", {"email": "x@example.test", "firstName": "X", "lastName": "Y"}
            )
        return None


def test_a_read_that_fails_after_the_first_write_ends_with_what_was_done(tmp_path: Path) -> None:
    """The check before the users step cannot be read (another writer made
    its pages inconsistent) after the groups step renamed team-1: the run
    stops with exit 1 and says what was done (the rename) and what was not
    sent (the user's title), in its summary and its --report (incomplete,
    not "error", which says nothing was sent); the next apply converges."""
    config = write_desired(tmp_path)
    report_file = tmp_path / "report.json"
    with seeded_sandbox(tmp_path) as sandbox:
        case = CreatesUserBetweenPages(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            args = [*apply_args(portal.endpoint(), config), "--report", str(report_file)]
            result = run_konvsync(args, tmp_path)
        again = run_konvsync(apply_args(sandbox.url, config), tmp_path)
    assert case.created, f"the case never happened: {result.describe()}"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output, result.describe()
    summary = after_plan(result)
    assert "Apply incomplete: 1 done (0 added, 1 changed, 0 destroyed)" in summary, summary
    skipped = [line for line in summary.splitlines() if "users/user05@example.test" in line]
    assert skipped and "totalCount changed" in skipped[0], summary
    report = validated(report_file.read_text(encoding="utf-8"), "apply-report")
    assert report["status"] == "incomplete", report
    assert report["summary"]["done"] == 1 and report["summary"]["skipped"] == 1, report
    assert again.exit_code == 0, again.describe()
    assert "users/user05@example.test will be updated" in again.stdout, again.describe()


class DownAfterFirstWrite(Case):
    """The portal goes down (every request 503) once the first mutation
    was answered."""

    name = "down-after-the-first-write"

    def __init__(self) -> None:
        self.down = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if self.down:
            return web.Response(status=503, text="down for maintenance")
        return None

    def answer(self, call: Call, answer: Json) -> Json:
        self.down = self.down or call.is_mutation
        return answer


def test_a_portal_that_goes_down_after_the_first_write_gets_a_summary(tmp_path: Path) -> None:
    """The check before the second step cannot reach the portal: exit 1 with
    the done rename and the unsent update listed, not one error line."""
    config = write_desired(tmp_path)
    with (
        seeded_sandbox(tmp_path) as sandbox,
        running_hostile_server(sandbox.url, DownAfterFirstWrite()) as portal,
    ):
        args = ["--max-retries", "1", *apply_args(portal.endpoint(), config)]
        result = run_konvsync(args, tmp_path)
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output, result.describe()
    summary = after_plan(result)
    assert "Apply incomplete: 1 done (0 added, 1 changed, 0 destroyed)" in summary, summary
    assert "skipped: users/user05@example.test (update): not sent" in summary, summary


def test_a_saved_plan_applied_in_part_advises_a_new_plan(tmp_path: Path) -> None:
    """A plan file applied in part is stale (applying it again is refused,
    exit 3): the summary says to plan again, not "Run apply again"."""
    config = write_desired(tmp_path)
    planfile = tmp_path / "reviewed.plan"
    case = DownAfterFirstWrite()
    with (
        seeded_sandbox(tmp_path) as sandbox,
        running_hostile_server(sandbox.url, case) as portal,
    ):
        endpoint = ["--endpoint", portal.endpoint(), "--max-retries", "1"]
        planned = run_konvsync([*endpoint, "plan", str(config), "--out", str(planfile)], tmp_path)
        result = run_konvsync([*endpoint, "apply", str(planfile)], tmp_path)
        case.down = False
        again = run_konvsync([*endpoint, "apply", str(planfile)], tmp_path)
    assert planned.exit_code == 0, planned.describe()
    assert result.exit_code == 1, result.describe()
    summary = result.stdout
    assert "Apply incomplete: 1 done" in summary, summary
    assert "Run apply again" not in summary, summary
    assert "run plan --out again and apply the new plan" in summary, summary
    assert again.exit_code == 3 and "stale" in again.stderr, again.describe()


class EditedBetweenReads(Case):
    """Another writer edits the portal once (``edit``) after the read of one
    kind ended (``first``: its last page answered) and before the read of
    another (``then``) begins: the kinds are read at the same time, each
    page by page."""

    first = ""
    then = ""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.first_read = threading.Event()
        self.edited = False

    def edit(self) -> None:
        raise NotImplementedError

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation == self.then and not self.edited:
            for _ in range(500):  # at most 5 s: a run that reads otherwise still ends
                if self.first_read.is_set():
                    break
                await asyncio.sleep(0.01)
            self.edited = True
            self.edit()
        return None

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer) if call.operation == self.first else None
        if connection is not None and not connection["pageInfo"]["hasNextPage"]:
            self.first_read.set()
        return answer

    def happened(self) -> bool:
        return self.edited and self.first_read.is_set()


class GroupMadeBetweenReads(EditedBetweenReads):
    """Group ``late`` is created and account acct-0 put in it after the
    groups were read and before the accounts are."""

    name = "group-made-between-reads"
    first, then = "ReadGroups", "ReadAccounts"

    def edit(self) -> None:
        group = self.store.create("groups", {"externalId": "late", "name": "Late"})
        account = self.store.get("accounts", key="acct-0")
        assert account is not None
        self.store.update("accounts", account["id"], {"userGroupIds": [group["id"]]})


def read_again(result: Finished, *named: str) -> str:
    """The warning that the portal changed while it was read and is read
    again (a second read); asserts it names each of ``named``."""
    warnings = [line for line in result.stderr.splitlines() if "reading it again" in line]
    assert len(warnings) == 1, result.describe()
    warning = warnings[0]
    assert warning.startswith("WARNING: the portal changed while it was read ("), warning
    assert warning.endswith("reading it again (2 of 3)"), warning
    for text in named:
        assert text in warning, warning
    return warning


def test_export_reads_again_a_portal_changed_between_the_reads_of_two_kinds(
    tmp_path: Path,
) -> None:
    """The accounts refer to a group the read of the groups did not show:
    written as it was read, the export failed ``validate`` (exit 0 and an
    invalid configuration). The read is made again, and what is written is
    the portal at rest: the late group and the account in it, valid."""
    out = tmp_path / "portal"
    with seeded_sandbox(tmp_path) as sandbox:
        case = GroupMadeBetweenReads(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            args = ["--endpoint", portal.endpoint(), "export", "--out", str(out)]
            result = run_konvsync(args, tmp_path)
    assert case.happened(), "the case never happened"
    assert result.exit_code == 0, result.describe()
    read_again(result, "accounts/acct-0", "'late'", "which the read of groups did not show")
    assert "externalId: late" in (out / "groups.yaml").read_text(encoding="utf-8")
    valid = run_konvsync(["validate", str(out)], tmp_path)
    assert valid.exit_code == 0, valid.describe()


class GroupRenamedBetweenReads(EditedBetweenReads):
    """Group team-2 is renamed team-22 after the users (who name it team-2)
    were read and before the groups are."""

    name = "group-renamed-between-reads"
    first, then = "ReadUsers", "ReadGroups"

    def edit(self) -> None:
        group = self.store.get("groups", key="team-2")
        assert group is not None
        self.store.update("groups", group["id"], {"externalId": "team-22"})


def test_a_plan_reads_again_a_portal_changed_between_the_reads_of_two_kinds(
    tmp_path: Path,
) -> None:
    """The users name group team-2, which the read of the groups shows as
    team-22: read so, the plan deleted team-22 and created a new team-2
    without moving its members (the plan said nothing of them), who lost
    the group. The read is inconsistent and made again: the plan is made
    from the portal at rest (team-2 created, its members moved to it), and
    the next plan says there is nothing to do."""
    config = write_desired(tmp_path)
    with seeded_sandbox(tmp_path) as sandbox:
        case = GroupRenamedBetweenReads(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        again = run_konvsync(["--endpoint", sandbox.url, "plan", str(config)], tmp_path)
    assert case.happened(), "the case never happened"
    assert result.exit_code == 0, result.describe()
    read_again(result, "'team-2'", "which the read of groups did not show")
    assert "users/user02@example.test will be updated" in result.stdout, result.describe()
    assert again.exit_code == 0 and "No changes." in again.stdout, again.describe()


def test_drift_reads_again_a_portal_changed_between_the_reads_of_two_kinds(
    tmp_path: Path,
) -> None:
    """``drift`` reads as ``plan`` does: the read is made again, and what it
    reports is the portal at rest (team-2 renamed team-22 by hand: gone from
    the portal, a group it does not manage in its place), not the users'
    groups read before the rename."""
    config = write_desired(tmp_path)
    with seeded_sandbox(tmp_path) as sandbox:
        case = GroupRenamedBetweenReads(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            args = ["--endpoint", portal.endpoint(), "drift", str(config)]
            result = run_konvsync(args, tmp_path)
        at_rest = run_konvsync(["--endpoint", sandbox.url, "drift", str(config)], tmp_path)
    assert case.happened(), "the case never happened"
    assert result.exit_code == 2, result.describe()
    read_again(result, "'team-2'", "which the read of groups did not show")
    assert result.stdout == at_rest.stdout, (result.describe(), at_rest.describe())


class RenamedBetweenPages(Case):
    """Pages that follow the e-mail (a cursor on the sort key): someone
    renames user00 to zz-renamed@ after the first page was read, so the
    next page holds it again, under its new key."""

    name = "renamed-between-key-sorted-pages"

    def __init__(self) -> None:
        self.first: dict[str, Any] | None = None

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer) if call.operation == "ReadUsers" else None
        if connection is None or not connection["nodes"]:
            return answer
        if call.index == 0:
            self.first = dict(connection["nodes"][0])
        elif call.index == 1 and self.first is not None:
            connection["nodes"][-1] = {**self.first, "email": "zz-renamed@example.test"}
        return answer


def test_an_object_renamed_between_pages_is_read_again(tmp_path: Path) -> None:
    """The ID read twice (another writer renamed a user where pages follow
    the e-mail) makes the read go again, with a warning naming it; nothing
    of the first read is kept, and the apply is made from the second."""
    config = write_desired(tmp_path)
    with (
        seeded_sandbox(tmp_path) as sandbox,
        running_hostile_server(sandbox.url, RenamedBetweenPages()) as portal,
    ):
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        again = run_konvsync(["--endpoint", sandbox.url, "plan", str(config)], tmp_path)
    assert result.exit_code == 0, result.describe()
    read_again(result, "ReadUsers: users.nodes[", "an ID appears twice")
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in result.stdout
    assert again.exit_code == 0 and "No changes." in again.stdout, again.describe()


class ChangedDuringEveryRead(Case):
    """Another writer creates a user while each read of the users is under
    way (after its first page), so that ``totalCount`` changes between the
    pages of every read."""

    name = "changed-during-every-read"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0
        self.made: list[str] = []

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != "ReadUsers":
            return None
        if call.variables.get("after") is None:
            self.reads += 1
        elif len(self.made) < self.reads:  # once in each read, after its first page
            self.made.append(f"busy{self.reads}@example.test")
            self.store.create(
                "users", {"email": self.made[-1], "firstName": "Busy", "lastName": "Bee"}
            )
        return None


def test_a_portal_changed_during_every_read_stops_before_any_write(tmp_path: Path) -> None:
    """Read three times and changed during each read: one line that says so
    (and that a portal that counts wrongly would read so too), exit 1,
    before any write; one warning for each read made again."""
    config = write_desired(tmp_path)
    with seeded_sandbox(tmp_path) as sandbox:
        case = ChangedDuringEveryRead(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
            mutations = portal.mutations
    assert case.reads == 3 and len(case.made) == 3, result.describe()
    assert mutations == [], result.describe()
    line = one_error_line(result)
    assert "users.totalCount changed from" in line, line
    assert "in each of 3 reads" in line and "nothing was changed or written" in line, line
    warnings = [line for line in result.stderr.splitlines() if "reading it again" in line]
    assert [w[-len("(2 of 3)") :] for w in warnings] == ["(2 of 3)", "(3 of 3)"], warnings


def _recreated_on_a_later_page(connection: dict[str, Any], _call: Call) -> None:
    """As offset pages show it while someone deletes user03 (read on page 1)
    and creates her again (a new ID): the pages slip by one, and the new
    user03 takes the place of a node on the last page (``totalCount``
    holds)."""
    nodes = connection["nodes"]
    nodes[0] = {**nodes[0], "id": "usr_998", "email": "user03@example.test"}


def test_a_user_deleted_and_created_again_while_read_is_read_again(tmp_path: Path) -> None:
    """One e-mail under two IDs in one read (another writer deleted a user
    and created her again between its pages) is a read another writer
    explains, as an ID read twice is: it is made again, with a warning, and
    the apply is made from the portal at rest. Before, it stopped at once:
    'two users have the email ..., which the contract says is unique'."""
    config = write_desired(tmp_path)
    case = OnConnection("recreated-between-pages", "ReadUsers", _recreated_on_a_later_page, page=2)
    with (
        seeded_sandbox(tmp_path) as sandbox,
        running_hostile_server(sandbox.url, case) as portal,
    ):
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        again = run_konvsync(["--endpoint", sandbox.url, "plan", str(config)], tmp_path)
    assert result.exit_code == 0, result.describe()
    read_again(result, "ReadUsers: two users have the email 'user03@example.test'")
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in result.stdout
    assert again.exit_code == 0 and "No changes." in again.stdout, again.describe()


def _moved_while_read(connection: dict[str, Any], _call: Call) -> None:
    """As a portal that reads each account's locations apart shows it while
    someone moves a location from acct-0 to acct-3: the location is listed
    in both."""
    nodes = connection["nodes"]
    nodes[3] = {**nodes[3], "locations": [*nodes[3]["locations"], nodes[0]["locations"][0]]}


def test_a_location_moved_while_read_is_read_again(tmp_path: Path) -> None:
    """A location listed in two accounts in one read (another writer moved
    it while the accounts were read) is read again, as an ID read twice is;
    before, 'location ... is listed in account ... and in account ...'
    stopped the plan at once."""
    config = write_desired(tmp_path)
    case = OnConnection("moved-while-read", "ReadAccounts", _moved_while_read, page=0)
    with (
        seeded_sandbox(tmp_path) as sandbox,
        running_hostile_server(sandbox.url, case) as portal,
    ):
        result = run_konvsync(["--endpoint", portal.endpoint(), "plan", str(config)], tmp_path)
    assert result.exit_code == 0, result.describe()
    read_again(result, "ReadAccounts: location ", "is listed in account ")
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in result.stdout, result.describe()


def _escape_in_a_dangling_reference(connection: dict[str, Any], _call: Call) -> None:
    """The first account, keyed with a terminal escape (the contract's
    ``externalId`` is any string), names a group the read of the groups did
    not show."""
    account = connection["nodes"][0]
    account["externalId"] = "acct-0\x1b[2J\x1b]0;pwned\x07"
    account["userGroups"] = [{"id": "grp_999", "externalId": "ghost"}]


def test_the_warning_of_a_read_made_again_escapes_the_portals_text(tmp_path: Path) -> None:
    """The warning that the portal is read again names what did not add up,
    portal text included: a key holding a terminal escape reached stderr as
    it was (clearing the screen, retitling the window), where every other
    output escapes it (``\x1b``)."""
    config = write_desired(tmp_path)
    case = OnConnection("escape-in-reference", "ReadAccounts", _escape_in_a_dangling_reference, 0)
    with (
        seeded_sandbox(tmp_path) as sandbox,
        running_hostile_server(sandbox.url, case) as portal,
    ):
        result = run_konvsync(["--endpoint", portal.endpoint(), "plan", str(config)], tmp_path)
    assert result.exit_code == 0, result.describe()
    warning = read_again(result, "which the read of groups did not show")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr, repr(result.stderr)
    assert "acct-0\\x1b[2J" in warning, warning


class AnswerLostAndUserEdited(Case):
    """The portal applies the first mutation (the groups step's rename of
    team-1) but answers it with an internal error, and another writer edits
    user05, which the users step updates, at the same time."""

    name = "answer-lost-and-user-edited"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lost = False

    def answer(self, call: Call, answer: Json) -> Json:
        if not call.is_mutation or self.lost:
            return answer
        self.lost = True
        user = self.store.get("users", key="user05@example.test")
        assert user is not None
        self.store.update("users", user["id"], {"title": "Edited by hand"})
        error = {"message": "internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        return {"errors": [error], "data": None}


def test_a_stale_step_after_a_write_of_unknown_outcome_does_not_say_nothing_changed(
    tmp_path: Path,
) -> None:
    """A step found stale after an earlier step's change was sent and failed
    in a way that may have applied it (the portal did apply the rename) is
    a partial failure with its summary (exit 1, --report incomplete), not
    "stale plan ... Nothing was changed" (exit 3), which hid the sent rename."""
    config = write_desired(tmp_path)
    report_file = tmp_path / "report.json"
    with seeded_sandbox(tmp_path) as sandbox:
        case = AnswerLostAndUserEdited(sandbox.store)
        with running_hostile_server(sandbox.url, case) as portal:
            args = ["--max-retries", "0", *apply_args(portal.endpoint(), config)]
            result = run_konvsync([*args, "--report", str(report_file)], tmp_path)
        group = sandbox.store.get("groups", key="team-1")
    assert case.lost, f"the case never happened: {result.describe()}"
    assert group is not None and group["name"] == "Team One", "the rename was not applied"
    assert "Nothing was changed" not in result.output, result.describe()
    assert result.exit_code == 1, result.describe()
    summary = after_plan(result)
    assert "Apply incomplete: 0 done (0 added, 0 changed, 0 destroyed), 2 failed" in summary
    assert "groups/team-1" in summary and "users/user05@example.test" in summary, summary
    report = validated(report_file.read_text(encoding="utf-8"), "apply-report")
    assert report["status"] == "incomplete", report


class MadeWhileRead(Case):
    """The first read of ``operation`` counts one more than it lists
    (another writer made one as it was read); the reads after it add up."""

    name = "made-while-read"

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.reads = 0

    def answer(self, call: Call, answer: Json) -> Json:
        connection = connection_of(answer) if call.operation == self.operation else None
        if connection is not None:
            self.reads += 1
            if self.reads == 1:
                connection["totalCount"] += 1
        return answer


def test_export_target_of_a_kind_read_whole_reads_again(tmp_path: Path) -> None:
    """``export --target`` of an account field (no look-up by key: its kind
    is read whole) reads again a read that does not add up, as ``export``
    does, instead of stopping at the first."""
    case = MadeWhileRead("ReadAccountFields")
    with hostile_portal(tmp_path, case) as portal:
        args = ["--endpoint", portal.endpoint(), "export", "--target", "accountFields/tier"]
        result = run_konvsync(args, tmp_path)
    assert case.reads == 2, result.describe()
    assert result.exit_code == 0, result.describe()
    read_again(result, "ReadAccountFields", "accountFields.totalCount is")
    assert "key: tier" in result.stdout, result.stdout


def test_doctor_reads_again_the_slugs_a_portal_changed_while_read(tmp_path: Path) -> None:
    """``doctor --config`` checks the LMS modules the config names against a
    read of them, made again as every other read is."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\ngroups:\n  - {externalId: g, name: G, lmsModules: [onboarding]}\n",
        encoding="utf-8",
    )
    case = MadeWhileRead("ReadLmsModules")
    with hostile_portal(tmp_path, case) as portal:
        args = ["--endpoint", portal.endpoint(), "doctor", "--config", str(config)]
        result = run_konvsync(args, tmp_path)
    assert case.reads == 2, result.describe()
    assert result.exit_code == 0, result.describe()
    read_again(result, "ReadLmsModules", "lmsModules.totalCount is")
    assert "ok   references: every slug the configuration uses exists" in result.stdout
