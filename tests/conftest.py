"""Shared fixtures: a real sandbox server on loopback, the real CLI, real files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from konvsync.cli.main import cli
from konvsync.sandbox.faults import FaultSettings
from konvsync.sandbox.server import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    RunningSandbox,
    SandboxSettings,
    running_sandbox,
)
from konvsync.sandbox.store import Store
from konvsync.support import redact
from tests.published_schemas import OutputCheck

KEY = DEFAULT_API_KEY
SECRET = DEFAULT_API_SECRET


@dataclass
class CliRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke(
    args: list[str], env: Mapping[str, str | None] | None = None, input: str | None = None
) -> CliRun:
    """Run the real CLI in-process, through the same ``main`` as the console
    script; every JSON document it makes must fit its published schema.
    ``env`` adds to the environment (a variable given None is unset)."""
    runner = CliRunner()
    base = {"KONVERT_API_KEY": KEY, "KONVERT_API_SECRET": SECRET, "NO_COLOR": "1"}
    outputs = OutputCheck.before(args)
    result: Result = runner.invoke(cli, args, env={**base, **(env or {})}, input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    outputs.after(result.stdout)
    return CliRun(result.exit_code, result.stdout, result.stderr)


SandboxFactory = Callable[..., RunningSandbox]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """Start sandboxes with custom settings; all stop at the end of the test."""
    stack: list[Any] = []

    def start(store: Store | None = None, **kwargs: Any) -> RunningSandbox:
        fault_keys = {
            "latency_ms",
            "fail_rate",
            "rate_limit",
            "drop_after_commit_rate",
            "page_cap",
            "seed",
            "ignore_fields",
        }
        faults = FaultSettings(**{k: kwargs.pop(k) for k in list(kwargs) if k in fault_keys})
        settings = SandboxSettings(port=0, db=":memory:", faults=faults, **kwargs)
        context = running_sandbox(settings, store)
        running = context.__enter__()
        stack.append(context)
        return running

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> RunningSandbox:
    return sandbox_factory()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a YAML file (dedented) under tmp_path and return its path."""

    def write(text: str, name: str = "konvsync.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``endpoint: sandbox`` keeps its data in ./.konvsync: keep it per test."""
    monkeypatch.chdir(tmp_path)
    for name in ("KONVSYNC_ENDPOINT", "KONVSYNC_AUTH", "KONVSYNC_SANDBOX_DB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy set on the machine (``HTTP_PROXY``) is left in place, and
    konvsync never takes it for loopback; the tests' own HTTP clients
    (requests, gql) would send their requests to the sandbox through it.
    The tests of proxies set or clear every proxy variable themselves."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,::1")


@pytest.fixture(autouse=True)
def _forget_secrets_of_other_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values a test registers as secret (a fuzzed invite code such as
    ``sales``) are redacted in that test only: the registry lives for the
    process, and a later test's output naming a group ``sales-emea`` showed
    ``***-emea``; a short one (``a``) made a later test's "accounts without
    a value" read "accounts without *** value"."""
    monkeypatch.setattr(redact, "_secrets", set(redact._secrets))
    monkeypatch.setattr(redact, "_short", set(redact._short))
    monkeypatch.setattr(redact, "_short_pattern", None)
    monkeypatch.setattr(redact, "_short_words_pattern", None)
