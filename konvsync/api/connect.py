"""A resolved portal: endpoint, credentials, one token source, and the
``PortalClient`` for it (``konvsync.app.portal`` resolves one from the options)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from konvsync.api.auth import JwtTokens, OAuthTokens, token_source
from konvsync.api.client import ClientSettings, PortalClient
from konvsync.api.credentials import Credentials
from konvsync.api.endpoints import Endpoint
from konvsync.api.options import ConnectionOptions


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
