"""The CI templates under examples/ci/ and the action (action.yml), run the
way GitHub's and GitLab's runners run them (``tests/ci/runners.py``), with
konvsync pointed at a sandbox on loopback and ``gh``/``curl``/``pip`` faked
at the network boundary (``tests/ci/fakes.py``)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.ci.fakes import base_path, install_fakes, read_state, real_konvsync, write_state
from tests.ci.runners import (
    ROOT,
    Environment,
    GitHubRunner,
    GitLabJobResult,
    JobResult,
    git,
    job_result,
    recorded,
    run_gitlab_job,
    run_workflow,
)
from tests.conftest import KEY, SECRET, SandboxFactory
from tests.published_schemas import validated

GITHUB = ROOT / "examples" / "ci" / "github"
GITLAB = ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml"
REPO = "acme/portal-config"
COMMENTS = f"repos/{REPO}/issues/7/comments"

if shutil.which("git") is None or shutil.which("jq") is None:  # pragma: no cover
    pytest.skip(
        "the template tests need git and jq (the fake gh applies --jq with jq)",
        allow_module_level=True,
    )

CONFIG = """\
    konvsync: 1
    policy: {prune: [groups]}
    groups:
      - {externalId: sales, name: Sales}
    """


@dataclass
class CI:
    """A repository checkout with portal/, fakes on PATH, and a sandbox."""

    root: Path
    sandbox: RunningSandbox

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def log(self) -> Path:
        return self.root / "fakes.jsonl"

    @property
    def state_file(self) -> Path:
        return self.root / "fakes-state.json"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def env(self) -> dict[str, str]:
        fakes = install_fakes(self.root / "bin", self.log, self.state_file, real_konvsync())
        return {
            "PATH": base_path(self.root / "bin"),
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
            **fakes,
        }

    @property
    def state(self) -> dict[str, Any]:
        return read_state(self.state_file)

    def set_state(self, data: dict[str, Any]) -> None:
        write_state(self.state_file, data)

    def commit(self, config: str, message: str = "change portal") -> str:
        portal = self.workspace / "portal"
        portal.mkdir(parents=True, exist_ok=True)
        (portal / "konvsync.yaml").write_text(textwrap.dedent(config))
        git(self.workspace, "add", "portal")
        git(self.workspace, "commit", "--quiet", "--allow-empty", "-m", message)
        return git(self.workspace, "rev-parse", "HEAD")

    def github(
        self,
        workflow: str,
        job: str,
        head: str,
        merged: str | None = None,
        secrets: dict[str, str] | None = None,
        workflow_file: Path | None = None,
    ) -> JobResult:
        runner = self.runner(
            workflow,
            self.github_context(head, merged),
            secrets or {"KONVERT_API_KEY": KEY, "KONVERT_API_SECRET": SECRET},
        )
        return runner.run_job(workflow_file or GITHUB / workflow, job)

    def github_context(
        self, head: str, merged: str | None = None, event_name: str = "pull_request"
    ) -> dict[str, Any]:
        event = {
            "pull_request": {
                "number": 7,
                "head": {"sha": head},
                "merged": merged is not None,
                "merge_commit_sha": merged,
            }
        }
        return {
            "repository": REPO,
            "run_id": "4242",
            "server_url": "https://github.example",
            "ref_name": "main",
            "sha": merged or head,
            "token": "ghs_fake_token",
            "event_name": event_name,
            "event": event,
        }

    def runner(
        self,
        name: str,
        github: dict[str, Any],
        secrets: dict[str, str],
        environments: dict[str, Environment] | None = None,
    ) -> GitHubRunner:
        return GitHubRunner(
            workspace=self.workspace,
            runner_temp=self.root
            / "runner-temp"
            / f"{name}-{len(list(self.root.glob('runner-temp/*')))}",
            artifacts=self.artifacts,
            base_env=self.env(),
            github=github,
            secrets=secrets,
            env_overrides={"KONVSYNC_ENDPOINT": self.sandbox.url},
            environments=environments,
        )

    def gitlab(self, job: str, sha: str, **variables: str) -> GitLabJobResult:
        predefined = {
            "CI_API_V4_URL": "https://gitlab.example/api/v4",
            "CI_PROJECT_ID": "42",
            "CI_PROJECT_PATH": "acme/portal-config",
            "CI_SERVER_HOST": "gitlab.example",
            "CI_MERGE_REQUEST_IID": "7",
            "CI_COMMIT_SHA": sha,
            "CI_DEFAULT_BRANCH": "main",
            "CI_JOB_ID": "9001",
            "CI_JOB_URL": "https://gitlab.example/acme/portal-config/-/jobs/9001",
            # project CI/CD variables (masked):
            "KONVERT_API_KEY": KEY,
            "KONVERT_API_SECRET": SECRET,
            "KONVSYNC_BOT_TOKEN": "glpat-fake-token",
            # pointed at the sandbox instead of production:
            "KONVSYNC_ENDPOINT": self.sandbox.url,
            # the project's repository (the drift job pushes its branch there)
            "KONVSYNC_PUSH_URL": str(self.origin),
        }
        return run_gitlab_job(GITLAB, job, self.workspace, self.env(), {**predefined, **variables})

    def fresh_checkout(self, sha: str) -> None:
        """As the next run's checkout: ``sha`` on main, nothing left over."""
        git(self.workspace, "checkout", "--quiet", "--force", "main")
        git(self.workspace, "reset", "--quiet", "--hard", sha)
        git(self.workspace, "clean", "--quiet", "-fd")

    def calls(self, tool: str) -> list[dict[str, Any]]:
        return [c for c in recorded(self.log) if c["tool"] == tool]


