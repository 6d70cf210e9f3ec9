"""konvsync at portal scale: its own CPU per object, round trips, time and memory.

Starts the sandbox (another process) with --latency-ms L, generates a config
of N users, N/10 accounts (one location each) and N/100 groups, and
measures, each phase in a fresh process:

  1. cold apply (empty portal)          2. no-op plan after it
  3. apply of a 10 % change             4. drift of the first config after it
  5. export of the whole portal

For each it prints requests sent against the minimum such a run needs
(reads: ceil(objects / 100) per kind; writes: ceil(changes / batch size) per
apply step), wall seconds against the critical-path lower bound (minimum
sequential round trips x latency), konvsync's own CPU (user + system of its
process) in seconds and per object, the sandbox's CPU, when the first
request left after the process started, and peak RSS. At N = 10,000 it
checks the goals of issue 25. Then it runs a per-resource baseline client
(one mutation or one read per request, 10 in flight, no checks) on the same
data and prints konvsync's speed-up over it. Each round also runs an
efficient client (efficient_client.py: konvsync's requests with no checks)
for the phases it has a counterpart of, and prints konvsync's CPU as a
multiple of its CPU: the goals in µs hold for one machine at one pace, the
ratio for any (issue 25's title asks for 2x at most). With --repeat R each
figure is the median of R runs, each against a fresh sandbox.

    python benchmarks/sync_bench.py [-n 10000] [--latency-ms 20] [--repeat 3]
        [--verify updates|full|none] [--json] [--no-baseline]

Exits 1 when a phase exits otherwise than expected (the figures are printed
whatever they are: they depend on the machine).
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SANDBOX_PIDS: dict[str, int] = {}
"""url -> process ID of each sandbox started here (for its CPU time)."""
PAGE = 100
KEY, SECRET = "sandbox-key", "sandbox-secret-not-for-production"


EXPECTED_EXIT = {"drift": 2}
"""Phases that exit otherwise than 0 when all is well (drift found: 2)."""


@dataclass
class Phase:
    phase: str
    requests: int
    requests_min: int
    seconds: float
    seconds_min: float
    peak_rss_mb: float
    exit_code: int
    cpu_seconds: float = 0.0
    """konvsync's own CPU: user + system seconds of its process."""
    server_cpu_seconds: float = 0.0
    """CPU the server spent answering this phase's requests."""
    objects: int = 0
    """Objects in the portal's data (users + accounts + locations + groups)."""
    first_request_seconds: float | None = None
    """From the process's start to its first connection (the first request)."""
    first_request_cpu: float | None = None
    """The CPU seconds the process had used by then: on a loaded machine the
    wall clock stretches; this shows what konvsync did before it."""

    @property
    def request_ratio(self) -> float:
        return self.requests / self.requests_min if self.requests_min else 1.0

    @property
    def cpu_us_per_object(self) -> float:
        return self.cpu_seconds / self.objects * 1e6 if self.objects else 0.0

    @property
    def exited_as_expected(self) -> bool:
        return self.exit_code == EXPECTED_EXIT.get(self.phase, 0)


# ----------------------------------------------------------------- configs


