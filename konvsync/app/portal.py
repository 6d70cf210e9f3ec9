"""Where a command connects: global options and the config's endpoint
resolved to a ``PortalTarget``; for ``sandbox``, the sandbox served
in-process for as long as the block runs (started here, in the command
layer, so that ``api`` never imports the sandbox)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from konvsync.api.connect import PortalTarget
from konvsync.api.credentials import Credentials, load_credentials
from konvsync.api.endpoints import Endpoint, resolve_endpoint
from konvsync.api.options import ConnectionOptions
from konvsync.errors import KonvsyncError
from konvsync.support import redact

SANDBOX_DB = ".konvsync/sandbox.db"


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
    # Imported only for the sandbox: the server costs 30 ms of start-up
    # (python -X importtime) that no command against a real portal needs.
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


def connects_before_loading(options: ConnectionOptions) -> bool:
    """Whether the options alone say where to connect (``--endpoint`` or
    ``KONVSYNC_ENDPOINT``, not the sandbox) with credentials at hand, so that
    the token and the first query can go out while the config loads. When
    not, or when either is wrong, the config is loaded first: its problems
    are reported before anything about the portal."""
    if not options.endpoint:
        return False
    try:
        endpoint = resolve_endpoint(options.endpoint, None, options.insecure_http)
        if not endpoint.is_sandbox:
            load_credentials(options.credentials_file)
    except KonvsyncError:
        return False
    return not endpoint.is_sandbox
