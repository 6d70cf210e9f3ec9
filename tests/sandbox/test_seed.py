"""``konvsync sandbox --seed``: a new sandbox filled from a konvsync config,
all of it or nothing, and only once the server can serve it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from konvsync.sandbox.store import Store
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _request_logging_restored() -> Iterator[None]:
    """``konvsync sandbox`` run in-process turns on the sandbox's request log
    for the process: later tests in this worker would read it on stderr."""
    sandbox_log = logging.getLogger("konvsync.sandbox")
    level = sandbox_log.level
    yield
    sandbox_log.setLevel(level)


def groups_in(path: Path) -> list[str]:
    store = Store(str(path))
    try:
        return sorted(row["externalId"] for row in store.objects("groups"))
    finally:
        store.close()


def test_a_seed_that_fails_part_way_writes_nothing(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """The seed created objects one by one and kept those made before one
    failed: exit 1 with a file half seeded, and every later ``--seed`` of the
    corrected config failed on the objects left behind."""
    db = tmp_path / "sandbox.db"
    config = write_config(
        """\
        konvsync: 1
        groups:
          - {externalId: first, name: First}
          - {externalId: second, name: Second, lmsModules: [no-such-module]}
        """
    )
    result = invoke(["sandbox", "--port", "0", "--db", str(db), "--seed", str(config)])
    assert result.exit_code == 1, result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: {config}: cannot seed the sandbox: "), error
    assert "nothing was seeded" in error, error
    assert groups_in(db) == []


def test_a_seed_is_not_written_when_the_port_cannot_be_bound(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """The seed was written before the port was bound: "cannot listen"
    (exit 1) left the file seeded, and the same command on a free port then
    failed with "externalId 'g' is already taken"."""
    db = tmp_path / "sandbox.db"
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(["sandbox", "--port", str(port), "--db", str(db), "--seed", str(config)])
    assert result.exit_code == 1, result.output
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert groups_in(db) == []


def test_seeding_a_file_that_holds_data_says_so(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """README's sandbox example after its "Set up" (whose apply filled
    .konvsync/sandbox.db with the quickstart) failed with "cannot seed the
    sandbox: externalId 'portal-admins' is already taken", which did not
    say that the file was the problem or what to do."""
    db = tmp_path / "sandbox.db"
    store = Store(str(db))
    try:
        store.create("groups", {"externalId": "made-before", "name": "Before"})
    finally:
        store.close()
    config = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    result = invoke(["sandbox", "--port", "0", "--db", str(db), "--seed", str(config)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {config}: cannot seed the sandbox: {db} already holds data "
        "(--seed fills a new sandbox): delete the file to start over, or give another --db"
    )
    assert groups_in(db) == ["made-before"]


def test_the_readme_sandbox_example_serves_the_quickstart(tmp_path: Path) -> None:
    """README, "The sandbox": the server seeded with the quickstart, and
    konvsync pointed at it finds nothing to do."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    quickstart = str(ROOT / "examples" / "quickstart")
    command = ["sandbox", "--port", "0", "--db", ":memory:", "--seed", quickstart]
    server = subprocess.Popen(
        [sys.executable, "-m", "konvsync", *command],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert first.startswith("Konvert sandbox serving http://127.0.0.1:"), first
        url = first.split()[3].removesuffix("/api")
        deadline = time.monotonic() + 30
        while "Press Ctrl-C" not in server.stderr.readline():
            assert time.monotonic() < deadline
        result = invoke(["--endpoint", url, "plan", quickstart, "--detailed-exitcode"])
        assert result.exit_code == 0, result.output
        assert "No changes." in result.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
