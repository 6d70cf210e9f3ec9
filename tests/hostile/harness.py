"""What the hostile tests share: a small seeded portal and a config that
mostly matches it, konvsync run as a subprocess with a deadline, and the
assertions on its one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from konvsync.app.seeding import seed_store
from konvsync.sandbox.faults import FaultSettings
from konvsync.sandbox.server import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    RunningSandbox,
    SandboxSettings,
    running_sandbox,
)
from tests.hostile.server import Case, HostileServer, running_hostile_server

DEADLINE = float(os.environ.get("KONVSYNC_HOSTILE_DEADLINE", "60"))
"""Seconds an apply may take against a hostile portal (issue 12: within 60 s)."""

PAGE_CAP = 10
"""The sandbox's page size: 30 users make three pages of ReadUsers."""

CONTRACT = "does not fit the API contract"
PREFIX = "the portal's answer does not fit the API contract: "
FORBIDDEN = ("Traceback", "unexpected", "please report")

USERS = 30
PERMISSIONS = [["MANAGE_DAMS"], ["MANAGE_NEWS", "VIEW_ACCOUNT_USERS"], [], ["MANAGE_USERS"], []]


def portal_yaml(
    changed: bool,
    more_groups: Sequence[str] = (),
    more_users: Sequence[str] = (),
    more_accounts: Sequence[str] = (),
    permissions: Mapping[int, list[str]] | None = None,
) -> str:
    """The seeded portal (``changed=False``) or the config konvsync applies:
    the same objects with one group renamed and one user's title changed,
    every kind pruned; plus ``more_groups``, ``more_accounts`` and
    ``more_users`` (YAML flow mappings) and groups whose ``permissions``
    differ (by index)."""
    lines = ["konvsync: 1"]
    if changed:
        lines += [
            "policy:",
            "  prune: [groups, accountFields, accounts, users]",
            "  max_delete_percent: 100",
        ]
    lines.append("groups:")
    for i, granted in enumerate(PERMISSIONS):
        name = "Team One" if changed and i == 1 else f"Team {i}"
        granted = (permissions or {}).get(i, granted)
        lines.append(
            f"  - {{externalId: team-{i}, name: {name}, permissions: [{', '.join(granted)}]}}"
        )
    lines += [f"  - {group}" for group in more_groups]
    lines += [
        "accountFields:",
        "  - {key: account_number, label: Account Number, type: TEXT}",
        "  - {key: tier, label: Tier, type: SELECT, options: [gold, silver]}",
        "  - {key: since, label: Customer since, type: DATE}",
        "accounts:",
    ]
    for i in range(4):
        lines += [
            f"  - externalId: acct-{i}",
            f"    name: Account {i}",
            f"    userGroups: [team-{i}]",
            f"    customFields: {{account_number: A-{i:04}, tier: gold}}",
            "    locations:",
            "      - {name: HQ, phone: '+1 555 0100', address: {city: Springfield, country: US}}",
            "      - {name: Depot, address: {city: Shelbyville, country: US}}",
        ]
    lines += [f"  - {account}" for account in more_accounts]
    lines.append("users:")
    for i in range(USERS):
        title = "Lead" if changed and i == 5 else "Member"
        lines.append(
            f"  - {{email: user{i:02}@example.test, firstName: First{i}, lastName: Last{i},"
            f" title: {title}, account: acct-{i % 4}, groups: [team-{i % 5}]}}"
        )
    lines += [f"  - {user}" for user in more_users]
    return "\n".join(lines) + "\n"


def seeded_sandbox_settings(latency_ms: float = 0.0) -> SandboxSettings:
    faults = FaultSettings(page_cap=PAGE_CAP, latency_ms=latency_ms)
    return SandboxSettings(port=0, db=":memory:", faults=faults)


@contextmanager
def seeded_sandbox(directory: Path, latency_ms: float = 0.0) -> Iterator[RunningSandbox]:
    """A fresh in-memory sandbox holding :func:`portal_yaml` (unchanged)."""
    seed = directory / "seed.yaml"
    seed.write_text(portal_yaml(changed=False), encoding="utf-8")
    with running_sandbox(seeded_sandbox_settings(latency_ms)) as sandbox:
        seed_store(sandbox.store, str(seed))
        yield sandbox


@contextmanager
def hostile_portal(directory: Path, case: Case) -> Iterator[HostileServer]:
    """A seeded sandbox behind a hostile portal playing ``case``."""
    with seeded_sandbox(directory) as sandbox, running_hostile_server(sandbox.url, case) as server:
        yield server


@dataclass
class Finished:
    exit_code: int | None
    """None when konvsync was still running at the deadline (and was killed)."""
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (
            f"exit {self.exit_code} after {self.seconds:.1f}s\n--- stdout\n{self.stdout[-3000:]}"
            f"\n--- stderr\n{self.stderr[-3000:]}"
        )


@dataclass
class Running:
    """A konvsync subprocess; :meth:`finish` waits for it (or kills it)."""

    process: subprocess.Popen[str]
    started: float

    def finish(self, deadline: float = DEADLINE) -> Finished:
        left = max(0.1, deadline - (time.monotonic() - self.started))
        try:
            stdout, stderr = self.process.communicate(timeout=left)
            code: int | None = self.process.returncode
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            code = None
        return Finished(code, stdout, stderr, time.monotonic() - self.started)


def start_konvsync(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Running:
    """Start ``konvsync ARGS`` (the installed CLI, through ``python -m``)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KONVSYNC_")}
    base.update({"KONVERT_API_KEY": DEFAULT_API_KEY, "KONVERT_API_SECRET": DEFAULT_API_SECRET})
    base.update({"NO_COLOR": "1", **(env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "konvsync", *args],
        cwd=cwd,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Running(process, time.monotonic())


def run_konvsync(
    args: list[str], cwd: Path, deadline: float = DEADLINE, env: dict[str, str] | None = None
) -> Finished:
    """``konvsync ARGS`` in a subprocess, killed at ``deadline`` seconds."""
    return start_konvsync(args, cwd, env).finish(deadline)


def apply_args(endpoint: str, config: Path, *extra: str) -> list[str]:
    return [*extra, "--endpoint", endpoint, "apply", str(config), "--auto-approve"]


def write_desired(directory: Path, **changes: Any) -> Path:
    """The config to apply (see :func:`portal_yaml` for ``changes``)."""
    config = directory / "konvsync.yaml"
    config.write_text(portal_yaml(changed=True, **changes), encoding="utf-8")
    return config


def after_plan(result: Finished) -> str:
    """What konvsync said after printing its plan (the apply's own report)."""
    _, _, rest = result.stdout.partition("\nPlan: ")
    return rest + result.stderr


def one_error_line(result: Finished) -> str:
    """The error line of a run that failed with exit 1: asserts there is
    exactly one ``Error`` line, and no traceback-like text anywhere."""
    assert result.exit_code is not None, f"still running at the deadline: {result.describe()}"
    assert result.exit_code == 1, result.describe()
    for word in FORBIDDEN:
        assert word not in result.output, f"{word!r} in the output: {result.describe()}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, f"one Error line expected: {result.describe()}"
    return errors[0]


def assert_contract_message(line: str, operation: str) -> None:
    """``line`` is the contract message about ``operation``."""
    assert PREFIX in line, f"not the contract message: {line}"
    assert line.index(PREFIX) + len(PREFIX) == line.index(f"{operation}: "), (
        f"{operation} does not follow the prefix: {line}"
    )
