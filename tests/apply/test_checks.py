"""What apply checks against the portal (``konvsync/apply/checks.py``), through
the CLI against real sandboxes: the read-back after the run, the re-read
before each step, and answers that must show what was sent.

A second writer is played by a sandbox store that makes one hand edit at a
chosen moment, as a person in the portal UI or another apply would."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from konvsync.sandbox.store import Store, StoreError
from tests.conftest import SandboxFactory, invoke
from tests.hostile.harness import portal_yaml, seeded_sandbox
from tests.hostile.server import Call, Case, Json, running_hostile_server

ConfigWriter = Callable[..., Path]
ROOT = Path(__file__).resolve().parents[2]

USERS = """\
    konvsync: 1
    groups: [{externalId: sales, name: Sales Team}]
    users:
      - {email: a@acme.example, firstName: Ann, lastName: One}
      - {email: b@acme.example, firstName: Bob, lastName: Two}
    """


def _seeded(store: Store) -> Store:
    store.create("groups", {"externalId": "sales", "name": "Sales"})
    store.create("users", {"email": "a@acme.example", "firstName": "A", "lastName": "One"})
    store.create("users", {"email": "b@acme.example", "firstName": "B", "lastName": "Two"})
    return store


class EditsAfterFirstWrite(Store):
    """Another writer: right after the first group update, someone renames a user."""

    def update(self, kind: str, object_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
        result = super().update(kind, object_id, given)
        if kind != "groups":
            return result
        user = self.get("users", key="b@acme.example")
        assert user is not None
        super().update("users", user["id"], {"lastName": "Edited by hand"})
        return result


class EditsAfterRead(Store):
    """Another writer: once the plan has read the users, someone renames one."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def page(self, table: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = super().page(table, *args, **kwargs)
        if table == "users":
            self.reads += 1
            if self.reads == 1:
                user = self.get("users", key="a@acme.example")
                assert user is not None
                super().update("users", user["id"], {"title": "Edited by hand"})
        return result


def test_read_back_catches_a_field_the_portal_silently_kept(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    sandbox = sandbox_factory(_seeded(Store()), ignore_fields=("name",))
    config = write_config(USERS)
    report_file = config.parent / "report.json"
    args = ["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"]
    result = invoke([*args, "--report", str(report_file)])
    assert result.exit_code == 1, result.output
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, json.loads((ROOT / "schemas/apply-report.schema.json").read_text()))
    assert report["status"] == "incomplete"
    assert report["verification"]["status"] == "checked"
    assert report["verification"]["mode"] == "updates"  # the default catches it
    assert report["verification"]["mismatches"] == [
        {
            "address": "groups/sales",
            "action": "update",
            "message": 'has name = "Sales" (wanted "Sales Team")',
        }
    ]
    assert (
        'not as planned: groups/sales (update) has name = "Sales" (wanted "Sales Team") '
        "in the portal after the apply"
    ) in result.stdout
    assert "1 not as planned" in result.stdout
    assert "Apply complete" not in result.stdout
    # Skipped on request: the same silent failure goes unnoticed until the next plan.
    again = invoke(
        ["--endpoint", sandbox.url, "apply", str(config), "--auto-approve", "--no-verify"]
    )
    assert again.exit_code == 0, again.output
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in again.stdout


