"""Running the sandbox in the foreground for ``konvsync sandbox``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from konvsync.errors import UsageError
from konvsync.sandbox.seed import seed_store
from konvsync.sandbox.server import SandboxSettings, create_app
from konvsync.sandbox.store import Store


def serve_forever(settings: SandboxSettings, seed: str | None,
                  announce: Callable[[str, int], None]) -> None:
    store = Store(settings.db)
    seeded = seed_store(store, seed) if seed else 0
    app = create_app(settings, store)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {settings.host}:{settings.port}: "
                             f"{exc.strerror}") from None
        server = site._server
        port = server.sockets[0].getsockname()[1] if server else settings.port  # type: ignore[union-attr]
        announce(f"http://{settings.host}:{port}", seeded)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            store.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
