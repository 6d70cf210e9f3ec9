"""``konvsync apply`` through the CLI against real sandboxes: order, every
action, saved plans, partial failure, and convergence under faults."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from konvsync.sandbox.store import Store
from tests.conftest import CliRun, SandboxFactory, invoke

ROOT = Path(__file__).resolve().parents[2]
ConfigWriter = Callable[..., Path]


def apply(sandbox: RunningSandbox, path: Path, *extra: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, "apply", str(path), "--auto-approve", *extra])


def plan_code(sandbox: RunningSandbox, path: Path) -> int:
    return invoke(["--endpoint", sandbox.url, "plan", str(path), "--detailed-exitcode"]).exit_code


def test_quickstart_cold_apply_then_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "quickstart")
    first = invoke(["apply", "quickstart", "--auto-approve"])
    assert first.exit_code == 0, first.output
    assert "Apply complete! Resources: 14 added, 0 changed, 0 destroyed." in first.stdout
    assert "created inviteLinks/Dealer sign-up: url https://" in first.stdout
    assert (tmp_path / ".konvsync" / "sandbox.db").exists()
    new_sandbox = "the sandbox has no data yet: a new one starts in"
    assert f"{new_sandbox} {tmp_path / '.konvsync' / 'sandbox.db'} (under the current folder" in (
        first.stderr
    )
    again = invoke(["plan", "quickstart", "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout and new_sandbox not in again.stderr
    noop = invoke(["apply", "quickstart"])
    assert noop.exit_code == 0 and "No changes." in noop.stdout
    # from another folder: another, empty sandbox, and konvsync says so
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    elsewhere = invoke(["plan", "../quickstart"])
    assert "Plan: 14 to add" in elsewhere.stdout
    assert f"{new_sandbox} {tmp_path / 'elsewhere' / '.konvsync' / 'sandbox.db'}" in (
        elsewhere.stderr
    )


def test_plan_and_apply_share_one_token(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: sales, name: Sales}]
        """)
    result = apply(sandbox, config)
    assert result.exit_code == 0, result.output
    assert sandbox.state.authority.tokens_issued == 1