def test_no_verify_and_another_verify_mode_contradict(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    sandbox = sandbox_factory(_seeded(Store()))
    config = write_config(USERS)
    args = ["--endpoint", sandbox.url, "apply", str(config), "--auto-approve", "--no-verify"]
    result = invoke([*args, "--verify", "full"])
    assert result.exit_code == 1, result.output
    assert "--no-verify and --verify=full contradict each other" in result.stderr
    group = sandbox.store.get("groups", key="sales")
    assert group is not None and group["name"] == "Sales"  # nothing was sent


def test_a_step_whose_objects_moved_since_the_plan_is_not_sent(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    store = _seeded(EditsAfterFirstWrite())
    sandbox = sandbox_factory(store)
    config = write_config(USERS)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 1, result.output
    assert (
        "failed: users/b@acme.example (update): not sent: it changed in the portal since the plan"
    ) in result.stdout
    assert "skipped: users/a@acme.example (update): not sent: the portal changed" in result.stdout
    user_a = store.get("users", key="a@acme.example")
    user_b = store.get("users", key="b@acme.example")
    assert user_a is not None and user_a["firstName"] == "A"  # nothing of the step was sent
    assert user_b is not None and user_b["lastName"] == "Edited by hand"  # not overwritten
    group = store.get("groups", key="sales")
    assert group is not None and group["name"] == "Sales Team"  # the step before went out
    # The next plan shows the hand edit as a change to review.
    plan = invoke(["--endpoint", sandbox.url, "plan", str(config)])
    assert '~ lastName  = "Edited by hand" -> "Two"' in plan.stdout, plan.stdout


def test_a_portal_that_moved_before_the_first_write_is_a_stale_plan(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    store = _seeded(EditsAfterRead())
    store.update("groups", store.get("groups", key="sales")["id"], {"name": "Sales Team"})  # type: ignore[index]
    sandbox = sandbox_factory(store)
    config = write_config(USERS)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(
        "Error: stale plan: users/a@acme.example: it changed in the portal since the plan"
    ), result.stderr
    assert "Nothing was changed" in result.stderr
    user_a = store.get("users", key="a@acme.example")
    assert user_a is not None and user_a["firstName"] == "A"


class CreatesATwin(Store):
    """Another apply of the same config: it creates location Lab too, at the
    same moment as the run under test."""

    def create(
        self,
        kind: str,
        given: Mapping[str, Any],
        parent_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if kind == "locations" and given.get("name") == "Lab":
            super().create(kind, dict(given), parent_id)  # the other writer's copy
        return super().create(kind, given, parent_id, options)


def test_a_location_another_writer_created_at_once_is_not_left_twice(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    store = CreatesATwin()
    account = store.create("accounts", {"externalId": "acme", "name": "ACME"})
    store.create("locations", {"name": "HQ"}, parent_id=account["id"])
    sandbox = sandbox_factory(store)
    config = write_config("""\
        konvsync: 1
        accounts:
          - {externalId: acme, name: ACME, locations: [{name: HQ}, {name: Lab}]}
        """)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 1, result.output
    assert "failed: locations/acme/Lab (create): another writer created it at the same time" in (
        result.stdout
    )
    assert "was deleted again" in result.stdout
    names = [loc["name"] for loc in store.children("locations", account["id"])]
    assert sorted(names) == ["HQ", "Lab"]
    plan = invoke(["--endpoint", sandbox.url, "plan", str(config), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output


class RefusesRenames(Store):
    """A portal that refuses to change a group's externalId (CONFLICT)."""

    def update(self, kind: str, object_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "groups" and "externalId" in given:
            raise StoreError("externalId is taken by a group being deleted", "CONFLICT")
        return super().update(kind, object_id, given)


def test_a_failed_rename_is_not_taken_for_another_writer(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """The users' step checks the portal against the plan's renamed view, in
    which Ann's group is already 'sales-east'; the rename failed, so the
    portal still says 'sales'. That is this run's own doing, not another
    writer's: Ann's title is still sent."""
    store = RefusesRenames()
    group = store.create("groups", {"externalId": "sales", "name": "Sales"})
    store.create(
        "users",
        {"email": "a@acme.example", "firstName": "Ann", "lastName": "One"}
        | {"groupIds": [group["id"]]},
    )
    sandbox = sandbox_factory(store)
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: sales-east, renamedFrom: sales, name: Sales}]
        users:
          - {email: a@acme.example, firstName: Ann, lastName: One, title: Boss}
        """)
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 1, result.output
    assert "failed: groups/sales-east (update)" in result.stdout
    assert "another writer" not in result.output
    assert "changed in the portal since the plan" not in result.output
    user = store.get("users", key="a@acme.example")
    assert user is not None and user["title"] == "Boss"


class SkipsOnFirstRead(Case):
    """The first ``ReadUsers`` pass misses one user and shows one created
    meanwhile in its place, as an offset cursor does when a person deletes a
    user and adds another while konvsync pages through; later reads are
    honest (and the new user is gone again)."""

    name = "first-read-skips-a-user"

    def __init__(self, email: str) -> None:
        self.email = email
        self.done = False

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != "ReadUsers" or self.done:
            return answer
        nodes = ((answer.get("data") or {}).get("users") or {}).get("nodes")
        for node in nodes if isinstance(nodes, list) else []:
            if node.get("email") == self.email:
                self.done = True
                node.update(id="usr_walk_in", email="walk-in@example.test")
        return answer


SKIPPED = "user07@example.test"
UNSEEN = "which the plan did not see: created since, or missed by the plan's read"


def test_an_object_the_plans_read_missed_is_not_said_to_be_created_since(
    tmp_path: Path,
) -> None:
    """Issue 23, item 10: a user the plan's read skipped was planned as a
    create; the re-read before the step (and a saved plan's re-read) finds
    it. The refusal must not claim it was created since the plan."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(portal_yaml(changed=False), encoding="utf-8")
    planfile = tmp_path / "saved.plan"
    case = SkipsOnFirstRead(SKIPPED)
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        endpoint = ["--endpoint", portal.endpoint()]
        direct = invoke([*endpoint, "apply", str(config), "--auto-approve"])
        case.done = False  # the saved plan's read misses the user again
        saved = invoke([*endpoint, "plan", str(config), "--out", str(planfile)])
        applied = invoke([*endpoint, "apply", str(planfile)])
        count = sandbox.store.count("users")
    assert f"users/{SKIPPED} will be created" in direct.stdout, direct.output
    assert direct.exit_code == 3, direct.output
    assert f"users/{SKIPPED}: it exists in the portal (ID " in direct.stderr
    assert saved.exit_code == 0 and f"users/{SKIPPED} will be created" in saved.stdout
    assert applied.exit_code == 3, applied.output
    assert f"stale plan: users/{SKIPPED} exists in the portal (ID " in applied.stderr
    for result in (direct, applied):
        assert UNSEEN in result.stderr
        assert "created since the plan" not in result.output
        assert "changed since the plan" not in result.output
    assert count == 30
