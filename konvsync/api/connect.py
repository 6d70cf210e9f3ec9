"""From global options to a connected ``PortalClient``: endpoint,
credentials, token source; ``sandbox`` starts the in-process sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from konvsync import redact
from konvsync.api.auth import JwtTokens, OAuthTokens, token_source
from konvsync.api.client import ClientSettings, PortalClient
from konvsync.api.credentials import Credentials, load_credentials
from konvsync.api.endpoints import Endpoint, resolve_endpoint
from konvsync.api.options import ConnectionOptions

SANDBOX_DB = ".konvsync/sandbox.db"


@dataclass(frozen=True)
class PortalTarget:
    endpoint: Endpoint
    credentials: Credentials
    options: ConnectionOptions

    @cached_property
    def tokens(self) -> OAuthTokens | JwtTokens:
        """One token source for every client of this target: ``apply`` plans
        with one client and applies with another, on one token."""
        return token_source(
            self.options.auth,
            self.credentials,
            self.endpoint.token_url,
            self.options.token_lifetime,
        )

    def client(self) -> PortalClient:
        settings = ClientSettings(
            timeout=self.options.timeout, max_retries=self.options.max_retries
        )
        return PortalClient(self.endpoint, self.tokens, settings)


@contextmanager
def portal_target(
    options: ConnectionOptions, config_endpoint: str | None = None
) -> Iterator[PortalTarget]:
    """Resolve where to connect; for ``sandbox``, serve the sandbox in-process
    (data in ``.konvsync/sandbox.db``) for as long as the block runs."""
    endpoint = resolve_endpoint(options.endpoint, config_endpoint, options.insecure_http)
    if not endpoint.is_sandbox:
        credentials = load_credentials(options.credentials_file)
        redact.register(credentials.api_secret)
        yield PortalTarget(endpoint, credentials, options)
        return
    from konvsync.sandbox.server import (
        DEFAULT_API_KEY,
        DEFAULT_API_SECRET,
        SandboxSettings,
        running_sandbox,
    )

    db = os.environ.get("KONVSYNC_SANDBOX_DB", SANDBOX_DB)
    settings = SandboxSettings(
        port=0, db=db, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET
    )
    with running_sandbox(settings) as sandbox:
        credentials = Credentials(DEFAULT_API_KEY, DEFAULT_API_SECRET)
        yield PortalTarget(Endpoint("sandbox", sandbox.url), credentials, options)
