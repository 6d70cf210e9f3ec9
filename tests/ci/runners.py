"""Run CI templates the way their runners do, on this machine.

GitHub Actions: every ``run:`` step goes to ``bash --noprofile --norc -eo
pipefail FILE`` with the workflow's, job's and step's ``env`` (``${{ }}``
evaluated), the runner's variables and its file commands (``GITHUB_OUTPUT``,
``GITHUB_ENV``, ``GITHUB_PATH``, ``GITHUB_STEP_SUMMARY``); ``if:`` is
evaluated with the status functions; the konvsync action (``action.yml``)
runs its composite steps the same way. Other actions are emulated:
checkout (checks out ``ref``), upload-artifact and download-artifact (a
local folder per artifact name).

GitLab CI: ``before_script`` and ``script`` lines run in one bash with
``set -eo pipefail``, each line its own command and a command of the
runner's (the echo of the next line) in between, as GitLab Runner does.

What the templates call on the network (``gh``, ``curl``, ``pip``) are fakes
on PATH (``tests/ci/fakes.py``) that record what they were asked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION_REPO = "konvsync/konvsync"


# ------------------------------------------------------------ expressions


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[()!,<>])|(?P<name>[A-Za-z_][\w.\-]*(?:\[\*\])?))"
)


class Expression:
    """A GitHub Actions expression: literals, context paths, ``!``, ``==``,
    ``!=``, ``&&``, ``||``, parentheses and the status functions."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: str) -> None:
        self.tokens = self._tokenize(text)
        self.position = 0
        self.contexts = contexts
        self.status = status

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ValueError(f"cannot read expression at {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def evaluate(self) -> Any:
        value = self._or()
        if self.position != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.position]}")
        return value

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, value: str) -> bool:
        token = self._peek()
        if token is not None and token[0] == "op" and token[1] == value:
            self.position += 1
            return True
        return False

    def _or(self) -> Any:
        left = self._and()
        while self._take("||"):
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._take("&&"):
            right = self._compare()
            left = right if truthy(left) else left
        return left

    def _compare(self) -> Any:
        left = self._unary()
        while True:
            if self._take("=="):
                left = loose_equal(left, self._unary())
            elif self._take("!="):
                left = not loose_equal(left, self._unary())
            else:
                return left

    def _unary(self) -> Any:
        if self._take("!"):
            return not truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        if self._take("("):
            value = self._or()
            if not self._take(")"):
                raise ValueError("missing )")
            return value
        token = self._peek()
        if token is None:
            raise ValueError("unexpected end of expression")
        self.position += 1
        kind, text = token
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._take("("):
            self._take(")")
            return self._function(text)
        value: Any = self.contexts
        for part in text.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def _function(self, name: str) -> bool:
        if name == "always":
            return True
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "cancelled":
            return False
        raise ValueError(f"function {name}() is not emulated")


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, 0.0, "")


def loose_equal(left: Any, right: Any) -> bool:
    if type(left) is type(right):
        return bool(left == right)
    return bool(_number(left) == _number(right))


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if str(value).strip() else 0.0
    except ValueError:
        return float("nan")


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def substitute(text: str, contexts: Mapping[str, Any], status: str = "success") -> str:
    """``text`` with every ``${{ expression }}`` replaced by its value."""
    return re.sub(
        r"\$\{\{(.*?)\}\}",
        lambda m: as_text(Expression(m.group(1), contexts, status).evaluate()),
        text,
    )


def condition(text: str | bool | None, contexts: Mapping[str, Any], status: str) -> bool:
    if text is None:
        return status == "success"
    if isinstance(text, bool):
        return text
    inner = text.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", inner, flags=re.S)
    if match:
        inner = match.group(1)
    expression = Expression(inner, contexts, status)
    uses_status = any(t[0] == "name" and t[1] in _STATUS for t in expression.tokens)
    value = truthy(expression.evaluate())
    return value if uses_status else value and status == "success"


_STATUS = {"always", "success", "failure", "cancelled"}


# ----------------------------------------------------------------- GitHub


