"""Running the sandbox in the foreground for ``konvsync sandbox``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from aiohttp import web

from konvsync.errors import UsageError
from konvsync.sandbox.server import SandboxSettings, bound_port, create_app
from konvsync.sandbox.store import Store


def serve_forever(
    settings: SandboxSettings,
    seed: Callable[[Store], int] | None,
    announce: Callable[[str, int], None],
) -> None:
    """Serve until SIGINT or SIGTERM; ``seed`` fills the store once the port
    is bound (a port in use leaves the file as it was) and says how many
    objects it created."""
    store = Store(settings.db)
    app = create_app(settings, store)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            try:
                await site.start()
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
                ) from None
            seeded = seed(store) if seed is not None else 0
            port = bound_port(site, settings.port)
            announce(f"http://{settings.host}:{port}", seeded)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                # Explicit handlers: a shell starts background jobs with SIGINT
                # ignored, and SIGTERM should also shut down cleanly.
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(signum, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    finally:
        store.close()
