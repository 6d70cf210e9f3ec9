"""Where a command connects: global options and the config's endpoint
resolved to a ``PortalTarget``; for ``sandbox``, the sandbox served
in-process for as long as the block runs (started here, in the command
layer, so that ``api`` never imports the sandbox)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from konvsync.api.connect import PortalTarget
from konvsync.api.credentials import Credentials, load_credentials
from konvsync.api.endpoints import CONFIG_ENDPOINT, Endpoint, resolve_endpoint
from konvsync.api.options import ConnectionOptions
from konvsync.errors import KonvsyncError, SandboxBusy, UsageError
from konvsync.support import redact

SANDBOX_DB = ".konvsync/sandbox.db"
"""Relative to the current folder, as Terraform's local state is: every
command run from one folder sees one sandbox portal."""

log = logging.getLogger("konvsync.sandbox")


@contextmanager
def portal_target(
    options: ConnectionOptions,
    config_endpoint: str | None = None,
    *,
    config_source: str | None = CONFIG_ENDPOINT,
) -> Iterator[PortalTarget]:
    """Resolve where to connect (``config_source``: how a config whose
    ``endpoint`` could say it is named, None: the command reads none); for
    ``sandbox``, serve the sandbox in-process (data in
    ``.konvsync/sandbox.db``) for as long as the block runs."""
    endpoint = resolve_endpoint(
        options.endpoint, config_endpoint, options.insecure_http, config_source=config_source
    )
    if not endpoint.is_sandbox:
        yield _portal(endpoint, options)
        return
    # Imported only for the sandbox: the server costs 30 ms of start-up
    # (python -X importtime) that no command against a real portal needs.
    from konvsync.sandbox.server import (
        DEFAULT_API_KEY,
        DEFAULT_API_SECRET,
        SandboxSettings,
        running_sandbox,
    )

    # Empty is unset (a CI variable defined empty): SQLite would take "" for
    # a private temporary database, gone with the command.
    named = os.environ.get("KONVSYNC_SANDBOX_DB") or None
    db = named or SANDBOX_DB
    if db != ":memory:" and not os.path.exists(db):
        log.warning(
            "the sandbox has no data yet: a new one starts in %s (%s)",
            os.path.abspath(db),
            "KONVSYNC_SANDBOX_DB"
            if named
            else "under the current folder: run konvsync from this folder to find it "
            "again, or set KONVSYNC_SANDBOX_DB",
        )
    settings = SandboxSettings(
        port=0, db=db, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET
    )
    with ExitStack() as stack:
        try:
            sandbox = stack.enter_context(running_sandbox(settings))
        except SandboxBusy as exc:
            # The server's advice (--db) is no flag of this command.
            raise UsageError(
                f"sandbox database {exc.path} is in use by another sandbox process, such as "
                "a running `konvsync sandbox`: use that one (--endpoint "
                "http://127.0.0.1:8765 by default, with the key and secret it printed), stop it, "
                "or set KONVSYNC_SANDBOX_DB to another file"
            ) from None
        credentials = Credentials(DEFAULT_API_KEY, DEFAULT_API_SECRET)
        yield PortalTarget(Endpoint("sandbox", sandbox.url), credentials, options)


def early_target(options: ConnectionOptions) -> PortalTarget | None:
    """Where to connect when the options alone say it (``--endpoint`` or
    ``KONVSYNC_ENDPOINT``, not the sandbox) with credentials at hand, so that
    the token and the first query can go out while the config loads. None
    when not, or when either is wrong: the config is loaded first, and its
    problems are reported before anything about the portal."""
    if not options.endpoint:
        return None
    try:
        endpoint = resolve_endpoint(options.endpoint, None, options.insecure_http)
        return None if endpoint.is_sandbox else _portal(endpoint, options)
    except KonvsyncError:
        return None


def _portal(endpoint: Endpoint, options: ConnectionOptions) -> PortalTarget:
    """A real portal's target, its secret registered to be redacted."""
    credentials = load_credentials(options.credentials_file)
    redact.register(credentials.api_secret)
    return PortalTarget(endpoint, credentials, options)
