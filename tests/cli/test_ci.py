"""CLI output made for CI, through the real CLI against real sandboxes:
refused plans shown in full, ``show``, ``apply --report`` (validated against
its schema), ``validate --format github|json``, ``--target`` checks,
``--quiet``, progress in a pipe, SIGTERM during apply, shell completion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.apply.test_executor import _big_config
from tests.conftest import KEY, SECRET, CliRun, SandboxFactory, invoke
from tests.hostile.server import Call, Case, Json, running_hostile_server
from tests.published_schemas import validated

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
ConfigWriter = Callable[..., Path]
KONVSYNC = [sys.executable, "-m", "konvsync"]


def run(sandbox: RunningSandbox, *args: str, env: dict[str, str] | None = None) -> CliRun:
    command, *rest = args
    return invoke(["--endpoint", sandbox.url, command, *rest], env=env)


def schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((SCHEMAS / name).read_text())
    return loaded


def twelve_groups_and_a_config_keeping_two(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> Path:
    for i in range(12):
        sandbox.store.create("groups", {"externalId": f"g{i}", "name": f"G{i}"})
    return write_config("""\
        konvsync: 1
        policy: {prune: [groups]}
        groups:
          - {externalId: g0, name: G0}
          - {externalId: g1, name: Renamed}
          - {externalId: new, name: New}
        """)


# ------------------------------------------------------------ refused plans


def test_a_refused_plan_is_shown_in_full_with_the_reason_at_the_top(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = twelve_groups_and_a_config_keeping_two(sandbox, write_config)
    reason = "refusing to delete 10 of 12 groups (83.3%): more than max_delete_percent 25%"

    text = run(sandbox, "plan", str(config), "--out", str(tmp_path / "p.plan"))
    assert text.exit_code == 3
    assert text.stdout.startswith(f"Refused: {reason}")
    assert "# groups/g5 will be destroyed" in text.stdout
    assert "# groups/new will be created" in text.stdout
    assert '~ name = "G1" -> "Renamed"' in text.stdout
    assert text.stdout.rstrip().endswith("Plan: 1 to add, 1 to change, 10 to destroy.")
    assert f"Error: {reason}" in text.stderr
    assert "p.plan was not written" in text.stderr
    assert not (tmp_path / "p.plan").exists()

    markdown = run(sandbox, "plan", str(config), "--format", "markdown")
    assert markdown.exit_code == 3
    head = markdown.stdout.split("| kind |")[0]
    assert "> [!CAUTION]" in head and f"**Refused:** {reason}" in head
    assert "- groups/g5" in markdown.stdout and "+ groups/new" in markdown.stdout

    as_json = run(sandbox, "plan", str(config), "--format", "json")
    assert as_json.exit_code == 3
    data = json.loads(as_json.stdout)
    jsonschema.validate(data, schema("plan.schema.json"))
    assert data["refused"]["check"] == "mass_delete"
    assert data["refused"]["reason"].startswith(reason)
    assert data["refused"]["numbers"] == {
        "max_delete_percent": 25.0,
        "kinds": {"groups": {"delete": 10, "existing": 12, "percent": 83.3}},
    }
    assert data["summary"] == {"add": 1, "change": 1, "destroy": 10}

    report_file = tmp_path / "report.json"
    applied = run(sandbox, "apply", str(config), "--auto-approve", "--report", str(report_file))
    assert applied.exit_code == 3
    assert applied.stdout.startswith(f"Refused: {reason}")
    assert sandbox.store.count("groups") == 12
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "refused" and report["changes"] == []
    assert report["error"]["code"] == "unsafe_plan"
    assert report["error"]["message"].startswith(reason)
    assert report["summary"]["planned"] == 12


def test_a_portal_guard_refusal_shows_the_plan_too(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        portal: Another Portal
        groups: [{externalId: g, name: G}]
        """)
    result = run(sandbox, "plan", str(config), "--format", "json", "--detailed-exitcode")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    jsonschema.validate(data, schema("plan.schema.json"))
    assert data["refused"]["check"] == "portal_guard"
    assert "the config is for 'Another Portal'" in data["refused"]["reason"]
    assert [c["key"] for c in data["changes"]] == ["g"]


