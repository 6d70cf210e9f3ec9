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

from konvsync.cli import cli
from konvsync.reference import main as reference_main
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
    """Every ``konvsync ...`` command line of a CI file, as argv."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        shell = re.sub(r"^\s*(?:-\s+)?(?:run:\s*)?", "", line)
        if not shell.startswith("konvsync "):
            continue
        command = shell[len("konvsync ") :].split(" > ")[0].split(" 2>")[0].split(";")[0]
        argv = [re.sub(r"\$\{?\w+\}?", "VALUE", token) for token in shlex.split(command)]
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


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ci_files_are_valid_yaml_with_valid_commands(path: Path) -> None:
    text = path.read_text()
    assert isinstance(yaml.safe_load(text), dict)
    commands = konvsync_commands(text)
    assert commands, f"{path.name} runs no konvsync command"
    for argv in commands:
        try:
            assert_valid_invocation(argv)
        except click.UsageError as exc:  # pragma: no cover - the assertion explains
            pytest.fail(f"{path.name}: konvsync {' '.join(argv)}: {exc}")
    for line in text.splitlines():
        if re.search(r"\becho\b|printf", line):
            assert "KONVERT_API_SECRET" not in line and "KONVERT_API_KEY" not in line


def test_github_workflows_do_what_they_say() -> None:
    github = ROOT / "examples" / "ci" / "github"
    plan = yaml.safe_load((github / "konvsync-plan.yml").read_text())
    steps = plan["jobs"]["plan"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "--format markdown" in runs and "--out konvsync.plan" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)
    assert any("updateComment" in step.get("with", {}).get("script", "") for step in steps)
    secrets = [step["env"] for step in steps if "env" in step]
    assert secrets and all(v.startswith("${{ secrets.") for env in secrets for v in env.values())
    apply = yaml.safe_load((github / "konvsync-apply.yml").read_text())
    apply_steps = apply["jobs"]["apply"]["steps"]
    assert any(step.get("uses", "").startswith("actions/download-artifact") for step in apply_steps)
    assert apply_steps[-1]["run"] == "konvsync --no-color apply konvsync.plan"
    assert apply["jobs"]["apply"]["if"] == "github.event.pull_request.merged == true"
    drift = yaml.safe_load((github / "konvsync-drift.yml").read_text())
    assert "schedule" in drift[True]  # YAML 1.1 reads the key `on` as true
    drift_steps = drift["jobs"]["drift"]["steps"]
    assert "--detailed-exitcode" in drift_steps[3]["run"]
    assert drift_steps[4]["if"] == "steps.plan.outputs.exitcode == '2'"


def test_gitlab_pipeline_has_plan_apply_and_drift() -> None:
    pipeline = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == ["plan", "apply", "drift"]
    plan_script = " ".join(pipeline["konvsync-plan"]["script"])
    assert "--format markdown" in plan_script and "--out konvsync.plan" in plan_script
    assert pipeline["konvsync-plan"]["artifacts"]["paths"][0] == "konvsync.plan"
    assert pipeline["konvsync-apply"]["script"][-1] == "konvsync --no-color apply konvsync.plan"
    assert "--detailed-exitcode" in " ".join(pipeline["konvsync-drift"]["script"])
    assert pipeline["konvsync-drift"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "konvsync-validate")
    assert hook["entry"] == "konvsync validate"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    assert_valid_invocation([*hook["entry"].split()[1:], "portal"])


def test_readme_reference_is_up_to_date() -> None:
    assert reference_main(["--check", str(ROOT / "README.md")]) == 0


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
