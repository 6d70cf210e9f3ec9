"""Run one konvsync command in this fresh process and record its exit code,
peak RSS and CPU seconds to $KONVSYNC_BENCH_RESULT (used by sync_bench.py
and scale_bench.py)."""

from __future__ import annotations

import json
import os
import resource
import sys

from konvsync.cli.main import cli

code: object = 0
try:
    cli.main(args=sys.argv[1:])
except SystemExit as exc:
    code = exc.code
with open(os.environ["KONVSYNC_BENCH_RESULT"], "w", encoding="utf-8") as handle:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    json.dump(
        {
            "exit": code,
            "peak_rss_kb": usage.ru_maxrss,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        },
        handle,
    )
sys.exit(code if isinstance(code, int) else 1)
