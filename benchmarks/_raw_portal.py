"""The API as a client that checks nothing uses it (the benchmarks' baseline
and efficient clients): a token from the sandbox's OAuth endpoint, then
GraphQL requests, at most ``parallelism`` at a time, counted. aiohttp is
imported as konvsync's command line loads it (``konvsync.api.tls``: the
TLS contexts it makes for itself left without certificates, 60 ms of CPU
neither client needs against the http sandbox), so that the two are timed
alike."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from konvsync.api.tls import authorities_unnamed

with authorities_unnamed():  # as konvsync's command line loads it (api/tls.py)
    import aiohttp

KEY, SECRET = "sandbox-key", "sandbox-secret-not-for-production"
"""The sandbox's service connection (not imported from it: the sandbox's
own imports, graphql-core's among them, would be timed with the client)."""


class RawPortal:
    def __init__(self, http: aiohttp.ClientSession, url: str, parallelism: int) -> None:
        self.http = http
        self.url = url
        self.semaphore = asyncio.Semaphore(parallelism)
        self.requests = 0
        self.headers: dict[str, str] = {}

    async def sign_in(self) -> None:
        basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        async with self.http.post(
            f"{self.url}/oauth/token",
            data="grant_type=client_credentials",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ) as response:
            token = (await response.json())["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The answer's ``data`` (the first error raised as RuntimeError)."""
        async with self.semaphore:
            self.requests += 1
            async with self.http.post(
                f"{self.url}/api",
                json={"query": query, "variables": variables},
                headers=self.headers,
            ) as response:
                body = await response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"][0]["message"])
        return dict(body["data"])