@pytest.fixture
def ci(tmp_path: Path, sandbox: RunningSandbox) -> Iterator[CI]:
    environment = CI(tmp_path / "ci", sandbox)
    environment.workspace.mkdir(parents=True)
    (environment.root / "home").mkdir()
    git(environment.workspace, "init", "--quiet", "--initial-branch", "main")
    for key, value in (("user.name", "dev"), ("user.email", "dev@example.com")):
        git(environment.workspace, "config", key, value)
    # the repository's remote, where the drift jobs push their branch
    subprocess.run(["git", "init", "--quiet", "--bare", str(environment.origin)], check=True)
    git(environment.workspace, "remote", "add", "origin", str(environment.origin))
    environment.set_state({})
    yield environment


def hand_made_groups(sandbox: RunningSandbox, count: int) -> None:
    for i in range(count):
        sandbox.store.create("groups", {"externalId": f"by-hand-{i}", "name": f"By hand {i}"})


OTHER = """\
    konvsync: 1
    accounts: [{externalId: acme, name: ACME}]
    """
MASS_DELETE = "refusing to delete 12 of 12 groups (100%): more than max_delete_percent 25%"


# ------------------------------------------------------------ GitHub: plan


def test_github_plan_posts_one_comment_and_keeps_the_plan_of_that_commit(ci: CI) -> None:
    head = ci.commit(CONFIG)
    result = ci.github("konvsync-plan.yml", "plan", head)
    assert result.status == "success", result.log
    plan = result.step("Plan")
    assert plan.outputs["exitcode"] == "2" and plan.outputs["has-changes"] == "true"
    assert plan.outputs["plan-file"].endswith("/konvsync.plan")
    assert (ci.artifacts / f"konvsync-plan-{head}" / "konvsync.plan").is_file()
    assert "+ groups/sales" in result.summary  # the Markdown plan in the job summary
    (comment,) = ci.state["api"][COMMENTS]
    assert comment["body"].startswith("<!-- konvsync-plan -->\n")
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in comment["body"]
    assert f"Planned for commit {head}" in comment["body"]
    # the action installed konvsync from its own checkout, nothing from an index
    (install,) = [c for c in ci.calls("pip")]
    assert install["argv"][-1] == str(ROOT)
    assert not any("konvsync==" in " ".join(c.get("argv", [])) for c in recorded(ci.log))


def test_github_plan_comment_is_updated_when_the_next_plan_is_refused(ci: CI) -> None:
    head = ci.commit(CONFIG)
    assert ci.github("konvsync-plan.yml", "plan", head).status == "success"
    hand_made_groups(ci.sandbox, 12)  # the config would delete all of them
    second = ci.commit(CONFIG.replace("Sales", "Sales team"))
    result = ci.github("konvsync-plan.yml", "plan", second)
    assert result.status == "failure"
    assert result.step("Plan").outputs["exitcode"] == "3"
    assert result.step("Post or update the plan comment").exit_code == 0
    (comment,) = ci.state["api"][COMMENTS]  # the same comment, updated
    body = comment["body"]
    assert "konvsync refused this plan (exit 3)" in body
    assert f"**Refused:** {MASS_DELETE}" in body
    assert "- groups/by-hand-0" in body and "+ groups/sales" in body
    assert f"Planned for commit {second}" in body
    methods = [c["method"] for c in ci.calls("gh") if c["argv"][0] == "api"]
    assert methods == ["GET", "POST", "GET", "PATCH"]
    assert not (ci.artifacts / f"konvsync-plan-{second}").exists()


def test_github_plan_with_a_config_error_annotates_and_comments(ci: CI) -> None:
    head = ci.commit(CONFIG.replace("{externalId: sales, name: Sales}", "{externalId: sales}"))
    result = ci.github("konvsync-plan.yml", "plan", head)
    assert result.status == "failure"
    plan = result.step("Plan")
    assert plan.outputs["exitcode"] == "1"
    assert "::error file=portal/konvsync.yaml,line=4,col=5,title=konvsync validate::" in (
        plan.stdout
    )
    (comment,) = ci.state["api"][COMMENTS]
    assert "konvsync plan failed (exit 1)" in comment["body"]
    assert "Error: configuration invalid: 1 problem" in comment["body"]


def test_github_plan_without_changes(ci: CI) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Sales", "permissions": []})
    head = ci.commit(CONFIG)
    result = ci.github("konvsync-plan.yml", "plan", head)
    assert result.status == "success", result.log
    assert result.step("Plan").outputs["has-changes"] == "false"
    (comment,) = ci.state["api"][COMMENTS]
    assert "No changes. The portal matches the configuration." in comment["body"]


