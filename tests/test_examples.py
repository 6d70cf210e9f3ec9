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
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
CI_FILES = sorted((ROOT / "examples" / "ci").rglob("*.yml"))


@pytest.mark.parametrize("name", ["quickstart", "multi-file", "drift"])
def test_examples_validate(name: str) -> None:
    result = invoke(["validate", str(ROOT / "examples" / name)])
    assert result.exit_code == 0, result.output


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


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "konvsync-validate")
    assert hook["entry"] == "konvsync validate"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    assert_valid_invocation([*hook["entry"].split()[1:], "portal"])


def test_readme_has_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert [b.strip() for b in blocks] == [
        "python3 -m pip install . && konvsync apply examples/quickstart --auto-approve",
        'python3 -m pip install -e ".[test]" && python3 -m pytest -n 2',
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -n 2" in ci


def test_drift_script_finds_drift(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "KONVSYNC_DRIFT_PORT": str(port),
        "NO_COLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "examples" / "drift" / "drift.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exited 2 (2 = drift found)" in result.stdout
    assert '~ name = "ACME (renamed by hand)" -> "ACME Corp"' in result.stdout
    assert "# groups/shadow-it will be destroyed" in result.stdout
    assert "Traceback" not in result.stderr
