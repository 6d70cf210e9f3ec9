"""Honest records after signals: random SIGKILL, SIGTERM and double-SIGINT
trials during a cold apply of N users (N/10 accounts with one location
each, N/100 groups), each against a fresh sandbox with --latency-ms L.

Each trial starts ``konvsync apply --auto-approve --report FILE`` in its own
process, waits until the portal holds a random number of the users, sends
the signal (a double SIGINT: the second after a random pause of up to
0.3 s), and waits for the process to end and for what it sent to land.
Then it checks, per kind:

  - the report file is valid JSON and fits schemas/apply-report.schema.json;
  - it never claims fewer changes done than the portal shows, nor more:
    done <= in the portal <= done + maybe (maybe: pending, or failed as
    ABANDONED: "may or may not have been applied");
  - a second apply (no signal) exits 0, the plan after it is clean, and the
    portal holds each object exactly once.

    python benchmarks/signal_trials.py [--trials 20] [-n 2000] [--latency-ms 100]
        [--parallelism 2] [--seed S] [--json]

Exit 0 when every trial holds, 1 otherwise. The sandbox runs in this
process (its objects are counted directly); konvsync runs in its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sync_bench import config_text, shape  # noqa: E402

from konvsync.sandbox.faults import FaultSettings  # noqa: E402
from konvsync.sandbox.server import (  # noqa: E402
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    SandboxSettings,
    running_sandbox,
)
from konvsync.sandbox.store import Store  # noqa: E402

SIGNALS = ("SIGKILL", "SIGTERM", "double-SIGINT")
KINDS = ("groups", "accounts", "locations", "users")
SCHEMA = json.loads((HERE.parent / "schemas" / "apply-report.schema.json").read_text())


@dataclass
class Trial:
    number: int
    signal: str
    target: int
    """Users in the portal when the signal was sent."""
    exit_code: int | None = None
    status: str | None = None
    """The report's status."""
    done: dict[str, int] = field(default_factory=dict)
    maybe: dict[str, int] = field(default_factory=dict)
    portal: dict[str, int] = field(default_factory=dict)
    rerun_exit: int | None = None
    plan_exit: int | None = None
    final: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONVSYNC_")}
    env.update(KONVERT_API_KEY=DEFAULT_API_KEY, KONVERT_API_SECRET=DEFAULT_API_SECRET, NO_COLOR="1")
    return env


def konvsync(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "konvsync", "--endpoint", url, *args]


def counts(store: Store) -> dict[str, int]:
    return {kind: store.count(kind) for kind in KINDS}


