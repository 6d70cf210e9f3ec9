"""Which portal API to talk to: ``production``, ``staging``, ``sandbox`` or
a base URL, resolved from the flag, the environment and the config."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from konvsync.errors import UsageError
from konvsync.support.redact import printable, shown_url

NAMED = {
    "production": "https://api.konvertapp.com",
    "staging": "https://api.staging.konvertapp.com",
}
SANDBOX = "sandbox"
NAMED_ENDPOINTS: tuple[str, ...] = (*NAMED, SANDBOX)
"""The names ``--endpoint`` and a config's ``endpoint`` take besides a URL."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    """What the user wrote: a name or the base URL."""
    base_url: str
    """Empty for the in-process sandbox until it is started."""

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def is_sandbox(self) -> bool:
        return self.name == SANDBOX


CONFIG_ENDPOINT = "'endpoint:' in the config"
"""Where a command that reads a config finds its endpoint (``resolve_endpoint``)."""


def resolve_endpoint(
    flag: str | None,
    config_value: str | None,
    insecure_http: bool = False,
    *,
    config_source: str | None = CONFIG_ENDPOINT,
) -> Endpoint:
    """``--endpoint``/``KONVSYNC_ENDPOINT`` (click merges the two), else the
    config's ``endpoint`` (``config_source``: how the command's user names
    one, for the message when there is none; None: the command reads no
    config). There is no default: a production portal is never reached by
    accident."""
    if flag is None and os.environ.get("KONVSYNC_ENDPOINT") == "":
        # click reads an empty variable as unset; the config's endpoint would
        # then be used, though the pipeline meant another (its value is missing).
        raise UsageError(
            "KONVSYNC_ENDPOINT is set but empty: set it to production, staging, sandbox "
            "or a URL, or unset it to use the config's endpoint"
        )
    value = flag or config_value
    if not value:
        where = "--endpoint or KONVSYNC_ENDPOINT"
        where = f"--endpoint, KONVSYNC_ENDPOINT or {config_source}" if config_source else where
        raise UsageError(f"no endpoint: set {where} (production, staging, sandbox or a URL)")
    if value in NAMED:
        return Endpoint(value, NAMED[value])
    if value == SANDBOX:
        return Endpoint(SANDBOX, "")
    # What is shown of it: never a password, nor a query that may hold a token.
    shown = shown_url(value)
    if "@" in value:
        # Before it is parsed: a password holding a / ? or # ends the host
        # part there (``https://admin:2024/pw@host`` reads as host admin, port
        # 2024), and the parser's error quotes the rest.
        authority = re.split("[/?#]", value.split("://", 1)[-1], maxsplit=1)[0]
        if "@" not in authority:
            # After the host as written: an @ of a path (legal) reads the
            # same as a password holding a / ? or #, so both are refused.
            scheme = value.partition("://")[0] + "://" if "://" in value else ""
            marked = f"{printable(scheme)}***@{shown.removeprefix(printable(scheme))}"
            raise UsageError(
                f"endpoint {marked!r}: an @ after the host is "
                "refused, as it may end a user name or password that holds a / ? or # "
                "(credentials come from KONVERT_API_KEY and KONVERT_API_SECRET or "
                "--credentials-file, never from the endpoint); write an @ of its path as %40"
            )
        raise UsageError(
            f"endpoint {shown!r}: a URL holding a user name or password is refused "
            "(credentials come from KONVERT_API_KEY and KONVERT_API_SECRET or "
            "--credentials-file, never from the endpoint)"
        )
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port out of range raises ValueError
    except ValueError as exc:
        raise UsageError(f"endpoint {shown!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"endpoint {shown!r} is not production, staging, sandbox or an http(s) URL"
        )
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise UsageError(
            f"endpoint {shown!r}: a base URL has no ?query or #fragment (konvsync adds "
            "/api and /oauth/token to it)"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not insecure_http:
        raise UsageError(
            f"endpoint {value!r} is plain http to a non-loopback host; "
            "use https, or --insecure-http if you really mean it"
        )
    base = value.rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return Endpoint(value, base)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