@dataclass(frozen=True)
class Environment:
    """A GitHub deployment environment: its secrets, and (a device of these
    tests) what the runner's environment holds for jobs in it, such as
    KONVSYNC_ENDPOINT pointing at that environment's sandbox."""

    secrets: Mapping[str, str]
    runner_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class StepResult:
    name: str
    ran: bool
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    status: str
    steps: list[StepResult]
    summary: str

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    @property
    def log(self) -> str:
        return "\n".join(f"## {s.name} ({s.exit_code})\n{s.stdout}{s.stderr}" for s in self.steps)


class GitHubRunner:
    """One job of a workflow, in ``workspace`` (a checkout of the repository)."""

    def __init__(
        self,
        workspace: Path,
        runner_temp: Path,
        artifacts: Path,
        base_env: Mapping[str, str],
        github: Mapping[str, Any],
        secrets: Mapping[str, str],
        env_overrides: Mapping[str, str] | None = None,
        environments: Mapping[str, Environment] | None = None,
    ) -> None:
        self.workspace = workspace
        self.runner_temp = runner_temp
        self.artifacts = artifacts
        self.base_env = dict(base_env)
        self.github = dict(github)
        self.secrets = dict(secrets)
        self.env_overrides = dict(env_overrides or {})
        self.environments = dict(environments or {})
        self.path_additions: list[str] = []
        self.exported_env: dict[str, str] = {}
        self.summary_file = runner_temp / "step_summary.md"

    def run_job(
        self,
        workflow: Path,
        job_name: str,
        matrix: Mapping[str, Any] | None = None,
        needs: Mapping[str, Any] | None = None,
    ) -> JobResult:
        """One run of ``job_name`` (one ``matrix`` combination); ``needs``: the
        results of the jobs it needs (``{name: {"result": ...}}``), which
        decide, with its ``if:``, whether it runs at all."""
        document = yaml.safe_load(workflow.read_text())
        job = document["jobs"][job_name]
        self.runner_temp.mkdir(parents=True, exist_ok=True)
        self.summary_file.write_text("")
        steps_context: dict[str, Any] = {}
        status = "success"
        results: list[StepResult] = []
        contexts: dict[str, Any] = {
            "github": self.github,
            "secrets": self.secrets,
            "matrix": dict(matrix or {}),
            "needs": dict(needs or {}),
        }
        # A job runs when its needs all succeeded, unless its if: asks for
        # a status function (always(), failure()...).
        needs_status = (
            "success"
            if all(n["result"] == "success" for n in (needs or {}).values())
            else "failure"
        )
        if not condition(job.get("if"), {**contexts, "env": {}}, needs_status):
            return JobResult("skipped", [], "")
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        if environment is not None:
            # an environment nobody configured exists, with no secrets of its own
            chosen = self.environments.get(
                substitute(as_text(environment), contexts), Environment({})
            )
            contexts["secrets"] = {**self.secrets, **chosen.secrets}
            self.base_env = {**self.base_env, **chosen.runner_env}
        workflow_env = {**document.get("env", {}), **job.get("env", {})}
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("id") or step.get("uses") or f"step {index}"
            env_context = {**self._env(workflow_env, contexts), **self.exported_env}
            step_contexts = {**contexts, "env": env_context, "steps": steps_context}
            if not condition(step.get("if"), step_contexts, status):
                results.append(StepResult(name, ran=False))
                continue
            result = self._step(step, name, workflow_env, step_contexts, status)
            results.append(result)
            if "id" in step:
                steps_context[step["id"]] = {
                    "outputs": result.outputs,
                    "outcome": "success" if result.exit_code == 0 else "failure",
                }
            if result.exit_code != 0:
                status = "failure"
        return JobResult(status, results, self.summary_file.read_text())

    def _env(self, env: Mapping[str, Any], contexts: Mapping[str, Any]) -> dict[str, str]:
        values = {k: substitute(as_text(v), contexts) for k, v in env.items()}
        return {**values, **{k: v for k, v in self.env_overrides.items() if k in values}}

    def _step(
        self,
        step: Mapping[str, Any],
        name: str,
        workflow_env: Mapping[str, Any],
        contexts: dict[str, Any],
        status: str,
    ) -> StepResult:
        env = {
            **self._env(workflow_env, contexts),
            **self.exported_env,
            **self._env(step.get("env", {}), contexts),
        }
        if "run" in step:
            script = substitute(step["run"], contexts, status)
            return self._bash(name, script, env, self.workspace)
        uses = step["uses"]
        inputs = {k: substitute(as_text(v), contexts) for k, v in step.get("with", {}).items()}
        action, _, _ref = uses.partition("@")
        if action == ACTION_REPO:
            return self._composite(name, inputs, env, status)
        if action == "actions/checkout":
            if inputs.get("ref"):
                git(self.workspace, "checkout", "--quiet", inputs["ref"])
            return StepResult(name, ran=True)
        if action == "actions/upload-artifact":
            source = self.workspace / inputs["path"]
            target = self.artifacts / inputs["name"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / source.name)
            return StepResult(name, ran=True)
        if action == "actions/download-artifact":
            source = self.artifacts / inputs["name"]
            if not source.is_dir():
                return StepResult(name, ran=True, exit_code=1, stderr=f"no artifact {source.name}")
            target = self.workspace / inputs.get("path", ".")
            shutil.copytree(source, target, dirs_exist_ok=True)
            return StepResult(name, ran=True)
        raise AssertionError(f"action {uses} is not emulated")

    def _composite(
        self, name: str, given: Mapping[str, str], env: Mapping[str, str], status: str
    ) -> StepResult:
        action = yaml.safe_load((ROOT / "action.yml").read_text())
        assert action["runs"]["using"] == "composite"
        unknown = set(given) - set(action["inputs"])
        assert not unknown, f"the action has no inputs {unknown}"
        inputs = {k: given.get(k, as_text(v.get("default"))) for k, v in action["inputs"].items()}
        steps_context: dict[str, Any] = {}
        stdout, stderr = [], []
        code = 0
        for index, step in enumerate(action["runs"]["steps"]):
            contexts = {
                "inputs": inputs,
                "steps": steps_context,
                "github": self.github,
                "env": dict(env),
            }
            if not condition(step.get("if"), contexts, "success" if code == 0 else "failure"):
                continue
            assert step.get("shell") == "bash", "composite run steps must say shell: bash"
            step_env = {
                **env,
                **{k: substitute(as_text(v), contexts) for k, v in step.get("env", {}).items()},
                "GITHUB_ACTION_PATH": str(ROOT),
            }
            result = self._bash(
                f"{name} / {index}", substitute(step["run"], contexts), step_env, self.workspace
            )
            stdout.append(result.stdout)
            stderr.append(result.stderr)
            if "id" in step:
                steps_context[step["id"]] = {"outputs": result.outputs}
            if result.exit_code != 0:
                code = result.exit_code
                break
        contexts = {"steps": steps_context, "inputs": inputs}
        outputs = {
            k: substitute(as_text(v["value"]), contexts) for k, v in action["outputs"].items()
        }
        return StepResult(name, True, code, "".join(stdout), "".join(stderr), outputs)

    def _bash(self, name: str, script: str, env: Mapping[str, str], cwd: Path) -> StepResult:
        files = {
            key: self.runner_temp / f"{key.lower()}_{len(list(self.runner_temp.iterdir()))}"
            for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")
        }
        for path in files.values():
            path.write_text("")
        script_file = self.runner_temp / f"step_{len(list(self.runner_temp.iterdir()))}.sh"
        script_file.write_text(script)
        path_value = os.pathsep.join([*reversed(self.path_additions), self.base_env["PATH"]])
        full_env = {
            **self.base_env,
            **env,
            **{k: str(v) for k, v in files.items()},
            "PATH": path_value,
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.runner_temp),
            "GITHUB_ACTIONS": "true",
            "CI": "true",
        }
        for key in ("repository", "run_id", "server_url", "ref_name", "sha", "event_name"):
            full_env[f"GITHUB_{key.upper()}"] = as_text(self.github.get(key))
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs = read_file_commands(files["GITHUB_OUTPUT"].read_text())
        self.exported_env.update(read_file_commands(files["GITHUB_ENV"].read_text()))
        self.path_additions += [
            line for line in files["GITHUB_PATH"].read_text().splitlines() if line
        ]
        return StepResult(
            name, True, completed.returncode, completed.stdout, completed.stderr, outputs
        )


