"""An efficient client without checks: the reference of issue 25's title
("konvsync's CPU per object within 2x of an efficient client").

It sends the requests konvsync sends, with konvsync's own documents: pages of
100 per kind, each kind's pages one after the other and the kinds at the same
time (``read``); creates in batches of ``--batch-size`` aliased mutations,
``--parallelism`` in flight, kind after kind (``apply``). It checks nothing:
the config is read by konvsync's own YAML loader (libyaml's events; PyYAML's
``CSafeLoader`` takes 4.5 times as long on these files) with no schema and no
references checked, answers are taken as they come (no contract checks, no
read-back), and ``read`` compares each object's fields with ``==`` after
konvsync's own normalization (the work any client of this API must do). It
knows the shape of the benchmarks' data (groups, accounts with locations,
users) and nothing else. sync_bench.py runs it in a fresh process, timed as
konvsync's phases are, so that the ratio of the two CPU figures holds on a
faster or slower machine, where the goals in µs per object do not.

    python benchmarks/efficient_client.py URL CONFIG_FOLDER apply|read [--batch-size 50]
        [--parallelism 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path
from typing import Any

from _raw_portal import RawPortal, aiohttp

from konvsync.api.operations import operation_document, read_document
from konvsync.api.pagination import PAGE_SIZE
from konvsync.config.yaml_loader import load_yaml
from konvsync.kinds import kind

READ_KINDS = ("users", "accountFields", "groups", "accounts")
"""What konvsync's plan reads for the benchmarks' config (account fields:
an account's custom fields are checked against them)."""
CREATE_ORDER = ("groups", "accounts", "locations", "users")


def load(folder: str) -> dict[str, list[tuple[str | None, dict[str, Any]]]]:
    """Kind name -> (parent key, data) of each object in the folder's files."""
    objects: dict[str, list[tuple[str | None, dict[str, Any]]]] = {n: [] for n in CREATE_ORDER}
    for path in sorted(Path(folder).glob("*.yaml")):
        document = load_yaml(path.read_text(encoding="utf-8"), path.name).data or {}
        for name in ("groups", "accounts", "users"):
            for data in document.get(name) or ():
                objects[name].append((None, data))
                for location in data.get("locations") or () if name == "accounts" else ():
                    objects["locations"].append((data["externalId"], location))
    return objects


async def run(url: str, folder: str, mode: str, batch: int, parallelism: int) -> dict[str, Any]:
    objects = load(folder)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=parallelism)) as http:
        portal = RawPortal(http, url, parallelism)
        await portal.sign_in()
        call = portal.call
        started = time.perf_counter()
        if mode == "read":
            differing = sum(await asyncio.gather(*(read(call, objects, n) for n in READ_KINDS)))
        else:
            differing = await create(call, objects, batch)
        seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": portal.requests,
        "request_seconds": seconds,
        "differing": differing,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


async def read(call: Any, objects: dict[str, list[Any]], name: str) -> int:
    """Read every page of kind ``name``; the objects whose fields differ."""
    k = kind(name)
    document = read_document(k)
    desired = {k.key_of(data): k.normalize_desired(data) for _parent, data in objects.get(name, ())}
    differing, after = 0, None
    while True:
        connection = (await call(document.text, {"first": PAGE_SIZE, "after": after}))[
            document.field
        ]
        for node in connection["nodes"]:
            remote = k.normalize_remote(node)
            wanted = desired.get(k.key_of(remote))
            if wanted is not None and any(remote.get(f) != v for f, v in wanted.items()):
                differing += 1
        if not connection["pageInfo"]["hasNextPage"]:
            return differing
        after = connection["pageInfo"]["endCursor"]


async def create(call: Any, objects: dict[str, list[Any]], batch: int) -> int:
    """Create every object, kind after kind; how many were created."""
    ids: dict[tuple[str, str], str] = {}
    created = 0
    for name in CREATE_ORDER:
        k = kind(name)
        items = objects[name]

        def variables(parent: str | None, data: dict[str, Any], k: Any = k) -> dict[str, Any]:
            built: dict[str, Any] = {
                "input": k.build_input(
                    k.normalize_desired(data, keep_case=True),
                    lambda kind_name, key: ids[kind_name, key],
                )
            }
            if k.parent and parent is not None:
                built["accountId"] = ids[k.parent, parent]
            if k.create_notice:
                built[k.create_notice] = False
            return built

        async def send(chunk: list[Any], k: Any = k) -> None:
            document = operation_document(k, k.create_operation, len(chunk))
            merged = {
                f"{variable}_{index}": value
                for index, (parent, data) in enumerate(chunk)
                for variable, value in variables(parent, data).items()
            }
            data = await call(document.text, merged)
            for index, (_parent, desired) in enumerate(chunk):
                if k.parent is None:
                    ids[k.name, k.key_of(desired)] = data[f"m{index}"]["id"]

        await asyncio.gather(*(send(items[i : i + batch]) for i in range(0, len(items), batch)))
        created += len(items)
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("config")
    parser.add_argument("mode", choices=("apply", "read"))
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=8)
    options = parser.parse_args()
    figures = asyncio.run(
        run(options.url, options.config, options.mode, options.batch_size, options.parallelism)
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
