"""``konvsync drift --write`` against ``konvsync plan`` at portal scale.

Starts the sandbox with --latency-ms L, applies a multi-file config of N
users (block style, a comment every ten users), N/10 accounts and N/100
groups, then changes 1 % of the users by hand through the API: 40 % of them
get a new last name or other groups, 30 % are deleted and 30 % created (users
are pruned, so those are drift too). Then, each in a fresh process and on a
fresh copy of the files, it times ``plan --detailed-exitcode`` and
``drift --write`` (best and median of --repeat runs), checks that a plan
after the write says "No changes." and that the write touched only the
drifted lines, and prints the figures. The target: drift --write within
1.5x of the plan's time.

    python benchmarks/drift_bench.py [-n 10000] [--latency-ms 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import compileall
import difflib
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sync_bench import KEY, SECRET, run_child, sandbox

HERE = Path(__file__).resolve().parent


def write_config(root: Path, n: int) -> None:
    groups, accounts = max(1, n // 100), max(1, n // 10)
    root.mkdir(parents=True)
    (root / "konvsync.yaml").write_text(
        "# The portal's settings\nkonvsync: 1\npolicy:\n  prune: [users]\n"
        "  send_welcome_email: false\n"
    )
    lines = ["groups:"]
    for i in range(groups):
        lines += [f"  - externalId: g{i}", f"    name: Group {i}", "    permissions: [MANAGE_NEWS]"]
    (root / "groups.yaml").write_text("\n".join(lines) + "\n")
    lines = ["accounts:"]
    for i in range(accounts):
        lines += [
            f"  - externalId: a{i}",
            f"    name: 'Account {i}'",
            f"    userGroups: [g{i % groups}]",
        ]
    (root / "accounts.yaml").write_text("\n".join(lines) + "\n")
    lines = ["users:"]
    for i in range(n):
        if i % 10 == 0:
            lines.append(f"  # users {i} to {i + 9}")
        lines += [
            f"  - email: user{i}@example.com",
            f"    firstName: First{i}",
            '    lastName: "Last"',
            f"    account: a{i % accounts}",
            f"    groups: [g{i % groups}]",
        ]
    (root / "users.yaml").write_text("\n".join(lines) + "\n")


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        request = urllib.request.Request(
            f"{url}/oauth/token",
            data=b"grant_type=client_credentials",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        import base64

        basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            self.token = json.load(answer)["access_token"]

    def run(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(
            f"{self.url}/api",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            data = json.load(answer)
        if data.get("errors"):
            raise RuntimeError(data["errors"])
        return dict(data["data"])


def drift_by_hand(url: str, n: int) -> dict[str, int]:
    """Change 1 % of the users through the API, as people in the portal would."""
    api = Api(url)
    drifted = max(10, n // 100)
    changed, deleted = drifted * 4 // 10, drifted * 3 // 10
    created = drifted - changed - deleted
    groups = max(1, n // 100)
    step = n // drifted
    for index in range(drifted):
        user = index * step + 3
        email = f"user{user}@example.com"
        uid = api.run("query($e: String) { user(email: $e) { id } }", e=email)["user"]["id"]
        if index < changed:
            # Another group than the user's own g{user % groups} (write_config):
            # with the same one, the "change" would be none.
            other = f"g{(user % groups + 1) % groups}"
            found = api.run("query($x: String) { group(externalId: $x) { id } }", x=other)
            regroup = groups > 1 and index % 2 == 0
            patch = {"groupIds": [found["group"]["id"]]} if regroup else {"lastName": "Changed"}
            api.run(
                "mutation($id: ID!, $in: UserInput!) { updateUser(id: $id, input: $in) { id } }",
                id=uid,
                **{"in": patch},
            )
        elif index < changed + deleted:
            api.run("mutation($id: ID!) { deleteUser(id: $id) }", id=uid)
    for index in range(created):
        api.run(
            "mutation($in: UserInput!) { createUser(input: $in, sendWelcomeEmail: false) { id } }",
            **{"in": {"email": f"new{index}@example.com", "firstName": "New", "lastName": "Hire"}},
        )
    return {"changed": changed, "deleted": deleted, "created": created}


def run(url: str, args: list[str], workdir: Path) -> tuple[float, int, int, float, str]:
    """Seconds, exit code, requests and peak RSS (MB) of one command in a fresh process."""
    completed, seconds, requests, child = run_child(url, args, workdir)
    return (
        seconds,
        completed.returncode,
        requests,
        child["peak_rss_kb"] / 1024,
        completed.stdout + completed.stderr,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    n = options.users
    compileall.compile_dir(str(HERE.parent / "konvsync"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="konvsync-drift-bench-") as tmp:
        workdir = Path(tmp)
        original = workdir / "portal"
        write_config(original, n)
        with sandbox(workdir, options.latency_ms) as url:
            seconds, code, _, _, output = run(
                url, ["apply", str(original), "--auto-approve"], workdir
            )
            if code != 0:
                sys.exit(f"cold apply failed ({code}):\n{output[-2000:]}")
            started = time.perf_counter()
            counts = drift_by_hand(url, n)
            hand_seconds = time.perf_counter() - started
            plans: list[tuple[float, int, int, float]] = []
            drifts: list[tuple[float, int, int, float]] = []
            for attempt in range(options.repeat):
                copy = workdir / f"copy{attempt}"
                shutil.copytree(original, copy)
                seconds, code, requests, rss, output = run(
                    url, ["plan", str(copy), "--detailed-exitcode"], workdir
                )
                if code != 2:
                    sys.exit(f"plan exited {code}:\n{output[-2000:]}")
                plans.append((seconds, code, requests, rss))
                seconds, code, requests, rss, output = run(
                    url, ["drift", str(copy), "--write"], workdir
                )
                if code != 2:
                    sys.exit(f"drift --write exited {code}:\n{output[-2000:]}")
                drifts.append((seconds, code, requests, rss))
            _seconds, after_code, _, _, after_output = run(
                url, ["plan", str(workdir / "copy0"), "--detailed-exitcode"], workdir
            )
        diff_lines = sum(
            1
            for name in ("konvsync.yaml", "groups.yaml", "accounts.yaml", "users.yaml")
            for line in difflib.unified_diff(
                (original / name).read_text().splitlines(),
                (workdir / "copy0" / name).read_text().splitlines(),
                lineterm="",
                n=0,
            )
            if line[:1] in "+-" and line[:3] not in ("+++", "---")
        )
    report(n, options, counts, hand_seconds, plans, drifts, after_code, after_output, diff_lines)


def report(
    n: int,
    options: argparse.Namespace,
    counts: dict[str, int],
    hand_seconds: float,
    plans: list[tuple[float, int, int, float]],
    drifts: list[tuple[float, int, int, float]],
    after_code: int,
    after_output: str,
    diff_lines: int,
) -> None:
    plan_times = [p[0] for p in plans]
    drift_times = [d[0] for d in drifts]
    print(
        f"konvsync drift benchmark: {n:,} users in block style, latency "
        f"{options.latency_ms:g} ms; drifted by hand in {hand_seconds:.1f} s: "
        f"{counts['changed']} changed, {counts['deleted']} deleted, {counts['created']} created"
    )
    print(f"{'command':<22} {'best s':>7} {'median s':>9} {'requests':>9} {'peak MB':>8}")
    for label, runs, times in (
        ("plan --detailed-exitcode", plans, plan_times),
        ("drift --write", drifts, drift_times),
    ):
        print(
            f"{label:<22} {min(times):>7.2f} {statistics.median(times):>9.2f} "
            f"{runs[0][2]:>9} {max(r[3] for r in runs):>8.1f}"
        )
    ratio = statistics.median(drift_times) / statistics.median(plan_times)
    print(f"drift --write / plan (medians): {ratio:.2f}x; changed lines in the files: {diff_lines}")
    expected_lines = counts["changed"] * 2 + counts["deleted"] * 5 + counts["created"] * 3
    checks = [
        ("drift --write within 1.5x of plan", ratio <= 1.5),
        (
            "plan after the write says No changes.",
            after_code == 0 and "No changes." in after_output,
        ),
        (f"only the drifted lines changed ({expected_lines})", diff_lines == expected_lines),
    ]
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