def test_every_action_end_to_end(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    store = sandbox.store
    store.create("groups", {"name": "Legacy", "permissions": []})  # adopted below
    store.create("groups", {"externalId": "stale", "name": "Stale"})  # pruned
    old = store.create("accounts", {"externalId": "old", "name": "Old Co"})
    store.create("locations", {"name": "Depot"}, parent_id=old["id"])  # deleted with its account
    first = write_config("""\
        konvsync: 1
        policy: {prune: [groups, accounts, users]}
        groups:
          - {externalId: legacy, name: Legacy, permissions: [MANAGE_NEWS]}
          - {externalId: sales, name: Sales}
        accounts:
          - externalId: acme
            name: ACME
            userGroups: [sales]
            locations: [{name: HQ, phone: "1"}, {name: Lab}]
        users:
          - {email: a@acme.example, firstName: A, lastName: One, account: acme, groups: [sales]}
        """)
    result = apply(sandbox, first)
    assert result.exit_code == 0, result.output
    assert "Apply complete! Resources: 5 added, 1 changed, 3 destroyed." in result.stdout
    assert store.count("groups") == 2 and store.count("accounts") == 1
    assert {g["externalId"] for g in store.page("groups", 100, None)["nodes"]} == {
        "legacy",
        "sales",
    }
    assert store.count("locations") == 2
    assert plan_code(sandbox, first) == 0
    second = write_config(
        first.read_text()
        .replace('[{name: HQ, phone: "1"}, {name: Lab}]', '[{name: HQ, phone: "2"}, {name: Annex}]')
        .replace("firstName: A,", "firstName: Ann,")
    )
    result = apply(sandbox, second)
    assert result.exit_code == 0, result.output
    assert "Resources: 1 added, 2 changed, 1 destroyed." in result.stdout
    names = {
        loc["name"] for loc in store.children("locations", store.get("accounts", key="acme")["id"])
    }  # type: ignore[index]
    assert names == {"HQ", "Annex"}
    assert plan_code(sandbox, second) == 0
    third = write_config("""\
        konvsync: 1
        policy: {prune: [groups, accounts, users]}
        groups:
          - {externalId: legacy, name: Legacy, permissions: [MANAGE_NEWS]}
        accounts: []
        users: []
        """)
    result = apply(sandbox, third)
    assert result.exit_code == 0, result.output
    assert "Resources: 0 added, 0 changed, 5 destroyed." in result.stdout
    assert store.count("locations") == 0 and store.count("users") == 0
    assert plan_code(sandbox, third) == 0


def test_created_references_use_new_ids_and_welcome_emails(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: g, name: G}]
        accounts: [{externalId: a, name: A, userGroups: [g]}]
        users:
          - {email: u1@a.example, firstName: U, lastName: One, account: a, groups: [g]}
          - {email: u2@a.example, firstName: U, lastName: Two}
        """)
    result = apply(sandbox, config)
    assert result.exit_code == 0, result.output
    assert "2 new user(s) will receive a welcome e-mail" in result.stdout
    assert sandbox.store.welcome_emails() == ["u1@a.example", "u2@a.example"]
    user = sandbox.store.get("users", key="u1@a.example")
    assert user is not None and user["groups"] and user["account"]
    quiet = write_config(
        config.read_text()
        .replace("konvsync: 1\n", "konvsync: 1\npolicy: {send_welcome_email: false}\n")
        .replace("u2@", "u3@")
    )
    apply(sandbox, quiet)
    assert sandbox.store.welcome_emails() == ["u1@a.example", "u2@a.example"]


def test_saved_plan_is_applied_as_reviewed_or_refused_when_stale(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    store = sandbox.store
    store.create("groups", {"externalId": "g", "name": "Old"})
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: New}]\n")
    planfile = tmp_path / "reviewed.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0
    group = store.get("groups", key="g")
    assert group is not None
    store.update("groups", group["id"], {"name": "Changed by hand"})
    before = dict(sandbox.state.requests)
    stale = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert stale.exit_code == 3
    assert stale.stderr.strip() == (
        "Error: stale plan: groups/g changed since the plan was made; run plan again"
    )
    assert store.get("groups", key="g")["name"] == "Changed by hand"  # type: ignore[index]
    mutations = sandbox.state.requests["/api"] - before.get("/api", 0)
    assert mutations == 2  # the viewer and the re-read, nothing else
    fresh = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert fresh.exit_code == 0
    applied = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert applied.exit_code == 0, applied.output
    assert "Resources: 0 added, 1 changed, 0 destroyed." in applied.stdout
    assert store.get("groups", key="g")["name"] == "New"  # type: ignore[index]
    other = invoke(["--endpoint", "sandbox", "apply", str(planfile)])
    assert other.exit_code == 3 and "made for endpoint" in other.stderr
    document = json.loads(planfile.read_text())
    document["planfile"] = "konvsync-plan/99"
    planfile.write_text(json.dumps(document))
    future = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert future.exit_code == 3 and "run plan again" in future.stderr


def test_a_saved_plan_is_read_through_its_json_schema(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: New}]\n")
    planfile = tmp_path / "edited.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0, made.output
    document = json.loads(planfile.read_text())
    document["plan"]["changes"][0]["action"] = "replace"
    planfile.write_text(json.dumps(document))
    edited = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert edited.exit_code == 1
    assert edited.stderr.strip() == (
        f"Error: {planfile}: damaged konvsync plan file (plan/changes/0/action: 'replace' is "
        "not one of ['create', 'update', 'delete']); run plan again"
    )
    assert sandbox.store.count("groups") == 0


def test_a_saved_plans_edited_create_is_held_to_its_values_as_the_portal_compares_them(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A create's values in a plan file edited by hand (surrounding spaces, a
    set in another order) are those of a plan: a portal that stores strings
    trimmed and answers sets in its own order (the contract leaves it both)
    kept what was sent, and the run says so."""
    sandbox = sandbox_factory(readings=readings.named(["trim", "reversed"]))
    config = write_config(
        "konvsync: 1\ngroups: [{externalId: g, name: New, permissions: [MANAGE_NEWS]}]\n"
    )
    planfile = tmp_path / "edited.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0, made.output
    document = json.loads(planfile.read_text())
    after = document["plan"]["changes"][0]["after"]
    after["name"] = "  Newer  "
    after["permissions"] = ["MANAGE_USERS", "MANAGE_NEWS"]
    planfile.write_text(json.dumps(document))
    applied = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied.stdout
    (group,) = sandbox.store.page("groups", 10, None)["nodes"]
    assert group["name"] == "Newer"
    assert sorted(group["permissions"]) == ["MANAGE_NEWS", "MANAGE_USERS"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("read_kinds", 0),
        ("read_kinds", ["groups", ["users"]]),
        ("read_kinds", ["groups", "nonsense"]),
        ("read_kinds", ["groups", "groups"]),
        ("remote_digests", -1),
        ("remote_digests", {'["groups", "g"]': ["sha256:0"]}),
        ("sensitive", [{}]),
        ("sensitive", {"salt": "s", "values": {'["groups", "g"]': {"code": "x"}}}),
        ("config_digest", None),
        ("send_welcome_email", "no"),
    ],
)
def test_a_saved_plan_whose_other_parts_are_edited_is_damaged_not_a_crash(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, field: str, value: object
) -> None:
    """What the file keeps beside the plan (the kinds read, the digests of
    the objects touched, the sensitive values' variables) is checked as the
    plan is: an edited one is a damaged plan file, nothing sent, not an
    "unexpected" error."""
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: New}]\n")
    planfile = tmp_path / "edited.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0, made.output
    document = json.loads(planfile.read_text())
    document[field] = value
    planfile.write_text(json.dumps(document))
    for args in (["apply", "--auto-approve", str(planfile)], ["show", str(planfile)]):
        edited = invoke(["--endpoint", sandbox.url, *args])
        assert edited.exit_code == 1, edited.output
        assert edited.stderr.startswith(f"Error: {planfile}: damaged konvsync plan file ("), (
            edited.stderr
        )
        assert edited.stderr.count("\n") == 1
    assert sandbox.store.count("groups") == 0


