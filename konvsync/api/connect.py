"""A resolved portal: endpoint, credentials, one token source, and the
``PortalClient`` for it (``konvsync.app.portal`` resolves one from the options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from konvsync.api.auth import JwtTokens, OAuthTokens, token_source
from konvsync.api.client import ClientSettings, PortalClient
from konvsync.api.credentials import Credentials
from konvsync.api.endpoints import Endpoint
from konvsync.api.options import ConnectionOptions
from konvsync.api.proxies import ProxyRoute, proxy_route


@dataclass(frozen=True)
class PortalTarget:
    endpoint: Endpoint
    credentials: Credentials
    options: ConnectionOptions
    api_route: ProxyRoute = field(init=False)
    token_route: ProxyRoute = field(init=False)

    def __post_init__(self) -> None:
        # The proxies are read from the environment once, with the target:
        # a proxy variable that is no URL stops the command before it sends.
        object.__setattr__(self, "api_route", proxy_route(self.endpoint.api_url))
        object.__setattr__(self, "token_route", proxy_route(self.endpoint.token_url))

    @cached_property
    def tokens(self) -> OAuthTokens | JwtTokens:
        """One token source for every client of this target: ``apply`` plans
        with one client and applies with another, on one token."""
        return token_source(
            self.options.auth,
            self.credentials,
            self.endpoint.token_url,
            self.options.token_lifetime,
            self.token_route,
        )

    def client(self) -> PortalClient:
        settings = ClientSettings(
            timeout=self.options.timeout, max_retries=self.options.max_retries
        )
        return PortalClient(self.endpoint, self.tokens, settings, self.api_route)