def test_github_plan_never_updates_a_comment_someone_else_wrote(ci: CI) -> None:
    """Anyone may comment on a pull request, starting with the marker: the
    workflow updates only its own comment. (Had it updated Mallory's,
    Mallory could edit the reviewed plan afterwards.)"""
    forged = {
        "id": 1,
        "body": "<!-- konvsync-plan -->\nNo changes. The portal matches the configuration.",
        "user": {"login": "mallory", "type": "User"},
    }
    ci.set_state({"api": {COMMENTS: [dict(forged)]}})
    head = ci.commit(CONFIG)
    result = ci.github("konvsync-plan.yml", "plan", head)
    assert result.status == "success", result.log
    mallorys, own = ci.state["api"][COMMENTS]
    assert mallorys == forged
    assert own["user"]["login"] == "github-actions[bot]"
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in own["body"]
    # the next run updates the workflow's own comment, still not Mallory's
    second = ci.commit(CONFIG.replace("Sales", "Sales team"))
    assert ci.github("konvsync-plan.yml", "plan", second).status == "success"
    mallorys, own = ci.state["api"][COMMENTS]
    assert mallorys == forged and f"Planned for commit {second}" in own["body"]


# ----------------------------------------------------------- GitHub: apply


def merged_pull_request(ci: CI, config: str, main_adds: str | None = None) -> tuple[str, str]:
    """main; a branch changing portal/ (planned at its head); with
    ``main_adds``, main adds portal/other.yaml meanwhile; then the merge."""
    ci.commit("konvsync: 1\n", "start")
    git(ci.workspace, "checkout", "--quiet", "-b", "feature")
    head = ci.commit(config)
    git(ci.workspace, "checkout", "--quiet", "main")
    if main_adds is not None:
        (ci.workspace / "portal" / "other.yaml").write_text(textwrap.dedent(main_adds))
        git(ci.workspace, "add", "portal")
        git(ci.workspace, "commit", "--quiet", "-m", "main changes portal/ meanwhile")
    git(ci.workspace, "merge", "--quiet", "--no-ff", "-m", "merge", "feature")
    return head, git(ci.workspace, "rev-parse", "HEAD")


def test_github_apply_applies_the_plan_made_for_the_merged_commit(ci: CI) -> None:
    head, merged = merged_pull_request(ci, CONFIG)
    git(ci.workspace, "checkout", "--quiet", head)
    assert ci.github("konvsync-plan.yml", "plan", head).status == "success"
    state = ci.state
    state["api"][f"repos/{REPO}/actions/workflows/konvsync-plan.yml/runs"] = {
        "workflow_runs": [{"id": 31337}]
    }
    ci.set_state(state)
    result = ci.github("konvsync-apply.yml", "apply", head, merged=merged)
    assert result.status == "success", result.log
    assert ci.sandbox.store.count("groups") == 1
    assert result.step("Apply the reviewed plan").outputs["exitcode"] == "0"
    assert "Apply complete! Resources: 1 added" in result.summary
    report = ci.artifacts / f"konvsync-apply-report-{merged}" / "apply-report.json"
    assert validated(report.read_text(), "apply-report")["status"] == "complete"
    (lookup,) = [c for c in ci.calls("gh") if "runs" in c["path"]]
    assert f"head_sha={head}" in lookup["path"]


def test_github_apply_refuses_when_main_changed_the_config_since_the_plan(ci: CI) -> None:
    head, merged = merged_pull_request(ci, CONFIG, main_adds=OTHER)
    git(ci.workspace, "checkout", "--quiet", head)
    assert ci.github("konvsync-plan.yml", "plan", head).status == "success"
    result = ci.github("konvsync-apply.yml", "apply", head, merged=merged)
    assert result.status == "failure"
    step = result.step("Find the plan run of the merged pull request's last commit")
    assert "differs from the reviewed commit" in step.stdout
    assert result.step("Apply the reviewed plan").ran is False
    assert ci.sandbox.store.count("groups") == 0


# ----------------------------------------------------------- GitHub: drift


def test_github_drift_clean_succeeds_without_an_issue(ci: CI) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Sales", "permissions": []})
    head = ci.commit(CONFIG)
    result = ci.github("konvsync-drift.yml", "drift", head)
    assert result.status == "success", result.log
    assert "issues" not in ci.state