def report_counts(report: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Per kind: changes done, and changes that may or may not have been applied."""
    done = dict.fromkeys(KINDS, 0)
    maybe = dict.fromkeys(KINDS, 0)
    for change in report["changes"]:
        if change["action"] != "create":
            continue
        if change["status"] == "done":
            done[change["kind"]] += 1
        elif change["status"] == "pending" or (change["error"] or {}).get("code") == "ABANDONED":
            maybe[change["kind"]] += 1
    return done, maybe


def wait_for_users(store: Store, target: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while store.count("users") < target and process.poll() is None:
        if time.monotonic() > deadline:
            raise SystemExit("the apply made no progress in 120 s")
        time.sleep(0.005)


def send(process: subprocess.Popen[bytes], name: str, rng: random.Random) -> None:
    if name == "double-SIGINT":
        process.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGINT)
    else:
        process.send_signal(getattr(signal, name))


def run_trial(number: int, name: str, args: argparse.Namespace, rng: random.Random) -> Trial:
    users, accounts, groups = shape(args.users)
    trial = Trial(number, name, rng.randint(1, users - 1))
    started = time.monotonic()
    settings = SandboxSettings(
        port=0, db=":memory:", faults=FaultSettings(latency_ms=args.latency_ms)
    )
    with tempfile.TemporaryDirectory() as temporary, running_sandbox(settings) as sandbox:
        directory = Path(temporary)
        config = directory / "konvsync.yaml"
        config.write_text(config_text(args.users, changed=False), encoding="utf-8")
        report_file = directory / "report.json"
        apply = [
            "apply",
            str(config),
            "--auto-approve",
            "--parallelism",
            str(args.parallelism),
            "--report",
            str(report_file),
        ]
        with (directory / "output.txt").open("wb") as output:
            process = subprocess.Popen(
                konvsync(sandbox.url, *apply),
                stdout=output,
                stderr=output,
                env=environment(),
                cwd=directory,
            )
            wait_for_users(sandbox.store, trial.target, process)
            trial.target = sandbox.store.count("users")
            if process.poll() is None:
                send(process, name, rng)
            else:
                trial.problems.append("the apply ended before the signal")
            try:
                trial.exit_code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                trial.problems.append("still running 60 s after the signal")
                trial.exit_code = process.wait()
        time.sleep(3 * args.latency_ms / 1000 + 0.3)  # what was sent lands
        trial.portal = counts(sandbox.store)
        try:
            report = json.loads(report_file.read_text(encoding="utf-8"))
            jsonschema.validate(report, SCHEMA)
        except (OSError, ValueError, jsonschema.ValidationError) as exc:
            trial.problems.append(f"report unusable: {str(exc).splitlines()[0]}")
            report = {"status": None, "changes": []}
        trial.status = report["status"]
        trial.done, trial.maybe = report_counts(report)
        for kind in KINDS:
            done, maybe, portal = trial.done[kind], trial.maybe[kind], trial.portal[kind]
            if not done <= portal <= done + maybe:
                trial.problems.append(f"{kind}: {done} done, {maybe} maybe, {portal} in the portal")
        again = subprocess.run(
            konvsync(sandbox.url, "apply", str(config), "--auto-approve"),
            capture_output=True,
            env=environment(),
            cwd=directory,
        )
        trial.rerun_exit = again.returncode
        planned = subprocess.run(
            konvsync(sandbox.url, "plan", str(config), "--detailed-exitcode"),
            capture_output=True,
            env=environment(),
            cwd=directory,
        )
        trial.plan_exit = planned.returncode
        trial.final = counts(sandbox.store)
        wanted = {"groups": groups, "accounts": accounts, "locations": accounts, "users": users}
        if trial.rerun_exit != 0:
            trial.problems.append(f"the second apply exited {trial.rerun_exit}")
        if trial.plan_exit != 0:
            trial.problems.append(f"the plan after it exited {trial.plan_exit}")
        if trial.final != wanted:
            trial.problems.append(f"objects after the second apply: {trial.final}, not {wanted}")
    trial.seconds = time.monotonic() - started
    return trial


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("-n", "--users", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # A killed konvsync leaves requests half-read: the sandbox's log of each is noise here.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    names = [SIGNALS[i % len(SIGNALS)] for i in range(args.trials)]
    rng.shuffle(names)
    trials = []
    for number, name in enumerate(names, 1):
        trial = run_trial(number, name, args, rng)
        trials.append(trial)
        if not args.json:
            verdict = "ok" if trial.ok else "FAILED: " + "; ".join(trial.problems)
            print(
                f"{number:2} {name:<13} users at signal {trial.target:>5}  exit {trial.exit_code}"
                f"  report {trial.status}: users {trial.done['users']} done + "
                f"{trial.maybe['users']} maybe, portal {trial.portal['users']}  rerun "
                f"{trial.rerun_exit}, plan {trial.plan_exit}  {trial.seconds:.1f}s  {verdict}",
                flush=True,
            )
    failed = [t for t in trials if not t.ok]
    if args.json:
        print(json.dumps({"seed": seed, "trials": [asdict(t) for t in trials]}, indent=2))
    else:
        print(
            f"seed {seed}: {len(trials) - len(failed)} of {len(trials)} trials held "
            f"(n={args.users}, latency {args.latency_ms:g} ms, parallelism {args.parallelism})"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
