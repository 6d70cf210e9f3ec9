"""Choosing the default --parallelism: a cold apply of N users (N/10
accounts with one location each, N/100 groups) against a sandbox with
--latency-ms L, for each parallelism, each run in a fresh process and against
a fresh sandbox. Prints the median seconds, the critical-path lower bound at
that parallelism (sequential round trips x latency), their ratio, and the
ratio to the fastest setting's time.

    python benchmarks/parallelism_bench.py [-n 10000] [--latency-ms 20]
        [--values 2,4,8,16] [--repeat 3] [--verify]

Without --verify the applies skip the read-back after the run (which reads
every created object again, the same for every parallelism), so the figures
compare the writes alone.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sync_bench import run_phase, sandbox, write_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--values", default="2,4,8,16")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--verify", action="store_true")
    options = parser.parse_args()
    compileall.compile_dir(str(HERE.parent / "konvsync"), quiet=1)
    n = options.users
    rows = []
    for value in (int(v) for v in options.values.split(",")):
        options.parallelism = value
        seconds, cpu, bound = [], [], 0.0
        for _ in range(options.repeat):
            with tempfile.TemporaryDirectory(prefix="konvsync-par-") as tmp:
                workdir = Path(tmp)
                config = write_config(workdir / "config", n, changed=False)
                args = ["apply", str(config), "--auto-approve", "--parallelism", str(value)]
                args += ["--batch-size", str(options.batch_size)]
                args += [] if options.verify else ["--no-verify"]
                with sandbox(workdir, options.latency_ms) as url:
                    phase = run_phase("cold apply", url, args, n, options, workdir)
            seconds.append(phase.seconds)
            cpu.append(phase.cpu_seconds)
            bound = phase.seconds_min
        rows.append((value, statistics.median(seconds), bound, statistics.median(cpu), seconds))
    fastest = min(row[1] for row in rows)
    print(
        f"cold apply of {n:,} users, latency {options.latency_ms:g} ms, batch "
        f"{options.batch_size}, {'with' if options.verify else 'without'} read-back; medians of "
        f"{options.repeat}"
    )
    print(
        f"{'parallelism':>11} {'seconds':>8} {'bound':>7} {'x bound':>8} {'x best':>7} "
        f"{'cpu s':>6}  runs"
    )
    for value, median, bound, cpu_median, runs in rows:
        print(
            f"{value:>11} {median:>8.2f} {bound:>7.2f} {median / bound:>8.2f} "
            f"{median / fastest:>7.2f} {cpu_median:>6.1f}  {', '.join(f'{s:.2f}' for s in runs)}"
        )


if __name__ == "__main__":
    main()
