"""konvsync as portals grow: export against plan, and applies at 100,000 users.

For each size N (default 10,000, 50,000 and 100,000 users, with N/10
accounts of one location each and N/100 groups, as sync_bench.py), against a
sandbox with --latency-ms L, each command in a fresh process:

  cold apply -> no-op plan -> export --out DIR

and prints wall seconds, konvsync's CPU seconds (and per object) and peak
RSS of each, the cold apply's critical-path lower bound (sequential round
trips x latency), export's time against the plan's at the same size, and
whether every phase grows linearly: its CPU per object at the largest size
within 1.3x of that at the smallest. At 100,000 it checks the cold apply's
peak RSS (issue 25: at most 450 MB).

    python benchmarks/scale_bench.py [--sizes 10000,50000,100000] [--latency-ms 20]
        [--parallelism 8] [--repeat 1] [--json]

With --repeat R every size is measured R times (a fresh sandbox each time)
and the medians are printed.
"""

from __future__ import annotations

import argparse
import compileall
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sync_bench import Phase, median_phase, run_phase, sandbox, write_config  # noqa: E402


def measure(n: int, options: argparse.Namespace) -> dict[str, Phase]:
    with tempfile.TemporaryDirectory(prefix="konvsync-scale-") as tmp:
        workdir = Path(tmp)
        config = write_config(workdir / "config", n, changed=False)
        tuning = [
            "--batch-size",
            str(options.batch_size),
            "--parallelism",
            str(options.parallelism),
        ]
        with sandbox(workdir, options.latency_ms) as url:
            phases = [
                run_phase(
                    "cold apply",
                    url,
                    ["apply", str(config), "--auto-approve", *tuning],
                    n,
                    options,
                    workdir,
                ),
                run_phase("no-op plan", url, ["plan", str(config)], n, options, workdir),
                run_phase(
                    "export",
                    url,
                    ["export", "--out", str(workdir / "export")],
                    n,
                    options,
                    workdir,
                ),
            ]
    return {p.phase: p for p in phases}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    compileall.compile_dir(str(HERE.parent / "konvsync"), quiet=1)
    results: dict[int, dict[str, Phase]] = {}
    for n in (int(size) for size in options.sizes.split(",")):
        runs = [measure(n, options) for _ in range(options.repeat)]
        results[n] = {name: median_phase([r[name] for r in runs]) for name in runs[0]}
    report(results, options)


def report(results: dict[int, dict[str, Phase]], options: argparse.Namespace) -> None:
    if options.json:
        for n, phases in results.items():
            for phase in phases.values():
                print(json.dumps({"users": n, **phase.__dict__}))
        return
    print(
        f"konvsync scale benchmark: latency {options.latency_ms:g} ms, batch "
        f"{options.batch_size}, parallelism {options.parallelism}, medians of "
        f"{options.repeat} run(s)"
    )
    print(
        f"{'users':>8} {'phase':<11} {'seconds':>8} {'sec_min':>8} {'x min':>6} {'cpu s':>6} "
        f"{'µs/obj':>6} {'srv s':>6} {'peak MB':>8} {'exit':>5}"
    )
    for n, phases in results.items():
        for p in phases.values():
            bound = f"{p.seconds / p.seconds_min:>6.2f}" if p.seconds_min else f"{'':>6}"
            print(
                f"{n:>8,} {p.phase:<11} {p.seconds:>8.2f} {p.seconds_min:>8.2f} {bound} "
                f"{p.cpu_seconds:>6.1f} {p.cpu_us_per_object:>6.1f} "
                f"{p.server_cpu_seconds:>6.1f} {p.peak_rss_mb:>8.1f} {p.exit_code:>5}"
            )
    print("export against the no-op plan, and per 10,000 users:")
    checks: list[tuple[str, bool]] = []
    for n, phases in results.items():
        export, plan = phases["export"], phases["no-op plan"]
        ratio = export.seconds / plan.seconds
        print(
            f"  {n:>8,} users: export {ratio:.2f}x the plan's time; "
            f"{export.seconds * 10_000 / n:.2f} s and {export.cpu_seconds * 10_000 / n:.2f} "
            "CPU s per 10,000 users"
        )
        checks.append((f"export within 1.5x of the plan at {n:,}", ratio <= 1.5))
        checks.append(
            (f"every phase exited 0 at {n:,}", all(p.exit_code == 0 for p in phases.values()))
        )
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for name in results[small]:
            per_small = results[small][name].cpu_us_per_object
            per_large = results[large][name].cpu_us_per_object
            checks.append(
                (
                    f"{name}: CPU per object at {large:,} ({per_large:.0f} µs) within 1.3x of "
                    f"that at {small:,} ({per_small:.0f} µs): linear",
                    per_large <= 1.3 * per_small,
                )
            )
    if 100_000 in results:
        big = results[100_000]
        checks.append(
            (
                "cold apply peak RSS <= 450 MB at 100,000",
                big["cold apply"].peak_rss_mb <= 450,
            )
        )
        checks.append(
            ("no-op plan peak RSS < 600 MB at 100,000", big["no-op plan"].peak_rss_mb < 600)
        )
        # The latency bound leaves out the server's own work (srv s), which at
        # 100,000 users is most of a cold apply's time against our sandbox (36
        # of 52 s on a 2-core machine): no client reaches it. As sync_bench.py,
        # the check holds the run to latency + server time, and prints both.
        cold = big["cold apply"]
        chain = cold.seconds_min + cold.server_cpu_seconds
        print(
            f"  cold apply at 100,000: {cold.seconds / cold.seconds_min:.2f}x the latency bound, "
            f"{cold.seconds / chain:.2f}x latency + server time ({chain:.2f} s)"
        )
        checks.append(
            (
                "cold apply within 1.5x of latency + server time at 100,000",
                cold.seconds <= 1.5 * chain,
            )
        )
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    if not all(p.exited_as_expected for phases in results.values() for p in phases.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