@pytest.mark.parametrize("exit_code", ["2", "3"])
def test_github_drift_opens_one_issue_and_fails(ci: CI, exit_code: str) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Renamed by hand"})
    if exit_code == "3":
        hand_made_groups(ci.sandbox, 11)
    head = ci.commit(CONFIG)
    result = ci.github("konvsync-drift.yml", "drift", head)
    assert result.status == "failure"
    assert result.step("Plan against the portal").outputs["exitcode"] == exit_code
    assert result.step("Open or update the drift issue").exit_code == 0
    assert result.step("Fail on drift").exit_code == 1
    (issue,) = ci.state["issues"]
    assert issue["labels"] == ["konvsync-drift"]
    assert f"konvsync plan exited {exit_code}" in issue["body"]
    assert '! groups/sales  name: "Renamed by hand" -> "Sales"' in issue["body"]
    if exit_code == "3":
        assert "refusing to delete 11 of 12 groups" in issue["body"]
        return
    # the next night updates the same issue
    ci.fresh_checkout(head)
    again = ci.github("konvsync-drift.yml", "drift", head)
    assert again.status == "failure"
    assert len(ci.state["issues"]) == 1
    edits = [c for c in ci.calls("gh") if c["argv"][:2] == ["issue", "edit"]]
    assert len(edits) == 1 and edits[0]["body"] == issue["body"]


def test_github_drift_proposes_one_pull_request_accepting_the_portal(ci: CI) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Renamed by hand"})
    head = ci.commit(CONFIG)
    git(ci.workspace, "push", "--quiet", "origin", "main")
    result = ci.github("konvsync-drift.yml", "drift", head)
    assert result.status == "failure"  # drift found
    assert result.step("Propose accepting the portal's changes").exit_code == 0, result.log
    accepted = git(ci.origin, "show", "konvsync/accept-drift:portal/konvsync.yaml")
    assert "Renamed by hand" in accepted
    assert git(ci.origin, "log", "-1", "--format=%s", "konvsync/accept-drift") == (
        "Accept portal changes"
    )
    (pull,) = ci.state["pulls"]
    assert pull["title"] == "Accept portal changes" and pull["head"] == "konvsync/accept-drift"
    assert pull["base"] == "main"
    assert "sales" in pull["body"]
    # the next night: the same branch, force-pushed, and the same pull request
    ci.fresh_checkout(head)
    again = ci.github("konvsync-drift.yml", "drift", head)
    assert again.step("Propose accepting the portal's changes").exit_code == 0, again.log
    assert len(ci.state["pulls"]) == 1


def test_github_drift_never_takes_a_fork_pull_request_for_its_own(ci: CI) -> None:
    """A fork's pull request from a branch named konvsync/accept-drift is
    not the workflow's: editing its body would dress someone else's changes
    as the portal's."""
    fork = {
        "number": 5,
        "state": "open",
        "title": "Accept portal changes",
        "head": "konvsync/accept-drift",
        "isCrossRepository": True,
        "body": "from a fork",
    }
    ci.set_state({"pulls": [dict(fork)]})
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Renamed by hand"})
    head = ci.commit(CONFIG)
    git(ci.workspace, "push", "--quiet", "origin", "main")
    result = ci.github("konvsync-drift.yml", "drift", head)
    assert result.step("Propose accepting the portal's changes").exit_code == 0, result.log
    forks, own = ci.state["pulls"]
    assert forks == fork
    assert own["head"] == "konvsync/accept-drift" and "sales" in own["body"]


# ---------------------------------------------------------- GitLab: plan


NOTES = "/projects/42/merge_requests/7/notes"


def test_gitlab_plan_notes_the_plan_and_passes_with_changes(ci: CI) -> None:
    head = ci.commit(CONFIG)
    result = ci.gitlab("konvsync-plan", head)
    assert result.exit_code == 0, result.output
    assert (ci.workspace / "konvsync.plan").is_file()
    (note,) = ci.state["gitlab"][NOTES]
    assert note["body"].startswith("<!-- konvsync-plan -->\n")
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in note["body"]
    (install,) = ci.calls("pip")
    assert install["argv"][-1] == (
        "konvsync @ git+https://github.com/konvsync/konvsync@<commit-sha>"
    )


def test_gitlab_plan_never_updates_a_note_someone_else_wrote(ci: CI) -> None:
    """As on GitHub: a note that starts with the marker but was written by
    another user (a maintainer's token may edit it) is left alone."""
    forged = {
        "id": 3,
        "body": "<!-- konvsync-plan -->\nNo changes.",
        "author": {"id": 666, "username": "mallory"},
    }
    ci.set_state({"gitlab": {NOTES: [dict(forged)]}})
    head = ci.commit(CONFIG)
    result = ci.gitlab("konvsync-plan", head)
    assert result.exit_code == 0, result.output
    mallorys, own = ci.state["gitlab"][NOTES]
    assert mallorys == forged
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in own["body"]
    second = ci.commit(CONFIG.replace("Sales", "Sales team"))
    assert ci.gitlab("konvsync-plan", second).exit_code == 0
    mallorys, own = ci.state["gitlab"][NOTES]
    assert mallorys == forged and f"Planned for commit {second}" in own["body"]