@pytest.mark.parametrize(
    ("edit", "code", "says"),
    [
        ({"planfile": "konvsync-plan/99"}, 3, "made by another konvsync release"),
        # The release before kept no objects outside the scope its warnings concern.
        ({"planfile": "konvsync-plan/2"}, 3, "made by another konvsync release"),
        # The release before kept a quick digest of each sensitive value.
        ({"planfile": "konvsync-plan/3"}, 3, "made by another konvsync release"),
        ({"planfile": "konvsync-plan/" + "9" * 5000}, 3, "made by another konvsync release"),
        ({"planfile": None}, 1, "damaged konvsync plan file (planfile: None"),
        ({"planfile": ["konvsync-plan/2"]}, 1, "damaged konvsync plan file (planfile:"),
        ({"format_version": "99"}, 3, "not supported by this release"),
        ({"format_version": None}, 1, "damaged konvsync plan file (plan/format_version: None"),
        ({"format_version": 2}, 1, "damaged konvsync plan file (plan/format_version: 2"),
    ],
)
def test_a_plan_file_of_another_release_is_stale_a_damaged_one_is_an_error(
    sandbox: RunningSandbox,
    write_config: ConfigWriter,
    tmp_path: Path,
    edit: dict[str, object],
    code: int,
    says: str,
) -> None:
    """Exit 3 (refused, run plan again) is for a plan file another release
    wrote, which names its format; a format that is no name at all (null,
    a list) is a damaged file (exit 1), not a file of another release."""
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: New}]\n")
    planfile = tmp_path / "edited.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0, made.output
    document = json.loads(planfile.read_text())
    if "format_version" in edit:
        document["plan"]["format_version"] = edit["format_version"]
    else:
        document.update(edit)
    planfile.write_text(json.dumps(document))
    for args in (["apply", "--auto-approve", str(planfile)], ["show", str(planfile)]):
        result = invoke(["--endpoint", sandbox.url, *args])
        assert result.exit_code == code, result.output
        assert says in result.stderr, result.stderr
        assert len(result.stderr) < 500, result.stderr  # a long name is shortened
    assert sandbox.store.count("groups") == 0