def run_workflow(
    workflow: Path, make_runner: Callable[[str, int], GitHubRunner]
) -> dict[str, list[JobResult]]:
    """Every job of ``workflow`` as GitHub schedules them: in the order their
    ``needs`` give, each matrix combination in turn (``max-parallel: 1``), the
    rest of a matrix cancelled after a failure unless ``fail-fast: false``,
    and a job whose needs did not all succeed skipped (unless its ``if:``
    uses a status function). ``make_runner(job, index)``: a fresh runner for
    each run. Returns each job's runs."""
    document = yaml.safe_load(workflow.read_text())
    jobs: dict[str, Any] = document["jobs"]
    results: dict[str, list[JobResult]] = {}
    pending = list(jobs)
    while pending:
        ready = [n for n in pending if all(d in results for d in _needs(jobs[n]))]
        assert ready, f"jobs {pending} need each other or a job that does not exist"
        for name in ready:
            pending.remove(name)
            job = jobs[name]
            needs = {d: {"result": job_result(results[d])} for d in _needs(job)}
            strategy = job.get("strategy", {})
            runs: list[JobResult] = []
            for index, matrix in enumerate(_combinations(strategy.get("matrix"))):
                if runs and runs[-1].status == "failure" and strategy.get("fail-fast", True):
                    runs.append(JobResult("cancelled", [], ""))
                    continue
                runs.append(make_runner(name, index).run_job(workflow, name, matrix, needs))
            results[name] = runs
    return results