def test_gitlab_plan_refused_fails_and_updates_the_note_with_the_reason(ci: CI) -> None:
    head = ci.commit(CONFIG)
    assert ci.gitlab("konvsync-plan", head).exit_code == 0
    hand_made_groups(ci.sandbox, 12)
    second = ci.commit(CONFIG.replace("Sales", "Sales team"))
    (ci.workspace / "konvsync.plan").unlink()
    result = ci.gitlab("konvsync-plan", second)
    assert result.exit_code == 3, result.output
    (note,) = ci.state["gitlab"][NOTES]
    assert "konvsync refused this plan (exit 3)" in note["body"]
    assert f"**Refused:** {MASS_DELETE}" in note["body"]
    assert "- groups/by-hand-3" in note["body"]
    assert [(c["method"], c["path"]) for c in ci.calls("curl")] == [
        ("GET", "/user"),  # the bot's own note is the one to update
        ("GET", NOTES),
        ("POST", NOTES),
        ("GET", "/user"),
        ("GET", NOTES),
        ("PUT", f"{NOTES}/500"),
    ]
    assert not (ci.workspace / "konvsync.plan").exists()


def test_gitlab_plan_error_fails_with_exit_1_and_notes_it(ci: CI) -> None:
    head = ci.commit("konvsync: 1\ngroups: [{externalId: x}]\n")
    result = ci.gitlab("konvsync-plan", head)
    assert result.exit_code == 1
    (note,) = ci.state["gitlab"][NOTES]
    assert "konvsync plan failed (exit 1)" in note["body"]
    assert "portal/konvsync.yaml:2:" in note["body"]


# ---------------------------------------------------------- GitLab: drift


ISSUES = "/projects/42/issues"


def test_gitlab_drift_passes_when_clean(ci: CI) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Sales", "permissions": []})
    head = ci.commit(CONFIG)
    result = ci.gitlab("konvsync-drift", head)
    assert result.exit_code == 0, result.output
    assert ci.calls("curl") == []


@pytest.mark.parametrize("exit_code", [2, 3])
def test_gitlab_drift_fails_and_opens_one_issue(ci: CI, exit_code: int) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Renamed by hand"})
    if exit_code == 3:
        hand_made_groups(ci.sandbox, 11)
    head = ci.commit(CONFIG)
    result = ci.gitlab("konvsync-drift", head)
    assert result.exit_code == exit_code, result.output
    assert "Drift found" in result.output
    (issue,) = ci.state["gitlab"][ISSUES]
    assert issue["labels"] == ["konvsync-drift"]
    assert f"konvsync plan exited {exit_code}" in issue["description"]
    assert '! groups/sales  name: "Renamed by hand" -> "Sales"' in issue["description"]
    if exit_code == 3:
        assert "refusing to delete 11 of 12 groups" in issue["description"]
        return
    ci.fresh_checkout(head)
    again = ci.gitlab("konvsync-drift", head)
    assert again.exit_code == exit_code
    assert len(ci.state["gitlab"][ISSUES]) == 1
    assert [c["method"] for c in ci.calls("curl") if c["path"].startswith(ISSUES)] == [
        "GET",
        "POST",
        "GET",
        "PUT",
    ]


def test_gitlab_drift_proposes_one_merge_request_accepting_the_portal(ci: CI) -> None:
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Renamed by hand"})
    head = ci.commit(CONFIG)
    result = ci.gitlab("konvsync-drift", head)
    assert result.exit_code == 2, result.output
    accepted = git(ci.origin, "show", "konvsync/accept-drift:portal/konvsync.yaml")
    assert "Renamed by hand" in accepted
    (merge_request,) = ci.state["gitlab"]["/projects/42/merge_requests"]
    assert merge_request["title"] == "Accept portal changes"
    assert merge_request["source_branch"] == "konvsync/accept-drift"
    assert merge_request["target_branch"] == "main"
    assert "sales" in merge_request["description"]
    ci.fresh_checkout(head)
    assert ci.gitlab("konvsync-drift", head).exit_code == 2
    assert len(ci.state["gitlab"]["/projects/42/merge_requests"]) == 1


def test_gitlab_drift_never_takes_a_fork_merge_request_for_its_own(ci: CI) -> None:
    fork = {
        "iid": 9,
        "state": "opened",
        "title": "Accept portal changes",
        "source_branch": "konvsync/accept-drift",
        "source_project_id": 99,
        "target_project_id": 42,
        "description": "from a fork",
    }
    ci.set_state({"gitlab": {"/projects/42/merge_requests": [dict(fork)]}})
    ci.sandbox.store.create("groups", {"externalId": "sales", "name": "Renamed by hand"})
    head = ci.commit(CONFIG)
    assert ci.gitlab("konvsync-drift", head).exit_code == 2
    forks, own = ci.state["gitlab"]["/projects/42/merge_requests"]
    assert forks == fork
    assert own["source_branch"] == "konvsync/accept-drift" and "sales" in own["description"]


# ---------------------------------------------------------- GitLab: apply


def gitlab_apply_state(ci: CI, head: str, merged: str) -> None:
    state = ci.state
    state.setdefault("gitlab", {}).update(
        {
            f"/projects/42/repository/commits/{merged}/merge_requests": [
                {"iid": 7, "state": "merged", "sha": head, "merge_commit_sha": merged}
            ],
            "/projects/42/merge_requests/7/pipelines": [
                {"id": 76, "sha": "0" * 40, "status": "success"},
                {"id": 77, "sha": head, "status": "success"},
            ],
            "/projects/42/pipelines/77/jobs": [{"id": 88, "name": "konvsync-plan"}],
            "/projects/42/jobs/88/artifacts/konvsync.plan": {
                "file": str(ci.root / "reviewed.plan")
            },
        }
    )
    ci.set_state(state)


