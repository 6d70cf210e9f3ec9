"""The Dockerfile: a slim Python base, a non-root user, konvsync as the
entrypoint (docker/entrypoint.sh, run here as the image runs it), and what
the GitLab template's jobs call. It is built only where docker is installed
and its daemon answers, and where the base image can be had; otherwise the
build test is skipped with the reason."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from konvsync import __version__

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    return steps[max(i for i, (name, _) in enumerate(steps) if name == "FROM") :]


def test_dockerfile_is_slim_non_root_with_the_konvsync_entrypoint() -> None:
    steps = instructions()
    bases = [value.split()[0] for name, value in steps if name == "FROM"]
    assert bases and all(b.startswith("python:") and b.endswith("-slim") for b in bases)
    final = final_stage()
    users = [value for name, value in final if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["konvsync-entrypoint"]') in final
    assert ("COPY", "docker/entrypoint.sh /usr/local/bin/konvsync-entrypoint") in final
    assert (ROOT / "docker" / "entrypoint.sh").stat().st_mode & 0o111  # executable
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "docker" not in ignored
    # running as you on a bind mount is documented where users read it
    for text in (DOCKERFILE.read_text(), (ROOT / "README.md").read_text()):
        assert '--user "$(id -u):$(id -g)" -v "$PWD:/work"' in " ".join(text.split())


def test_the_image_has_what_the_gitlab_jobs_call() -> None:
    """The GitLab template says its jobs may run in this image: every tool
    its scripts call is installed in it (python3 comes with the base)."""
    pipeline = yaml.safe_load((ROOT / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml").read_text())
    scripts = "\n".join(
        line
        for job in pipeline.values()
        if isinstance(job, dict) and "script" in job
        for line in job["script"]
    )
    used = {t for t in ("git", "curl", "python3", "jq", "wget") if re.search(rf"\b{t} ", scripts)}
    assert {"git", "curl", "python3"} <= used
    installs = " ".join(v for n, v in final_stage() if n == "RUN" and "apt-get install" in v)
    installed = {*re.findall(r"[\w.+-]+", installs.split("apt-get install", 1)[1]), "python3"}
    assert used <= installed, f"the image lacks {used - installed}"


def entrypoint(*args: str) -> subprocess.CompletedProcess[str]:
    """docker/entrypoint.sh run by sh, as the image runs it, with this
    environment's konvsync on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        timeout=60,
    )


def test_the_entrypoint_runs_konvsync_and_any_command_the_image_has() -> None:
    assert entrypoint("--version").stdout.strip() == f"konvsync, version {__version__}"
    assert entrypoint("export", "--help").stdout.startswith("Usage: konvsync export")
    validate = entrypoint("validate", str(ROOT / "examples" / "quickstart"))
    assert validate.returncode == 0 and "valid" in validate.stdout
    # GitLab's Docker executor starts its shell as the image's command
    shell = entrypoint("sh", "-c", "echo runner shell; git --version > /dev/null && echo git")
    assert shell.returncode == 0 and shell.stdout == "runner shell\ngit\n"
    failing = entrypoint("sh", "-c", "exit 3")
    assert failing.returncode == 3
    assert entrypoint("plan").returncode == 1  # konvsync's usage error, not sh's


def _docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    info = _docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    if info.returncode != 0:
        pytest.skip(f"the docker daemon is not usable here: {info.stderr.strip()[:200]}")
    base = next(v.split()[0] for n, v in instructions() if n == "FROM")
    if _docker("image", "inspect", base, timeout=30).returncode != 0:
        pulled = _docker("pull", base)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {base} cannot be pulled here: {pulled.stderr[:200]}")
    tag = f"konvsync-test:{uuid.uuid4().hex[:12]}"
    built = _docker("build", "--tag", tag, str(ROOT))
    if built.returncode != 0 and "pip" in built.stderr and "connection" in built.stderr.lower():
        pytest.skip("the build cannot reach the package index for konvsync's dependencies")
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    _docker("image", "rm", "--force", tag, timeout=120)


def test_image_runs_konvsync_as_a_non_root_user(image: str) -> None:
    version = _docker("run", "--rm", image, "--version", timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"konvsync, version {__version__}"
    uid = _docker("run", "--rm", "--entrypoint", "id", image, "-u", timeout=120)
    assert uid.stdout.strip() not in ("", "0")
    schema = _docker("run", "--rm", image, "schema", timeout=120)
    assert schema.returncode == 0 and '"$schema"' in schema.stdout