def job_result(runs: list[JobResult]) -> str:
    """A job's result over its matrix runs, as ``needs.<job>.result`` says it."""
    statuses = {run.status for run in runs}
    if statuses == {"skipped"}:
        return "skipped"
    if "failure" in statuses:
        return "failure"
    if "cancelled" in statuses:
        return "cancelled"
    return "success"


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _combinations(matrix: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The matrix's combinations in order (dimensions only: no include/exclude)."""
    if not matrix:
        return [{}]
    assert not {"include", "exclude"} & set(matrix), "include/exclude are not emulated"
    combinations: list[dict[str, Any]] = [{}]
    for key, values in matrix.items():
        combinations = [{**c, key: v} for c in combinations for v in values]
    return combinations


def read_file_commands(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            values[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


# ----------------------------------------------------------------- GitLab


@dataclass
class GitLabJobResult:
    exit_code: int
    output: str


def run_gitlab_job(
    pipeline_file: Path,
    job_name: str,
    workspace: Path,
    base_env: Mapping[str, str],
    variables: Mapping[str, str],
) -> GitLabJobResult:
    """``before_script`` + ``script`` of ``job_name`` as GitLab Runner's bash
    does: one shell, ``set -eo pipefail``, and between two script lines the
    runner's own commands (here: the echo of the next line)."""
    document = yaml.safe_load(pipeline_file.read_text())
    job = document[job_name]
    default = document.get("default", {})
    lines = [*job.get("before_script", default.get("before_script", [])), *job["script"]]
    script = ["set -eo pipefail", "set +o noclobber"]
    for line in lines:
        script.append(f"printf '%s\\n' {shlex_quote('$ ' + line.splitlines()[0])}")
        script.append(line)
    env = {
        **base_env,
        **{k: as_text(v) for k, v in document.get("variables", {}).items()},
        **{k: as_text(v) for k, v in job.get("variables", {}).items()},
        **variables,
        "CI": "true",
        "GITLAB_CI": "true",
    }
    script_file = workspace.parent / f"{job_name}.sh"
    script_file.write_text("\n".join(script) + "\n")
    completed = subprocess.run(
        ["bash", "--noprofile", "--norc", str(script_file)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return GitLabJobResult(completed.returncode, completed.stdout + completed.stderr)


def shlex_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def recorded(log: Path) -> list[dict[str, Any]]:
    """What the fakes were asked, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]