def test_gitlab_apply_applies_the_plan_of_the_merged_commit(ci: CI) -> None:
    head, merged = merged_pull_request(ci, CONFIG)
    git(ci.workspace, "checkout", "--quiet", head)
    assert ci.gitlab("konvsync-plan", head).exit_code == 0
    shutil.move(ci.workspace / "konvsync.plan", ci.root / "reviewed.plan")
    gitlab_apply_state(ci, head, merged)
    git(ci.workspace, "checkout", "--quiet", merged)
    result = ci.gitlab("konvsync-apply", merged)
    assert result.exit_code == 0, result.output
    assert "Applying the plan of job 88" in result.output
    assert "Apply complete! Resources: 1 added" in result.output
    assert ci.sandbox.store.count("groups") == 1
    report = (ci.workspace / "apply-report.json").read_text()
    assert validated(report, "apply-report")["status"] == "complete"


def test_gitlab_apply_refuses_a_plan_for_another_config(ci: CI) -> None:
    head, merged = merged_pull_request(ci, CONFIG, main_adds=OTHER)
    git(ci.workspace, "checkout", "--quiet", head)
    assert ci.gitlab("konvsync-plan", head).exit_code == 0
    shutil.move(ci.workspace / "konvsync.plan", ci.root / "reviewed.plan")
    gitlab_apply_state(ci, head, merged)
    git(ci.workspace, "checkout", "--quiet", merged)
    result = ci.gitlab("konvsync-apply", merged)
    assert result.exit_code == 1
    assert "differs from the reviewed commit" in result.output
    assert ci.sandbox.store.count("groups") == 0


def test_gitlab_runner_semantics_are_real(ci: CI) -> None:
    """The harness reproduces the bug the old template had: ``$?`` on the
    line after a command sees the runner's command, not the command."""
    document = ci.root / "probe.yml"
    document.write_text(
        "probe:\n  script:\n    - set +e\n    - 'false'\n    - echo code=$?\n"
        "    - code=0; false || code=$?; echo one-line=$code\n"
    )
    result = run_gitlab_job(document, "probe", ci.workspace, ci.env(), {})
    assert "code=0" in result.output and "one-line=1" in result.output


# ------------------------------------------- GitHub: the action's arguments


ACTION_STEP = """\
name: args
on: {{pull_request: {{}}}}
env:
  KONVSYNC_ENDPOINT: production
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - id: konvsync
        uses: konvsync/konvsync@<commit-sha>
        with:
          command: plan
          path: portal
          format: text
          args: {args}
        env:
          KONVERT_API_KEY: ${{{{ secrets.KONVERT_API_KEY }}}}
          KONVERT_API_SECRET: ${{{{ secrets.KONVERT_API_SECRET }}}}
"""
TWO_LINKS = (
    CONFIG.rstrip(" ")
    + """\
    inviteLinks:
      - {title: Dealer sign-up, access: OPEN}
      - {title: Walk-in, access: OPEN, active: false}
    """
)


@pytest.mark.parametrize(
    "args",
    [
        '--target "inviteLinks/Dealer sign-up"',
        "--target inviteLinks/Dealer\\ sign-up",
        "|\n            --target 'inviteLinks/Dealer sign-up'\n            --detailed-exitcode",
    ],
    ids=["double-quotes", "backslash", "multi-line"],
)
def test_action_args_are_split_as_a_shell_splits_words(ci: CI, args: str) -> None:
    """A key holding a space reaches konvsync as one argument."""
    head = ci.commit(TWO_LINKS)
    workflow = ci.root / "args.yml"
    workflow.write_text(ACTION_STEP.format(args=args))
    result = ci.github("args", "plan", head, workflow_file=workflow)
    step = result.step("konvsync")
    assert result.status == "success", result.log
    assert step.outputs["exitcode"] == "2"
    assert "# inviteLinks/Dealer sign-up will be created" in step.stdout
    assert "Walk-in" not in step.stdout and "groups/sales" not in step.stdout  # only the target
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in step.stdout


def test_action_args_with_an_unbalanced_quote_fail_with_the_reason(ci: CI) -> None:
    head = ci.commit(TWO_LINKS)
    workflow = ci.root / "args.yml"
    workflow.write_text(ACTION_STEP.format(args="--target 'inviteLinks/Dealer sign-up"))
    result = ci.github("args", "plan", head, workflow_file=workflow)
    assert result.status == "failure"
    step = result.step("konvsync")
    assert step.exit_code == 1
    assert "::error title=konvsync::cannot split the args input: No closing quotation" in (
        step.stdout
    )
    assert "Plan:" not in step.stdout


# ------------------------------------ the config's variables reach each job


