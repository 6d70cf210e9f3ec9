"""A per-resource client, as Terraform-style tools without batching work:
one mutation per request, one object read per request, 10 in flight, and no
checks of the answers. sync_bench.py runs it on the same data to show what
batching buys; it prints its requests, seconds, CPU seconds and peak RSS.

    python benchmarks/baseline_client.py URL CONFIG apply|read
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from _raw_portal import RawPortal, aiohttp

from konvsync.api.documents import operation_text
from konvsync.api.operations import has_operation
from konvsync.config.loader import load_config
from konvsync.kinds import WRITABLE_KINDS

PARALLELISM = 10


async def run(url: str, config: str, mode: str) -> dict[str, Any]:
    state = load_config(config)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=PARALLELISM)) as http:
        portal = RawPortal(http, url, PARALLELISM)
        await portal.sign_in()

        async def call(query: str, variables: dict[str, Any]) -> Any:
            return next(iter((await portal.call(query, variables)).values()))

        ids: dict[tuple[str, str], str] = {}

        def resolve(kind_name: str, key: str) -> str:
            return ids[kind_name, key]

        started = time.perf_counter()
        for k in WRITABLE_KINDS:
            objects = list(state.objects.get(k.name, {}).values())
            if mode == "apply":
                text = operation_text(k, k.create_operation)

                async def create(obj: Any, k: Any = k, text: str = text) -> None:
                    variables: dict[str, Any] = {
                        "input": k.build_input(
                            k.normalize_desired(obj.data, keep_case=True), resolve
                        )
                    }
                    if k.parent and obj.parent is not None:
                        variables["accountId"] = resolve(k.parent, obj.parent)
                    if k.create_notice:
                        variables[k.create_notice] = False
                    created = await call(text, variables)
                    if k.parent is None:
                        ids[k.name, obj.key] = created["id"]

                await asyncio.gather(*(create(obj) for obj in objects))
            elif has_operation(k, k.get_operation):
                text = operation_text(k, k.get_operation)
                await asyncio.gather(*(call(text, {"key": obj.key}) for obj in objects))
        seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": portal.requests,
        "request_seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3]))))