def shape(n: int) -> tuple[int, int, int]:
    return n, max(1, n // 10), max(1, n // 100)


def object_count(n: int) -> int:
    users, accounts, groups = shape(n)
    return users + 2 * accounts + groups


def config_text(n: int, changed: bool) -> str:
    users, accounts, groups = shape(n)
    lines = [
        "konvsync: 1",
        "policy:",
        "  prune: [users]",
        "  send_welcome_email: false",
        "  max_delete_percent: 5",
        "groups:",
    ]
    lines += [
        f"  - {{externalId: g{i}, name: Group {i}, permissions: [VIEW_ACCOUNT_USERS]}}"
        for i in range(groups)
    ]
    lines.append("accounts:")
    for i in range(accounts):
        name = f"Account {i}" + (" (renamed)" if changed and i % 10 == 0 else "")
        lines.append(
            f"  - {{externalId: a{i}, name: '{name}', userGroups: [g{i % groups}], "
            f"locations: [{{name: HQ, phone: '+1 555 {i:05d}'}}]}}"
        )
    lines.append("users:")
    for i in range(users):
        if changed and i % 100 == 1:
            continue  # 1 % deleted (users are pruned)
        title = "Manager" if changed and i % 10 == 0 else "Engineer"
        lines.append(
            f"  - {{email: user{i}@example.com, firstName: First{i}, lastName: Last, "
            f"title: {title}, account: a{i % accounts}, groups: [g{i % groups}]}}"
        )
    if changed:
        lines += [
            f"  - {{email: new{i}@example.com, firstName: New{i}, lastName: User, "
            f"account: a{i % accounts}}}"
            for i in range(users // 100)
        ]
    return "\n".join(lines) + "\n"


USERS_PER_FILE = 40_000
"""Config files are read up to 10 MB each: larger configs are split, as a
team with a portal that size would split theirs."""


def write_config(directory: Path, n: int, changed: bool) -> Path:
    """The config as a folder: konvsync.yaml, then users in files of at most
    ``USERS_PER_FILE``."""
    directory.mkdir(parents=True, exist_ok=True)
    head, _, users = config_text(n, changed).partition("users:\n")
    (directory / "konvsync.yaml").write_text(head)
    lines = users.splitlines(keepends=True)
    for part, start in enumerate(range(0, max(len(lines), 1), USERS_PER_FILE)):
        chunk = "".join(lines[start : start + USERS_PER_FILE])
        (directory / f"users-{part:02d}.yaml").write_text("users:\n" + chunk)
    return directory


# ---------------------------------------------------------------- minimums


EXPORT_EMPTY_KINDS = 2
"""Kinds export reads that hold nothing here (account fields, invite links):
a page each."""


def read_minimum(n: int) -> int:
    return sum(math.ceil(count / PAGE) for count in shape(n))


def write_steps(n: int, changed: bool, batch: int) -> list[int]:
    """Mutations per apply step (kind x action) for the phase."""
    users, accounts, groups = shape(n)
    if not changed:
        return [groups, accounts, accounts, users]
    renamed = math.ceil(accounts / 10)
    retitled = math.ceil(users / 10)
    return [renamed, users // 100 + retitled, math.ceil((users - 1) / 100)]


def minimums(n: int, phase: str, batch: int, parallelism: int, latency: float) -> tuple[int, float]:
    users, _, _ = shape(n)
    if phase == "cold apply":
        steps = write_steps(n, False, batch)
        reads, read_trips = 0, 1
    elif phase == "10% change apply":
        steps = write_steps(n, True, batch)
        reads, read_trips = read_minimum(n), math.ceil(users / PAGE)
    else:  # reads only: the no-op plan, drift, export
        steps, reads, read_trips = [], read_minimum(n), math.ceil(users / PAGE)
        if phase == "export":
            reads += EXPORT_EMPTY_KINDS
    batches = [math.ceil(count / batch) for count in steps]
    trips = 1 + read_trips + sum(math.ceil(b / parallelism) for b in batches)
    return reads + sum(batches), trips * latency


# ------------------------------------------------------------------ running


@contextmanager
def sandbox(directory: Path, latency_ms: float) -> Iterator[str]:
    port_probe = __import__("socket").socket()
    port_probe.bind(("127.0.0.1", 0))
    port = port_probe.getsockname()[1]
    port_probe.close()
    log = (directory / f"sandbox-{port}.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "konvsync",
            "sandbox",
            "--port",
            str(port),
            "--db",
            str(directory / f"sandbox-{port}.db"),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    SANDBOX_PIDS[url] = process.pid
    try:
        for _ in range(100):
            try:
                stats(url)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_sandbox/stats", timeout=5) as response:
        return dict(json.load(response))


def server_cpu(url: str) -> float:
    """CPU seconds the sandbox at ``url`` has used (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{SANDBOX_PIDS[url]}/stat").read_text().rsplit(")", 1)[1].split()
    except (KeyError, OSError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_requests(url: str) -> int:
    return int(stats(url)["requests"].get("/api", 0))


def run_child(
    url: str, args: list[str], workdir: Path
) -> tuple[subprocess.CompletedProcess[str], float, int, dict[str, Any]]:
    """One konvsync command in a fresh process: its outcome, wall seconds,
    the requests it sent and what the child measured (peak RSS, CPU)."""
    result_file = workdir / "child.json"
    env = {
        **os.environ,
        "KONVERT_API_KEY": KEY,
        "KONVERT_API_SECRET": SECRET,
        "KONVSYNC_BENCH_RESULT": str(result_file),
        "NO_COLOR": "1",
    }
    before, cpu_before = api_requests(url), server_cpu(url)
    started_at = time.time()
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(HERE / "_child.py"), "--endpoint", url, *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    seconds = time.perf_counter() - started
    child = dict(json.loads(result_file.read_text()))
    child["server_cpu_seconds"] = server_cpu(url) - cpu_before
    first = child.get("first_request_at")
    child["first_request_seconds"] = None if first is None else first - started_at
    return completed, seconds, api_requests(url) - before, child


def run_phase(
    name: str, url: str, args: list[str], n: int, options: argparse.Namespace, workdir: Path
) -> Phase:
    completed, seconds, requests, child = run_child(url, args, workdir)
    if completed.returncode != EXPECTED_EXIT.get(name, 0):
        sys.stderr.write(completed.stdout[-2000:] + completed.stderr[-2000:])
    minimum, seconds_min = minimums(
        n, name, options.batch_size, options.parallelism, options.latency_ms / 1000
    )
    first = child.get("first_request_seconds")
    first_cpu = child.get("first_request_cpu")
    return Phase(
        name,
        requests,
        minimum,
        round(seconds, 2),
        round(seconds_min, 2),
        round(child["peak_rss_kb"] / 1024, 1),
        completed.returncode,
        round(child.get("cpu_seconds", 0.0), 3),
        round(child.get("server_cpu_seconds", 0.0), 2),
        object_count(n),
        None if first is None else round(first, 3),
        None if first_cpu is None else round(first_cpu, 3),
    )


def median_phase(runs: list[Phase]) -> Phase:
    """Each figure the median of ``runs`` (the same phase); the worst exit code."""

    def med(name: str) -> float:
        return round(float(statistics.median(getattr(r, name) for r in runs)), 3)

    firsts = [r.first_request_seconds for r in runs if r.first_request_seconds is not None]
    first_cpus = [r.first_request_cpu for r in runs if r.first_request_cpu is not None]
    first = runs[0]
    return Phase(
        first.phase,
        int(statistics.median(r.requests for r in runs)),
        first.requests_min,
        med("seconds"),
        first.seconds_min,
        med("peak_rss_mb"),
        next((r.exit_code for r in runs if not r.exited_as_expected), first.exit_code),
        med("cpu_seconds"),
        med("server_cpu_seconds"),
        first.objects,
        round(statistics.median(firsts), 3) if firsts else None,
        round(statistics.median(first_cpus), 3) if first_cpus else None,
    )


def run_baseline(url: str, config: Path, mode: str) -> dict[str, Any]:
    """The baseline in its own process, timed like konvsync's phases: the
    whole process, start-up and config loading included."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(HERE / "baseline_client.py"), url, str(config), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = dict(json.loads(completed.stdout))
    figures["seconds"] = time.perf_counter() - started
    return figures


def run_efficient(url: str, config: Path, mode: str, options: argparse.Namespace) -> float:
    """The CPU seconds of ``efficient_client.py`` (same requests, no checks) in
    its own process, timed like konvsync's phases."""
    completed = subprocess.run(
        [
            sys.executable,
            str(HERE / "efficient_client.py"),
            url,
            str(config),
            mode,
            "--batch-size",
            str(options.batch_size),
            "--parallelism",
            str(options.parallelism),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(completed.stdout)["cpu_seconds"])


def run_efficient_round(options: argparse.Namespace, workdir: Path, full: Path) -> dict[str, float]:
    """The efficient client's CPU seconds for each phase it has a counterpart
    of, against a fresh sandbox: its creates for the cold apply, its read and
    compare for the no-op plan, drift and export (all read every page)."""
    with sandbox(workdir, options.latency_ms) as url:
        applied = run_efficient(url, full, "apply", options)
        read = run_efficient(url, full, "read", options)
    return {"cold apply": applied, "no-op plan": read, "drift": read, "export": read}


def run_round(
    n: int, options: argparse.Namespace, workdir: Path, full: Path, changed: Path
) -> list[Phase]:
    """Every phase once, against a fresh sandbox."""
    verify = ["--verify", options.verify] if options.verify else []
    tuning = [
        "--batch-size",
        str(options.batch_size),
        "--parallelism",
        str(options.parallelism),
        *(["--no-verify"] if options.no_verify else verify),
    ]
    with sandbox(workdir, options.latency_ms) as url:
        return [
            run_phase(
                "cold apply",
                url,
                ["apply", str(full), "--auto-approve", *tuning],
                n,
                options,
                workdir,
            ),
            run_phase(
                "no-op plan", url, ["plan", str(full), "--detailed-exitcode"], n, options, workdir
            ),
            run_phase(
                "10% change apply",
                url,
                ["apply", str(changed), "--auto-approve", *tuning],
                n,
                options,
                workdir,
            ),
            run_phase("drift", url, ["drift", str(full)], n, options, workdir),
            run_phase(
                "export",
                url,
                ["export", "--out", tempfile.mkdtemp(prefix="export-", dir=workdir)],
                n,
                options,
                workdir,
            ),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase (medians)")
    parser.add_argument("--json", action="store_true", help="one JSON object per phase")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--verify", choices=["updates", "full", "none"], help="pass --verify to the applies"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="pass --no-verify to the applies (no read-back after the run)",
    )
    options = parser.parse_args()
    n = options.users
    # As installed from a wheel: pip byte-compiles a package when it installs
    # it, but an editable install under PYTHONDONTWRITEBYTECODE (set on some
    # CI machines) never caches bytecode, and each fresh process below would
    # compile konvsync's sources again. Both clients import konvsync.
    compileall.compile_dir(str(HERE.parent / "konvsync"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="konvsync-bench-") as tmp:
        workdir = Path(tmp)
        full = write_config(workdir / "full", n, changed=False)
        changed = write_config(workdir / "changed", n, changed=True)
        rounds: list[list[Phase]] = []
        efficient_rounds: list[dict[str, float]] = []
        for _ in range(options.repeat):  # alternated, so that the machine's pace hits both alike
            rounds.append(run_round(n, options, workdir, full, changed))
            efficient_rounds.append(run_efficient_round(options, workdir, full))
        phases = [median_phase(list(runs)) for runs in zip(*rounds, strict=True)]
        efficient = {
            name: statistics.median(r[name] for r in efficient_rounds)
            for name in efficient_rounds[0]
        }
        baseline: dict[str, dict[str, Any]] = {}
        if not options.no_baseline:
            with sandbox(workdir, options.latency_ms) as url:
                baseline["cold apply"] = run_baseline(url, full, "apply")
                baseline["no-op plan"] = run_baseline(url, full, "read")
    report(n, options, phases, baseline, efficient)
    if not all(p.exited_as_expected for p in phases):
        sys.exit(1)


GOALS_AT = 10_000
"""The size issue 25 states its goals for."""
CPU_GOALS_US = {
    "no-op plan": 60,
    "cold apply": 100,
    "10% change apply": 90,
    "drift": 70,
    "export": 70,
}
"""konvsync's CPU per object (µs) at ``GOALS_AT`` users."""
FIRST_REQUEST_GOAL = 0.3
"""Seconds from the process's start to its first request, at ``GOALS_AT``."""


EFFICIENT_RATIO_GOAL = 2.0
"""Issue 25's title: konvsync's CPU within this factor of an efficient client's."""


def report(
    n: int,
    options: argparse.Namespace,
    phases: list[Phase],
    baseline: dict[str, dict[str, Any]],
    efficient: dict[str, float],
) -> None:
    if options.json:
        for phase in phases:
            data = asdict(phase)
            data["cpu_us_per_object"] = round(phase.cpu_us_per_object, 1)
            if efficient.get(phase.phase):
                data["efficient_cpu_seconds"] = round(efficient[phase.phase], 3)
                data["cpu_ratio_to_efficient"] = round(
                    phase.cpu_seconds / efficient[phase.phase], 2
                )
            if phase.phase in baseline:
                figures = baseline[phase.phase]
                data["baseline_seconds"] = round(figures["seconds"], 2)
                data["baseline_requests"] = figures["requests"]
                data["baseline_cpu_seconds"] = round(figures["cpu_seconds"], 3)
                data["speedup"] = round(figures["seconds"] / phase.seconds, 1)
            print(json.dumps(data))
        return
    users, accounts, groups = shape(n)
    print(
        f"konvsync sync benchmark: {users:,} users, {accounts:,} accounts (1 location "
        f"each), {groups:,} groups ({object_count(n):,} objects); latency "
        f"{options.latency_ms:g} ms; batch {options.batch_size}, parallelism "
        f"{options.parallelism}; medians of {options.repeat} run(s)"
    )
    print(
        f"{'phase':<17} {'requests':>8} {'min':>5} {'ratio':>5} {'seconds':>7} {'sec_min':>7} "
        f"{'cpu s':>6} {'µs/obj':>6} {'srv s':>5} {'first':>5} {'(cpu)':>5} {'peak MB':>7} "
        f"{'exit':>4}"
    )
    for p in phases:
        first_shown = (
            "    -" if p.first_request_seconds is None else f"{p.first_request_seconds:>5.2f}"
        )
        cpu_shown = "    -" if p.first_request_cpu is None else f"{p.first_request_cpu:>5.2f}"
        print(
            f"{p.phase:<17} {p.requests:>8} {p.requests_min:>5} {p.request_ratio:>5.2f} "
            f"{p.seconds:>7.2f} {p.seconds_min:>7.2f} {p.cpu_seconds:>6.2f} "
            f"{p.cpu_us_per_object:>6.1f} {p.server_cpu_seconds:>5.1f} {first_shown} {cpu_shown} "
            f"{p.peak_rss_mb:>7.1f} {p.exit_code:>4}"
        )
    print(
        "  cpu s: konvsync's own CPU (user + system of its process); µs/obj: that per object;"
        " srv s: the sandbox's;\n  first: seconds from the process's start to its first request"
        " ((cpu): the CPU seconds it had used by then)"
    )
    for name, figures in baseline.items():
        ours = next(p for p in phases if p.phase == name)
        print(
            f"baseline {name}: {figures['requests']:,} requests, {figures['seconds']:.2f} s, "
            f"CPU {figures['cpu_seconds']:.2f} s "
            f"({figures['cpu_seconds'] / ours.objects * 1e6:.0f} µs/obj) "
            f"-> konvsync is {figures['seconds'] / ours.seconds:.1f}x faster"
        )
    by_name = {p.phase: p for p in phases}
    # The goals in µs per object hold for one machine at one pace; the same
    # data through a client that sends the same requests and checks nothing
    # (efficient_client.py), timed alternately with konvsync, gives a figure
    # that a faster or slower machine moves for both alike.
    ratios = {name: by_name[name].cpu_seconds / cpu for name, cpu in efficient.items() if cpu}
    if ratios:
        print(
            "  efficient client (same requests, no checks), CPU per object and konvsync's ratio: "
            + ", ".join(
                f"{name} {efficient[name] / by_name[name].objects * 1e6:.0f} µs ({ratio:.2f}x)"
                for name, ratio in ratios.items()
            )
        )
    # The minimums count the reads and writes a run cannot do without. An
    # apply also re-reads, before each step, what the step touches, and reads
    # back what the answers do not prove (--verify): those requests are its
    # safety checks, on top of the minimum, and printed apart.
    for p in phases:
        if "apply" in p.phase:
            print(f"  {p.phase}: {p.requests - p.requests_min} requests for apply's checks")
    # sec_min counts only the latency. The server also takes time to answer
    # (srv s: the sandbox's CPU seconds in the phase), and a page chain waits
    # for each answer, so the time a client of zero cost would need is about
    # sec_min + srv s (exact for a single page chain; for the parallel writes
    # of an apply the server's work can partly overlap the latency, so there
    # it is an estimate). konvsync's own share is what remains.
    for p in phases:
        chain = p.seconds_min + p.server_cpu_seconds
        if p.seconds_min and chain:
            print(
                f"  {p.phase}: {p.seconds / p.seconds_min:.2f}x the latency bound, "
                f"{p.seconds / chain:.2f}x latency + server time ({chain:.2f} s)"
            )
    checks = [("every phase exited as expected", all(p.exited_as_expected for p in phases))]
    # The goals are stated for N = 10,000 (at small sizes the fixed costs,
    # one request per kind and start-up, dominate).
    if n == GOALS_AT:
        checks.append(
            (
                "requests <= minimum + 2 (no-op plan, drift, export)",
                all(p.requests <= p.requests_min + 2 for p in phases if "apply" not in p.phase),
            )
        )
        checks.append(
            (
                "cold apply requests <= 1.3 x minimum",
                by_name["cold apply"].requests <= 1.3 * by_name["cold apply"].requests_min,
            )
        )
        for name, goal in CPU_GOALS_US.items():
            figure = by_name[name].cpu_us_per_object
            checks.append((f"{name}: {figure:.0f} <= {goal} µs of CPU per object", figure <= goal))
        for name in ("no-op plan", "cold apply"):
            first = by_name[name].first_request_seconds
            checks.append(
                (
                    f"{name}: first request within {FIRST_REQUEST_GOAL} s of the start",
                    first is not None and first <= FIRST_REQUEST_GOAL,
                )
            )
        checks.append(("cold apply < 30 s", by_name["cold apply"].seconds < 30))
        checks.append(("peak RSS < 300 MB", all(p.peak_rss_mb < 300 for p in phases)))
        if ratios:
            checks.append(
                (
                    f"CPU within {EFFICIENT_RATIO_GOAL:g}x of the efficient client ("
                    + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items())
                    + ")",
                    all(ratio <= EFFICIENT_RATIO_GOAL for ratio in ratios.values()),
                )
            )
    if baseline:
        checks.append(
            (
                "at least 10x faster than the baseline (cold apply, no-op plan)",
                all(baseline[name]["seconds"] / by_name[name].seconds >= 10 for name in baseline),
            )
        )
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