INVITE_CODE = "Sesame-4711-secret"
WITH_A_CODE = (
    CONFIG.rstrip(" ")
    + """\
    variables: [DEALER_INVITE_CODE]
    inviteLinks:
      - {title: Dealer sign-up, access: CODE, code: "${env:DEALER_INVITE_CODE}"}
    """
)
SECRETS = {"KONVERT_API_KEY": KEY, "KONVERT_API_SECRET": SECRET, "DEALER_INVITE_CODE": INVITE_CODE}


def test_github_plan_and_apply_pass_the_variables_the_config_lists(ci: CI) -> None:
    """An invite link's code from ${env:DEALER_INVITE_CODE}: the plan job
    plans it and the apply job applies the saved plan (which is refused,
    exit 3, when the variable is unset), the code in no comment or log."""
    head, merged = merged_pull_request(ci, WITH_A_CODE)
    git(ci.workspace, "checkout", "--quiet", head)
    planned = ci.github("konvsync-plan.yml", "plan", head, secrets=SECRETS)
    assert planned.status == "success", planned.log
    assert planned.step("Plan").outputs["exitcode"] == "2"
    state = ci.state
    state["api"][f"repos/{REPO}/actions/workflows/konvsync-plan.yml/runs"] = {
        "workflow_runs": [{"id": 31337}]
    }
    ci.set_state(state)
    applied = ci.github("konvsync-apply.yml", "apply", head, merged=merged, secrets=SECRETS)
    assert applied.status == "success", applied.log
    (link,) = ci.sandbox.store.objects("inviteLinks")
    assert link["code"] == INVITE_CODE
    comment = ci.state["api"][COMMENTS][0]["body"]
    for text in (comment, planned.log, applied.log, planned.summary, applied.summary):
        assert INVITE_CODE not in text


def test_gitlab_plan_and_apply_pass_the_variables_the_config_lists(ci: CI) -> None:
    head, merged = merged_pull_request(ci, WITH_A_CODE)
    git(ci.workspace, "checkout", "--quiet", head)
    planned = ci.gitlab("konvsync-plan", head, DEALER_INVITE_CODE=INVITE_CODE)
    assert planned.exit_code == 0, planned.output
    shutil.move(ci.workspace / "konvsync.plan", ci.root / "reviewed.plan")
    gitlab_apply_state(ci, head, merged)
    git(ci.workspace, "checkout", "--quiet", merged)
    applied = ci.gitlab("konvsync-apply", merged, DEALER_INVITE_CODE=INVITE_CODE)
    assert applied.exit_code == 0, applied.output
    (link,) = ci.sandbox.store.objects("inviteLinks")
    assert link["code"] == INVITE_CODE
    assert INVITE_CODE not in planned.output + applied.output


# ------------------------------ apply: the reviewed commit a clone lacks


def squash_merged_into_a_shallow_clone(ci: CI, publish_head: bool) -> tuple[str, str]:
    """A pull request squash-merged into main, its branch deleted: origin
    has main and (``publish_head``) GitHub's and GitLab's refs of the
    request's head; the workspace becomes a shallow clone of main (as
    actions/checkout and GIT_DEPTH make). The plan was made at the head."""
    ci.commit("konvsync: 1\n", "start")
    git(ci.workspace, "checkout", "--quiet", "-b", "feature")
    head = ci.commit(CONFIG)
    assert ci.github("konvsync-plan.yml", "plan", head).status == "success"
    assert ci.gitlab("konvsync-plan", head).exit_code == 0
    shutil.move(ci.workspace / "konvsync.plan", ci.root / "reviewed.plan")
    git(ci.workspace, "checkout", "--quiet", "main")
    git(ci.workspace, "merge", "--quiet", "--squash", "feature")
    git(ci.workspace, "commit", "--quiet", "-m", "squashed")
    merged = git(ci.workspace, "rev-parse", "HEAD")
    git(ci.workspace, "push", "--quiet", "origin", "main")
    if publish_head:
        for ref in ("refs/pull/7/head", "refs/merge-requests/7/head"):
            git(ci.workspace, "push", "--quiet", "origin", f"{head}:{ref}")
    shutil.rmtree(ci.workspace)
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", "--branch", "main",
         f"file://{ci.origin}", str(ci.workspace)],
        check=True,
    )  # fmt: skip
    assert (
        subprocess.run(["git", "cat-file", "-e", f"{head}^{{commit}}"], cwd=ci.workspace).returncode
        != 0
    )  # the reviewed commit is not in the clone
    return head, merged


def with_plan_run(ci: CI) -> None:
    state = ci.state
    state["api"][f"repos/{REPO}/actions/workflows/konvsync-plan.yml/runs"] = {
        "workflow_runs": [{"id": 31337}]
    }
    ci.set_state(state)


def test_github_apply_fetches_the_reviewed_commit_the_clone_lacks(ci: CI) -> None:
    head, merged = squash_merged_into_a_shallow_clone(ci, publish_head=True)
    with_plan_run(ci)
    result = ci.github("konvsync-apply.yml", "apply", head, merged=merged)
    assert result.status == "success", result.log
    assert "differs" not in result.log
    assert ci.sandbox.store.count("groups") == 1