def test_partial_failure_skips_dependents_and_a_rerun_converges(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    store = sandbox.store
    field = store.create("accountFields", {"key": "vat", "label": "VAT", "type": "TEXT"})
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: g, name: G}]
        accounts: [{externalId: broken, name: Broken}]
        users:
          - {email: in@broken.example, firstName: I, lastName: N, account: broken}
          - {email: free@x.example, firstName: F, lastName: R, groups: [g]}
        """)
    planfile = tmp_path / "saved.plan"
    assert (
        invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)]).exit_code
        == 0
    )
    # After the plan, the field becomes required (the plan checked it when it was not).
    store.update("accountFields", field["id"], {"required": True})
    result = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert result.exit_code == 1
    assert (
        "failed: accounts/broken (create): custom field 'vat' is required (BAD_USER_INPUT)"
        in result.stdout
    )
    assert (
        "skipped: users/in@broken.example (create): depends on accounts/broken, which "
        "failed" in result.stdout
    )
    assert (
        "Apply incomplete: 2 done (2 added, 0 changed, 0 destroyed), 1 failed, 1 skipped.\n"
        in result.stdout
    )
    # A permanent error: another run would meet it again, so it is not suggested.
    assert "Run apply again" not in result.stdout
    assert (
        "2 of them failed or were skipped for reasons another run meets again "
        "(BAD_USER_INPUT): correct the configuration or the portal first." in result.stdout
    )
    assert store.get("users", key="free@x.example") is not None
    # The plan now says what the portal would refuse, before anything is sent.
    refused = apply(sandbox, config)
    assert refused.exit_code == 1
    assert (
        f"{config}:3:12: account 'broken': custom field 'vat' is required, and the account "
        "is created without customFields" in refused.stderr
    )
    store.update("accountFields", field["id"], {"required": False})
    rerun = apply(sandbox, config)
    assert rerun.exit_code == 0, rerun.output
    assert "Resources: 2 added, 0 changed, 0 destroyed." in rerun.stdout
    assert plan_code(sandbox, config) == 0


def test_children_deleted_with_their_parent_follow_its_outcome(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A location deleted with its pruned account is done only when the
    account's delete is: when that fails, the location is still there."""
    store = Store()
    old = store.create("accounts", {"externalId": "old", "name": "Old Co"})
    store.create("locations", {"name": "Depot"}, parent_id=old["id"])
    config = write_config("""\
        konvsync: 1
        policy: {prune: [accounts]}
        accounts: []
        """)
    report = tmp_path / "report.json"
    refusing = sandbox_factory(store, read_only=True)
    result = apply(refusing, config, "--report", str(report))
    assert result.exit_code == 1, result.output
    assert "failed: accounts/old (delete)" in result.stdout
    assert (
        "skipped: locations/old/Depot (delete): depends on accounts/old, which failed"
        in result.stdout
    )
    assert "0 done (0 added, 0 changed, 0 destroyed), 1 failed, 1 skipped" in result.stdout
    statuses = {c["address"]: c["status"] for c in json.loads(report.read_text())["changes"]}
    assert statuses == {"accounts/old": "failed", "locations/old/Depot": "skipped"}
    assert store.count("locations") == 1
    writing = sandbox_factory(store)
    result = apply(writing, config)
    assert result.exit_code == 0, result.output
    assert "Resources: 0 added, 0 changed, 2 destroyed." in result.stdout
    assert store.count("locations") == 0