def test_a_plan_that_is_not_refused_has_no_refused_key(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    result = run(sandbox, "plan", str(config), "--format", "json")
    assert result.exit_code == 0
    assert "refused" not in json.loads(result.stdout)


# --------------------------------------------------------------------- show


def test_show_renders_a_saved_plan_as_plan_printed_it(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = twelve_groups_and_a_config_keeping_two(sandbox, write_config)
    planfile = tmp_path / "reviewed.plan"
    printed = {
        fmt: run(
            sandbox,
            "plan",
            str(config),
            "--allow-mass-delete",
            "--format",
            fmt,
            "--out",
            str(planfile),
        )
        for fmt in ("text", "json", "markdown")
    }
    for fmt, made in printed.items():
        assert made.exit_code == 0, made.output
        shown = invoke(["show", str(planfile), "--format", fmt])
        assert shown.exit_code == 0, shown.output
        assert shown.stdout == made.stdout, fmt
    assert invoke(["show", str(planfile)]).stdout == printed["text"].stdout


def test_show_rejects_what_is_not_a_plan_file(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config("konvsync: 1\n")
    not_a_plan = tmp_path / "list.json"
    not_a_plan.write_text("[1, 2]")
    for path, message in [
        (config, "not a readable konvsync plan file"),
        (not_a_plan, "not a konvsync plan file"),
        (tmp_path / "missing.plan", "no such file"),
    ]:
        result = invoke(["show", str(path)])
        assert result.exit_code == 1, result.output
        assert message in result.stderr and "Traceback" not in result.output


# ----------------------------------------------------------- apply --report


def test_apply_report_lists_every_change_with_created_ids(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    old = sandbox.store.create("groups", {"externalId": "old", "name": "Old"})
    kept = sandbox.store.create("groups", {"externalId": "kept", "name": "Kept"})
    config = write_config("""\
        konvsync: 1
        policy: {prune: [groups]}
        groups:
          - {externalId: kept, name: Kept renamed}
          - {externalId: new, name: New}
        """)
    report_file = tmp_path / "out" / "report.json"
    result = run(sandbox, "apply", str(config), "--auto-approve", "--report", str(report_file))
    assert result.exit_code == 0, result.output
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "complete" and report["error"] is None
    assert report["summary"] == {
        "planned": 3,
        "done": 3,
        "failed": 0,
        "skipped": 0,
        "added": 1,
        "changed": 1,
        "destroyed": 1,
        "pending": 0,
    }
    by_address = {c["address"]: c for c in report["changes"]}
    created = sandbox.store.get("groups", key="new")
    assert created is not None
    assert by_address["groups/new"]["id"] == created["id"]
    assert by_address["groups/new"]["action"] == "create"
    assert by_address["groups/kept"]["id"] == kept["id"]
    assert by_address["groups/old"] == {
        "address": "groups/old",
        "kind": "groups",
        "key": "old",
        "parent": None,
        "action": "delete",
        "status": "done",
        "message": None,
        "error": None,
        "id": old["id"],
    }
    again = run(sandbox, "apply", str(config), "--auto-approve", "--report", str(report_file))
    assert again.exit_code == 0
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "no_changes" and report["changes"] == []


def test_apply_report_of_a_partial_failure_has_error_codes(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config("""\
        konvsync: 1
        accounts: [{externalId: broken, name: Broken}]
        users:
          - {email: in@broken.example, firstName: I, lastName: N, account: broken}
        """)
    plan_file = tmp_path / "reviewed.plan"
    assert run(sandbox, "plan", str(config), "--out", str(plan_file)).exit_code == 0
    # The portal gains a required field after the review (plan checks it, the
    # saved plan cannot): the account's create fails there.
    sandbox.store.create(
        "accountFields", {"key": "vat", "label": "VAT", "type": "TEXT", "required": True}
    )
    report_file = tmp_path / "report.json"
    result = run(sandbox, "apply", str(plan_file), "--report", str(report_file))
    assert result.exit_code == 1
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "incomplete"
    by_address = {c["address"]: c for c in report["changes"]}
    failed = by_address["accounts/broken"]
    assert failed["status"] == "failed" and failed["id"] is None
    assert failed["error"]["code"] == "BAD_USER_INPUT"
    assert "custom field 'vat' is required" in failed["error"]["message"]
    skipped = by_address["users/in@broken.example"]
    assert skipped["status"] == "skipped" and skipped["error"] is None
    assert "depends on accounts/broken" in skipped["message"]


def test_an_unwritable_report_stops_the_apply_before_it_changes_anything(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """The report is written from the start (status in_progress): a path that
    cannot be written is found before anything is sent, not after."""
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    unwritable = str(config / "report.json")  # below a file
    result = run(sandbox, "apply", str(config), "--auto-approve", "--report", unwritable)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: cannot write {config}"), result.stderr
    assert "Traceback" not in result.output
    assert sandbox.store.count("groups") == 0
    stale = run(sandbox, "apply", str(tmp_path / "missing.plan"), "--report", unwritable)
    assert stale.exit_code == 1
    assert len(stale.stderr.splitlines()) == 1
    assert stale.stderr.startswith(f"Error: cannot write {config}"), stale.stderr


def test_apply_report_of_a_stale_plan_says_refused(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    group = sandbox.store.create("groups", {"externalId": "g", "name": "G"})
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: New name}]\n")
    planfile, report_file = tmp_path / "p.plan", tmp_path / "report.json"
    assert run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
    sandbox.store.update("groups", group["id"], {"name": "Changed by hand"})
    result = run(sandbox, "apply", str(planfile), "--report", str(report_file))
    assert result.exit_code == 3
    reason = "stale plan: groups/g changed since the plan was made; run plan again"
    assert result.stdout.startswith(f"Refused: {reason}")
    assert '~ name = "G" -> "New name"' in result.stdout
    assert result.stderr.endswith(f"Error: {reason}\n")
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "refused"
    assert report["error"]["code"] == "stale_plan"
    assert "groups/g changed since the plan was made" in report["error"]["message"]


def test_a_saved_plan_whose_variable_changed_is_shown_and_reported_as_a_stale_one(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A sensitive variable that changed since the plan is a stale plan (exit
    3) as an object that moved is: the plan is shown with the reason at the
    top, and the report names the endpoint and counts what was planned.
    Before, the report said 0 planned on no endpoint, and no plan was shown."""
    config = write_config("""\
        konvsync: 1
        variables: [LINK_CODE]
        groups: [{externalId: g, name: G}]
        inviteLinks: [{title: Join, access: CODE, code: "${env:LINK_CODE}", groups: [g]}]
        """)
    planfile, report_file = tmp_path / "p.plan", tmp_path / "report.json"
    made = run(sandbox, "plan", str(config), "--out", str(planfile), env={"LINK_CODE": "c-1234"})
    assert made.exit_code == 0, made.output
    result = run(
        sandbox, "apply", str(planfile), "--report", str(report_file), env={"LINK_CODE": "c-999"}
    )
    assert result.exit_code == 3, result.output
    reason = (
        "inviteLinks/Join: code came from ${env:LINK_CODE}, whose value changed since the "
        "plan was made; nothing was changed; run plan again"
    )
    assert result.stdout.startswith(f"Refused: {reason}"), result.stdout
    assert '+ group "g" {' in result.stdout
    assert result.stderr.endswith(f"Error: {reason}\n")
    report = json.loads(report_file.read_text())
    assert report["status"] == "refused" and report["error"]["code"] == "stale_plan"
    assert report["endpoint"] == sandbox.url and report["summary"]["planned"] == 2, report
    assert sandbox.store.count("groups") == 0


class _GroupsUnreadableAfterThePlan(Case):
    """The portal answers the plan's read of the groups, and an error to
    every read after it."""

    name = "groups-unreadable-after-the-plan"

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation != "ReadGroups" or call.index == 0:
            return answer
        return {"data": None, "errors": [{"message": "boom", "extensions": {"code": "INTERNAL"}}]}


def test_the_report_of_a_saved_plan_that_fails_before_it_runs_counts_what_was_planned(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """An error before a saved plan's first change (its re-read fails) is
    reported with the plan's endpoint and counts, as the same error in an
    apply of a config is. Before, a saved plan's report said 0 planned on
    endpoint null whatever stopped it."""
    config = write_config(
        "konvsync: 1\ngroups: [{externalId: g, name: G}, {externalId: h, name: H}]\n"
    )
    planfile, report_file = tmp_path / "p.plan", tmp_path / "report.json"
    with running_hostile_server(sandbox.url, _GroupsUnreadableAfterThePlan()) as portal:
        made = invoke(["--endpoint", portal.url, "plan", str(config), "--out", str(planfile)])
        assert made.exit_code == 0, made.output
        result = invoke(
            ["--endpoint", portal.url, "apply", str(planfile), "--report", str(report_file)]
        )
    assert result.exit_code == 1, result.output
    report = json.loads(report_file.read_text())
    assert report["status"] == "error", report
    assert report["endpoint"] == portal.url and report["summary"]["planned"] == 2, report
    assert sandbox.store.count("groups") == 0


# ---------------------------------------------------------------- --target


def test_target_with_a_saved_plan_is_a_usage_error(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    planfile = tmp_path / "p.plan"
    assert run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
    result = run(sandbox, "apply", str(planfile), "--target", "groups")
    assert result.exit_code == 1
    assert "--target cannot be used with a saved plan" in result.stderr
    assert sandbox.store.count("groups") == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("users", "--target users: neither the configuration nor the portal has any users"),
        ("groups/typo", "--target groups/typo: no group 'typo' in the configuration or the portal"),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_target_that_matches_nothing_is_an_error(
    sandbox: RunningSandbox, write_config: ConfigWriter, target: str, message: str, command: str
) -> None:
    sandbox.store.create("groups", {"externalId": "remote-only", "name": "R"})
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    extra = ["--auto-approve"] if command == "apply" else []
    result = run(sandbox, command, str(config), "--target", target, *extra)
    assert result.exit_code == 1, result.output
    assert f"Error: {message}" in result.stderr
    # what exists only in the portal (to be deleted, say) is a valid target
    remote = run(sandbox, "plan", str(config), "--target", "groups/remote-only")
    assert remote.exit_code == 0, remote.output


# ---------------------------------------------------------------- validate


def bad_config(write_config: ConfigWriter) -> Path:
    return write_config("""\
        konvsync: 1
        groups:
          - {externalId: a, name: "A, with: colon", bogus: 1}
        users:
          - {email: x@y.example, firstName: X, lastName: Y, account: nope}
        """)


def test_validate_format_github_prints_annotations(write_config: ConfigWriter) -> None:
    config = bad_config(write_config)
    result = invoke(["validate", str(config), "--format", "github"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"::error file={config},line=3,col=45,title=konvsync validate::"
        "groups.[0].bogus: unknown key ('bogus' was unexpected)",
        f"::error file={config},line=5,col=62,title=konvsync validate::user 'x@y.example': "
        "account refers to account 'nope', which the configuration does not define "
        "(--allow-external-refs if it exists in the portal)",
    ]
    assert result.stderr == "Error: configuration invalid: 2 problems\n"
    automatic = invoke(["validate", str(config)], env={"GITHUB_ACTIONS": "true"})
    assert automatic.stdout == result.stdout and automatic.exit_code == 1
    text = invoke(["validate", str(config)], env={"GITHUB_ACTIONS": "false"})
    assert "::error" not in text.output and f"{config}:3:45:" in text.stderr


def test_validate_format_github_annotates_warnings_too(write_config: ConfigWriter) -> None:
    """A warning (a literal invite code, a listed variable not set) was a
    text line on stderr under --format github: the action sends validate's
    stderr to a log the next command overwrites, so a pull request never
    showed it. It is a ::warning annotation on its file's line, beside the
    errors, and is not repeated on stderr."""
    config = write_config("""\
        konvsync: 1
        variables: [REGION]
        groups: [{externalId: "g-${env:REGION}", name: G}]
        inviteLinks: [{title: Join, access: CODE, code: s3cret-code}]
        """)
    warnings = [
        f"::warning file={config},line=4,col=49,title=konvsync validate::invite link 'Join': "
        "code is sensitive but written in the file; use ${env:NAME} (a saved plan cannot "
        "hold it)",
        f"::warning file={config},line=3,col=23,title=konvsync validate::environment variable "
        "REGION is not set, so the value that uses it was not checked (not even its form, "
        "such as a URL's); plan and apply need it",
    ]
    env: dict[str, str | None] = {"REGION": None}
    valid = invoke(["validate", str(config), "--format", "github"], env=env)
    assert valid.exit_code == 0, valid.output
    assert valid.stdout.splitlines()[:-1] == warnings, valid.stdout
    assert valid.stderr == "", valid.stderr
    config.write_text(config.read_text() + "users: [{email: x@y.example}]\n")
    invalid = invoke(["validate", str(config), "--format", "github"], env=env)
    assert invalid.exit_code == 1, invalid.output
    assert invalid.stdout.splitlines()[:2] == warnings, invalid.stdout
    assert invalid.stdout.splitlines()[2].startswith(f"::error file={config},line=5,")
    assert invalid.stderr == "Error: configuration invalid: 1 problem\n", invalid.stderr
    text = invoke(["validate", str(config)], env=env)
    assert f"{config}:4:49: warning: invite link 'Join'" in text.stderr


def test_github_annotations_escape_what_would_break_them(write_config: ConfigWriter) -> None:
    config = write_config("konvsync: 1\ngroups: [{externalId: a, name: A}]\n", name="a,b:c.yaml")
    config.write_text('konvsync: 1\ngroups:\n  - {externalId: a, name: A, "x%\\ny": 1}\n')
    result = invoke(["validate", str(config), "--format", "github"])
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"::error file={str(config).replace(':', '%3A').replace(',', '%2C')},")
    assert "x%25%0Ay" in line
    missing = invoke(["validate", "nowhere.yaml", "--format", "github"])
    assert missing.exit_code == 1
    assert missing.stdout.startswith("::error title=konvsync::nowhere.yaml")


def test_validate_format_json(write_config: ConfigWriter) -> None:
    config = bad_config(write_config)
    result = invoke(["validate", str(config), "--format", "json"])
    assert result.exit_code == 1
    data = validated(result.stdout, "validate")
    assert data["valid"] is False and data["error"] == "configuration invalid: 2 problems"
    assert data["problems"][0] == {
        "file": str(config),
        "line": 3,
        "column": 45,
        "message": "groups.[0].bogus: unknown key ('bogus' was unexpected)",
    }
    missing = invoke(["validate", "nowhere.yaml", "--format", "json"])
    assert missing.exit_code == 1
    data = validated(missing.stdout, "validate")
    assert data["valid"] is False and data["problems"] == []
    assert data["error"].startswith("nowhere.yaml")
    good = write_config("konvsync: 1\ngroups: [{externalId: a, name: A}]\n", name="good.yaml")
    ok = invoke(["validate", str(good), "--format", "json"])
    assert ok.exit_code == 0
    assert validated(ok.stdout, "validate") == {
        "valid": True,
        "error": None,
        "problems": [],
        "warnings": [],
        "objects": {"groups": 1},
        "files": [str(good)],
    }


# ------------------------------------------------------- quiet and progress


def test_quiet_prints_only_the_result(sandbox: RunningSandbox, write_config: ConfigWriter) -> None:
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    result = run(sandbox, "apply", str(config), "--auto-approve", "-q")
    assert result.exit_code == 0
    assert result.stdout == "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.\n"
    assert result.stderr == ""
    export = invoke(["--quiet", "--endpoint", sandbox.url, "export"])
    assert export.exit_code == 0 and export.stderr == "" and "externalId: g" in export.stdout


def subprocess_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KONVERT_API_KEY": KEY,
        "KONVERT_API_SECRET": SECRET,
        "NO_COLOR": "1",
        **extra,
    }


def test_progress_in_a_pipe_prints_lines_during_a_long_step(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=60, page_cap=10)
    config = write_config(_big_config(300, 3, 3))
    SLOW = ["--batch-size", "10", "--parallelism", "1"]
    result = subprocess.run(
        [*KONVSYNC, "--endpoint", sandbox.url, "apply", str(config), "--auto-approve", *SLOW],
        capture_output=True,
        text=True,
        env=subprocess_env(KONVSYNC_PROGRESS_INTERVAL="0.3"),
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("users: ")]
    assert lines[0] == "users: create/update: 300 change(s)"
    assert lines[-1] == "users: create/update: 300/300 answered"
    during = lines[1:-1]
    assert len(during) >= 3, result.stderr  # 30 batches of >= 60 ms: about 6 s
    counts = [int(line.split(": ")[-1].split("/")[0]) for line in during]
    assert counts == sorted(counts) and 0 < counts[0] < 300
    reading = subprocess.run(
        [*KONVSYNC, "--endpoint", sandbox.url, "plan", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(KONVSYNC_PROGRESS_INTERVAL="0.3"),
        cwd=tmp_path,
        timeout=120,
    )
    assert reading.returncode == 0, reading.stderr
    lines = [line for line in reading.stderr.splitlines() if line.startswith("reading the portal")]
    assert len(lines) >= 2, reading.stderr  # 30 pages of 10 users, >= 60 ms each
    assert lines[-1].endswith("so far") and "users" in lines[-1]


# ------------------------------------------------------------------ signals


def start_apply(
    sandbox: RunningSandbox, config: Path, tmp_path: Path, *extra: str
) -> tuple[subprocess.Popen[str], Path, Path]:
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:  # files: a full pipe would block
        process = subprocess.Popen(
            [*KONVSYNC, "--endpoint", sandbox.url, "apply", str(config), "--auto-approve", *extra],
            stdout=out,
            stderr=err,
            text=True,
            env=subprocess_env(),
            cwd=tmp_path,
        )
    return process, out_path, err_path


def wait_for_users(sandbox: RunningSandbox) -> None:
    deadline = time.monotonic() + 60
    while sandbox.store.count("users") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_sigterm_stops_apply_with_a_summary_and_a_rerun_converges(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=150)
    config = write_config(_big_config(1000, 10, 5))
    report_file = tmp_path / "report.json"
    process, out_path, err_path = start_apply(
        sandbox, config, tmp_path, "--batch-size", "20", "--report", str(report_file)
    )
    wait_for_users(sandbox)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert process.returncode == 1, stdout[-2000:] + stderr
    assert "SIGTERM: stopping; no new work is sent" in stderr
    assert "Apply interrupted: no new work was sent after SIGTERM" in stdout
    assert "requests in flight were finished" in stdout
    assert "Traceback" not in stderr
    created = sandbox.store.count("users")
    assert 0 < created < 1000
    done = int(stdout.rsplit("Apply incomplete: ", 1)[1].split(" done")[0])
    assert done == 5 + 10 + 10 + created
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, schema("apply-report.schema.json"))
    assert report["status"] == "interrupted"
    assert report["summary"]["added"] == done
    assert report["summary"]["skipped"] == 1000 - created
    rerun = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert f"Resources: {1000 - created} added, 0 changed, 0 destroyed." in rerun.stdout


def test_a_second_signal_stops_waiting_at_once(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=2000)  # each request takes 2 s
    users = [f"  - {{email: u{i}@example.com, firstName: U, lastName: L}}" for i in range(200)]
    config = write_config(
        "konvsync: 1\npolicy: {send_welcome_email: false}\nusers:\n" + "\n".join(users) + "\n"
    )
    process, out_path, err_path = start_apply(sandbox, config, tmp_path, "--batch-size", "50")
    deadline = time.monotonic() + 60
    while "users: create/update" not in err_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the first user batches are in flight
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert time.monotonic() - started < 5  # not the 10 s grace; "stopped waiting" below
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert process.returncode == 1, stdout[-2000:] + stderr
    assert (
        "Apply interrupted: no new work was sent after Ctrl-C; konvsync stopped waiting" in stdout
    )
    assert "may or may not have been applied (run plan to see)" in stdout
    assert "SIGTERM again: not waiting for the requests in flight." in stderr
    assert "Traceback" not in stderr
    time.sleep(2.5)  # let the abandoned requests land before converging
    sandbox.state.faults.settings.latency_ms = 0
    rerun = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert sandbox.store.count("users") == 200


def test_sigterm_while_planning_is_one_line_and_exit_1(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=1500)
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "konvsync", "--endpoint", sandbox.url, "plan", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 30
    while sandbox.state.requests["/api"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert stderr.strip().splitlines()[-1] == "Aborted."  # as after Ctrl-C


# --------------------------------------------------------------- completion


def test_shell_completion_script_as_the_readme_says(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "konvsync"],
        capture_output=True,
        text=True,
        env=subprocess_env(_KONVSYNC_COMPLETE="bash_source"),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "_konvsync_completion()" in result.stdout
    words = subprocess.run(
        [sys.executable, "-m", "konvsync"],
        capture_output=True,
        text=True,
        env=subprocess_env(
            _KONVSYNC_COMPLETE="bash_complete", COMP_WORDS="konvsync sh", COMP_CWORD="1"
        ),
        cwd=tmp_path,
        timeout=60,
    )
    assert "plain,show" in words.stdout
    readme = (ROOT / "README.md").read_text()
    assert 'eval "$(_KONVSYNC_COMPLETE=bash_source konvsync)"' in readme


def test_a_refused_plan_says_its_file_still_holds_the_plan_saved_before(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """``plan --out`` refused leaves the file as it was: one that holds an
    earlier plan still does, and ``apply FILE`` would apply that one, so
    the line that says the file was not written says it."""
    config = twelve_groups_and_a_config_keeping_two(sandbox, write_config)
    planfile = tmp_path / "p.plan"
    allowed = run(sandbox, "plan", str(config), "--out", str(planfile), "--allow-mass-delete")
    assert allowed.exit_code == 0, allowed.output
    before = planfile.read_bytes()

    refused = run(sandbox, "plan", str(config), "--out", str(planfile))
    assert refused.exit_code == 3, refused.output
    assert "p.plan was not written; it still holds the plan saved before" in refused.stderr
    assert planfile.read_bytes() == before