def test_github_apply_says_why_when_the_reviewed_commit_cannot_be_fetched(ci: CI) -> None:
    head, merged = squash_merged_into_a_shallow_clone(ci, publish_head=False)
    with_plan_run(ci)
    result = ci.github("konvsync-apply.yml", "apply", head, merged=merged)
    assert result.status == "failure"
    step = result.step("Find the plan run of the merged pull request's last commit")
    assert f"::error title=konvsync::cannot fetch the reviewed commit {head} from origin" in (
        step.stdout
    )
    assert "differs" not in step.stdout
    assert result.step("Apply the reviewed plan").ran is False
    assert ci.sandbox.store.count("groups") == 0


@pytest.mark.parametrize("publish_head", [True, False], ids=["fetched", "missing"])
def test_gitlab_apply_fetches_the_reviewed_commit_the_clone_lacks(
    ci: CI, publish_head: bool
) -> None:
    head, merged = squash_merged_into_a_shallow_clone(ci, publish_head)
    gitlab_apply_state(ci, head, merged)
    result = ci.gitlab("konvsync-apply", merged)
    assert "differs" not in result.output
    if publish_head:
        assert result.exit_code == 0, result.output
        assert ci.sandbox.store.count("groups") == 1
    else:
        assert result.exit_code == 1
        assert f"Cannot fetch the reviewed commit {head} of !7 from origin" in result.output
        assert ci.sandbox.store.count("groups") == 0


# ------------------------------------------------ GitHub: the environments


def environments_checkout(ci: CI) -> str:
    """examples/environments as portal/, with an invite link whose code comes
    from the environment's secret."""
    shutil.copytree(ROOT / "examples" / "environments", ci.workspace / "portal")
    (ci.workspace / "portal" / "base" / "links.yaml").write_text(
        "variables: [DEALER_INVITE_CODE]\ninviteLinks:\n"
        '  - {title: Dealer sign-up, access: CODE, code: "${env:DEALER_INVITE_CODE}"}\n'
    )
    git(ci.workspace, "add", "portal")
    git(ci.workspace, "commit", "--quiet", "-m", "environments")
    return git(ci.workspace, "rev-parse", "HEAD")


def run_environments(
    ci: CI, sandbox_factory: SandboxFactory, event: str, staging_read_only: bool = False
) -> tuple[dict[str, list[JobResult]], RunningSandbox, RunningSandbox]:
    staging = sandbox_factory(
        portal_name="ACME Partner Portal (staging)", read_only=staging_read_only
    )
    production = sandbox_factory(portal_name="ACME Partner Portal")
    head = environments_checkout(ci)
    environments = {
        name: Environment(
            secrets={
                "KONVERT_API_KEY": KEY,
                "KONVERT_API_SECRET": SECRET,
                "DEALER_INVITE_CODE": f"{name}-code-4711",
            },
            runner_env={"KONVSYNC_ENDPOINT": sandbox.url},
        )
        for name, sandbox in (("staging", staging), ("production", production))
    }
    github = ci.github_context(head, event_name=event)
    results = run_workflow(
        GITHUB / "konvsync-environments.yml",
        lambda job, index: ci.runner(f"{job}-{index}", github, {}, environments),
    )
    return results, staging, production


def test_github_environments_never_apply_production_after_staging_failed(
    ci: CI, sandbox_factory: SandboxFactory
) -> None:
    results, _, production = run_environments(ci, sandbox_factory, "push", staging_read_only=True)
    assert job_result(results["plan"]) == "skipped"
    assert job_result(results["staging"]) == "failure"
    (staging_run,) = results["staging"]
    assert staging_run.step("konvsync").outputs["exitcode"] == "1"
    assert job_result(results["production"]) == "skipped"
    assert production.store.count("groups") == 0 and not production.state.requests


def test_github_environments_apply_staging_then_production(
    ci: CI, sandbox_factory: SandboxFactory
) -> None:
    results, staging, production = run_environments(ci, sandbox_factory, "push")
    assert job_result(results["staging"]) == "success", results["staging"][0].log
    assert job_result(results["production"]) == "success", results["production"][0].log
    # each portal got its overlay and its own environment's secret
    assert staging.store.count("groups") == 4 and production.store.count("groups") == 3
    (staging_link,) = staging.store.objects("inviteLinks")
    (production_link,) = production.store.objects("inviteLinks")
    assert staging_link["code"] == "staging-code-4711"
    assert production_link["code"] == "production-code-4711"


def test_github_environments_plan_both_portals_on_a_pull_request(
    ci: CI, sandbox_factory: SandboxFactory
) -> None:
    results, staging, production = run_environments(ci, sandbox_factory, "pull_request")
    assert job_result(results["staging"]) == "skipped"
    assert job_result(results["production"]) == "skipped"
    staging_plan, production_plan = results["plan"]
    for run in (staging_plan, production_plan):
        assert run.status == "success", run.log
        assert run.step("konvsync").outputs["exitcode"] == "2"
    assert "groups/qa-testers" in staging_plan.summary
    assert "groups/qa-testers" not in production_plan.summary
    assert staging.store.count("groups") == 0 and production.store.count("groups") == 0