def test_apply_never_hangs_without_a_terminal(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    result = invoke(["--endpoint", sandbox.url, "apply", str(config)], input="yes\n")
    assert result.exit_code == 1
    assert "stdin is not a terminal; pass --auto-approve" in result.stderr
    assert sandbox.store.count("groups") == 0


def test_batches_and_parallelism(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    groups = "\n".join(f"  - {{externalId: g{i}, name: G{i}}}" for i in range(120))
    config = write_config(f"konvsync: 1\ngroups:\n{groups}\n")
    result = apply(sandbox, config, "--batch-size", "50", "--parallelism", "2")
    assert result.exit_code == 0, result.output
    assert "groups: create/update: 120 change(s)" in result.stderr  # progress, not a TTY
    assert sandbox.store.count("groups") == 120
    # viewer, read; the schema check before the first write (introspection);
    # the step's re-read (an empty kind: one page); ceil(120 / 50) creates;
    # no read-back: creates rest on their answers under the default --verify
    assert sandbox.state.requests["/api"] == 2 + 1 + 1 + 3


def test_verify_full_reads_back_what_was_created(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    groups = "\n".join(f"  - {{externalId: g{i}, name: G{i}}}" for i in range(120))
    config = write_config(f"konvsync: 1\ngroups:\n{groups}\n")
    result = apply(sandbox, config, "--batch-size", "50", "--parallelism", "2", "--verify", "full")
    assert result.exit_code == 0, result.output
    # as above, and the read-back of 120 groups (two pages)
    assert sandbox.state.requests["/api"] == 2 + 1 + 1 + 3 + 2


def _big_config(users: int, accounts: int, groups: int) -> str:
    lines = ["konvsync: 1", "policy: {send_welcome_email: false}", "groups:"]
    lines += [
        f"  - {{externalId: g{i}, name: Group {i}, permissions: [MANAGE_USERS]}}"
        for i in range(groups)
    ]
    lines.append("accounts:")
    lines += [
        f"  - {{externalId: a{i}, name: Account {i}, userGroups: [g{i % groups}], "
        f"locations: [{{name: HQ, phone: '{i}'}}]}}"
        for i in range(accounts)
    ]
    lines.append("users:")
    lines += [
        f"  - {{email: u{i}@example.com, firstName: U{i}, lastName: L, account: "
        f"a{i % accounts}, groups: [g{i % groups}]}}"
        for i in range(users)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_convergence_under_faults(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, seed: int
) -> None:
    sandbox = sandbox_factory(fail_rate=0.2, drop_after_commit_rate=0.1, rate_limit=50, seed=seed)
    config = write_config(_big_config(500, 50, 20))
    result = apply(sandbox, config)
    assert result.exit_code == 0, result.output[-2000:]
    assert "Apply complete! Resources: 620 added, 0 changed, 0 destroyed." in result.stdout
    store = sandbox.store
    assert (
        store.count("groups"),
        store.count("accounts"),
        store.count("locations"),
        store.count("users"),
    ) == (20, 50, 50, 500)
    emails = [u["email"] for u in store.page("users", 100, None)["nodes"]]
    assert len(emails) == len(set(emails))
    assert sandbox.state.requests["dropped"] > 0 and sandbox.state.requests["503"] > 0
    assert plan_code(sandbox, config) == 0


def test_ctrl_c_stops_new_work_reports_and_a_rerun_converges(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    sandbox = sandbox_factory(latency_ms=150)
    config = write_config(_big_config(400, 10, 5))
    env = {
        **os.environ,
        "KONVERT_API_KEY": "sandbox-key",
        "KONVERT_API_SECRET": "sandbox-secret-not-for-production",
        "NO_COLOR": "1",
    }
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:  # files: a full pipe would block
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "konvsync",
                "--endpoint",
                sandbox.url,
                "apply",
                str(config),
                "--auto-approve",
                "--parallelism",
                "1",
                "--batch-size",
                "20",
            ],
            stdout=out,
            stderr=err,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 60
        while sandbox.store.count("users") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert process.returncode == 1, stdout[-2000:] + stderr
    assert "Apply interrupted: no new work was sent after Ctrl-C" in stdout
    assert "skipped: users/" in stdout and "not sent: interrupted" in stdout
    assert "Run apply again to finish." in stdout  # interrupted: another run finishes
    created = sandbox.store.count("users")
    assert 0 < created < 400
    done = int(stdout.rsplit("Apply incomplete: ", 1)[1].split(" done")[0])
    assert done == 5 + 10 + 10 + created  # groups, accounts, locations, users so far
    rerun = apply(sandbox, config)
    assert rerun.exit_code == 0, rerun.output
    assert f"Resources: {400 - created} added, 0 changed, 0 destroyed." in rerun.stdout


@pytest.mark.parametrize(("answer", "code"), [("yes", 0), ("no", 1)])
def test_apply_asks_on_a_terminal(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, answer: str, code: int
) -> None:
    import os
    import pty
    import subprocess
    import sys
    import time

    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    env = {
        **os.environ,
        "KONVERT_API_KEY": "sandbox-key",
        "KONVERT_API_SECRET": "sandbox-secret-not-for-production",
        "NO_COLOR": "1",
    }
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "konvsync", "--endpoint", sandbox.url, "apply", str(config)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=tmp_path,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 30
    while b"Only 'yes' will be accepted" not in seen and time.monotonic() < deadline:
        seen += os.read(controller, 4096)
    os.write(controller, f"{answer}\n".encode())
    # Read to the terminal's end (EIO once the process has exited and its
    # output is drained), not only while it runs: what it printed last may
    # still be in the terminal's buffer when it exits.
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=30)
    os.close(controller)
    text = seen.decode()
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in text
    assert process.returncode == code, text
    if answer == "yes":
        assert "Apply complete! Resources: 1 added" in text
        assert sandbox.store.count("groups") == 1
    else:
        assert "Apply cancelled." in text
        assert sandbox.store.count("groups") == 0


def test_references_to_adopted_objects_resolve_in_the_same_run(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    store = sandbox.store
    group = store.create("groups", {"name": "Dealers"})  # no externalId: adopted below
    account = store.create("accounts", {"name": "ACME"})
    store.create("locations", {"name": "HQ", "phone": "1"}, parent_id=account["id"])
    config = write_config("""\
        konvsync: 1
        groups: [{externalId: dealers, name: Dealers}]
        accounts:
          - {externalId: acme, name: ACME, userGroups: [dealers],
             locations: [{name: HQ, phone: "2"}, {name: Lab}]}
        users:
          - {email: u@acme.example, firstName: U, lastName: V, account: acme, groups: [dealers]}
        """)
    result = apply(sandbox, config)
    assert result.exit_code == 0, result.output
    assert "Resources: 2 added, 3 changed, 0 destroyed." in result.stdout
    assert store.count("groups") == 1 and store.count("accounts") == 1
    user = store.get("users", key="u@acme.example")
    assert user is not None and list(user["groups"]) == [group["_pk"]]
    assert user["account"] == account["_pk"]
    assert plan_code(sandbox, config) == 0


RENAMED_FIELDS = """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: SELECT, options: [gold, silver]}
  - {key: num, label: Number, type: TEXT}
accounts:
  - {externalId: acme, name: ACME, customFields: {tier: gold, num: A-1}}
"""


def test_renamed_fields_and_new_values_in_one_apply_on_a_portal_that_keeps_values(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    """Account fields renamed while the same apply gives the accounts new
    values under the new keys, on a portal that leaves values under an old
    key (sandbox reading "values-stay"): one apply, complete, converged."""
    sandbox = sandbox_factory(readings=readings.named(["values-stay"]))
    config = write_config(RENAMED_FIELDS)
    assert apply(sandbox, config).exit_code == 0
    renamed = write_config(
        RENAMED_FIELDS.replace("{key: tier,", "{key: level, renamedFrom: tier,")
        .replace("{key: num,", "{key: number, renamedFrom: num,")
        .replace("{tier: gold, num: A-1}", "{level: silver, number: A-2}")
    )
    result = apply(sandbox, renamed)
    assert plan_code(sandbox, renamed) == 0  # the portal is as planned either way
    assert "not as planned" not in result.output
    assert result.exit_code == 0, result.output
    assert "Apply complete!" in result.stdout


def test_an_apply_with_nothing_to_do_still_shows_the_configs_warnings(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """``apply`` with no changes printed "No changes." alone: a look-alike
    key's warning, which plan shows, was never seen by a pipeline that
    only applies."""
    config = write_config('konvsync: 1\ngroups: [{externalId: "sales\\u200b", name: Sales}]\n')
    first = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert first.exit_code == 0, first.output
    for extra in ([], ["--quiet"]):
        again = invoke(["--endpoint", sandbox.url, *extra, "apply", str(config), "--auto-approve"])
        assert again.exit_code == 0, again.output
        assert "No changes." in again.stdout
        assert "Warning: " in again.stdout and "U+200B ZERO WIDTH SPACE" in again.stdout


def test_a_rail_option_with_a_saved_plan_is_refused_not_ignored(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """``apply PLANFILE --allow-mass-delete`` was silently ignored: the rails
    act when a plan is made (a refused plan is not saved)."""
    config = write_config("konvsync: 1\ngroups: [{externalId: sales, name: Sales}]\n")
    planfile = tmp_path / "plan.json"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0, made.output
    for option in (
        ["--allow-mass-delete"],
        ["--allow-mass-update"],
        ["--allow-welcome-emails", "5"],
    ):
        result = invoke(["--endpoint", sandbox.url, "apply", str(planfile), *option])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(
            f"Error: {option[0]} cannot be used with a saved plan: its rails were checked"
        ), result.stderr
    assert sandbox.store.get("groups", key="sales") is None
    applied = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert applied.exit_code == 0, applied.output


def test_a_saved_plan_for_another_endpoint_is_refused_before_connecting(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """``apply PLANFILE --endpoint X`` for a plan made for another endpoint
    is stale (exit 3) before anything connects: X may be down (it is here:
    nothing listens on port 9), or ``sandbox``, which would make a local
    sandbox file, and it is never read."""
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    planfile = tmp_path / "reviewed.plan"
    made = invoke(["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)])
    assert made.exit_code == 0, made.output
    down = invoke(["--endpoint", "http://127.0.0.1:9", "--insecure-http", "apply", str(planfile)])
    assert down.exit_code == 3, down.output
    assert down.stderr.strip() == (
        f"Error: stale plan: it was made for endpoint {sandbox.url!r}, not "
        "'http://127.0.0.1:9'; run plan again"
    )
