"""The Dockerfile: a slim Python base, a non-root user, konvsync as the
entrypoint. It is built only where docker is installed and its daemon
answers, and where the base image can be had; otherwise the build test is
skipped with the reason."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def test_dockerfile_is_slim_non_root_with_the_konvsync_entrypoint() -> None:
    steps = instructions()
    bases = [value.split()[0] for name, value in steps if name == "FROM"]
    assert bases and all(b.startswith("python:") and b.endswith("-slim") for b in bases)
    final = steps[max(i for i, (name, _) in enumerate(steps) if name == "FROM") :]
    users = [value for name, value in final if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["konvsync"]') in final
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


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
