"""How to connect, as the global options say; light to import (the CLI
builds it for every command, ``validate`` included)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionOptions:
    endpoint: str | None = None
    auth: str = "oauth"
    credentials_file: str | None = None
    token_lifetime: int = 3600
    timeout: float = 30.0
    max_retries: int = 5
    insecure_http: bool = False
