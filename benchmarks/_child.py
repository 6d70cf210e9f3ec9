"""Run one konvsync command in this fresh process and record its exit code,
peak RSS, CPU seconds and when its first request left (wall clock, and
the CPU it had used by then) to $KONVSYNC_BENCH_RESULT (used by sync_bench.py and scale_bench.py).

The first request is timed where asyncio opens its first connection (the
token request or the first query): the moment konvsync starts sending,
observed without changing what it does."""

from __future__ import annotations

import asyncio.base_events
import json
import os
import resource
import sys
import time
from typing import Any

first_connection: list[tuple[float, float]] = []
"""(wall clock, CPU seconds of this process) when the first connection opened."""
_open = asyncio.base_events.BaseEventLoop.create_connection


async def _timed_open(self: Any, *args: Any, **kwargs: Any) -> Any:
    if not first_connection:
        first_connection.append((time.time(), time.process_time()))
    return await _open(self, *args, **kwargs)


asyncio.base_events.BaseEventLoop.create_connection = _timed_open  # type: ignore[method-assign]

from konvsync.cli.start import main  # noqa: E402  (timed from the process start)

code: object = 0
sys.argv[0] = "konvsync"
try:
    main()  # the entry point ``konvsync`` and ``python -m konvsync`` run
except SystemExit as exc:
    code = exc.code
with open(os.environ["KONVSYNC_BENCH_RESULT"], "w", encoding="utf-8") as handle:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    json.dump(
        {
            "exit": code,
            "peak_rss_kb": usage.ru_maxrss,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "first_request_at": first_connection[0][0] if first_connection else None,
            "first_request_cpu": first_connection[0][1] if first_connection else None,
        },
        handle,
    )
sys.exit(code if isinstance(code, int) else 1)
