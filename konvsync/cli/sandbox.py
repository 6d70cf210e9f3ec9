"""``konvsync sandbox``: the click command that runs the local Konvert
sandbox in the foreground (its own module, as every command)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import click

from konvsync.api.endpoints import is_loopback
from konvsync.app.seeding import seed_new_store
from konvsync.errors import ExitStatus, UsageError
from konvsync.sandbox import readings as contract_readings
from konvsync.sandbox.faults import FaultSettings
from konvsync.sandbox.run import serve_forever
from konvsync.sandbox.server import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_PORTAL_NAME,
    SandboxSettings,
)
from konvsync.sandbox.store import Store


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Other than loopback only with an API secret of your own.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 takes a free one (the first line says which).",
)
@click.option(
    "--db", default=".konvsync/sandbox.db", show_default=True, help="SQLite file, or :memory:."
)
@click.option(
    "--api-key",
    envvar="KONVSYNC_SANDBOX_API_KEY",
    help="Accepted API key (env KONVSYNC_SANDBOX_API_KEY).",
)
@click.option(
    "--api-secret",
    envvar="KONVSYNC_SANDBOX_API_SECRET",
    help="Accepted API secret (env KONVSYNC_SANDBOX_API_SECRET is safer).",
)
@click.option(
    "--portal-name",
    default=None,
    help="The portal's name (viewer.portalName), which a config's portal: guard "
    "must equal (default: Konvsync Sandbox).",
)
@click.option(
    "--seed",
    type=click.Path(exists=True),
    help="Fill a new sandbox from a konvsync config (file or directory); a --db "
    "file that already holds data is refused.",
)
@click.option(
    "--token-ttl",
    type=click.IntRange(1, 21600),
    default=21600,
    show_default=True,
    help="Lifetime of issued OAuth tokens, seconds.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0),
    default=0.0,
    help="Delay every request by this many milliseconds.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of API requests answered 503 before doing anything.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(0),
    default=0.0,
    help="API requests per second; over it, 429 with Retry-After.",
)
@click.option(
    "--drop-after-commit-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of mutation requests that commit, then drop the connection.",
)
@click.option(
    "--page-cap",
    type=click.IntRange(1, 100),
    default=None,
    help="Pages hold at most this many nodes, whatever 'first' asks.",
)
@click.option("--fault-seed", type=int, default=None, help="Seed for the fault dice.")
@click.option("--read-only", is_flag=True, help="Answer every mutation with FORBIDDEN.")
@click.option(
    "--no-introspection",
    is_flag=True,
    help="Refuse introspection queries, as some production servers do.",
)
@click.option(
    "--ignore-field",
    "ignore_fields",
    multiple=True,
    metavar="FIELD",
    help="Update mutations answer as if they stored this input field (e.g. name) but "
    "keep the old value: a server that silently ignores a field. Repeatable.",
)
@click.option(
    "--reading",
    "reading_names",
    multiple=True,
    type=click.Choice([*contract_readings.NAMED, contract_readings.ALL]),
    hidden=True,
    help="For tests: answer by another reading of the contract where it leaves a server "
    "a choice (konvsync.sandbox.readings). Repeatable.",
)
def sandbox(
    host: str,
    port: int,
    db: str,
    api_key: str | None,
    api_secret: str | None,
    portal_name: str | None,
    seed: str | None,
    token_ttl: int,
    latency_ms: float,
    fail_rate: float,
    rate_limit: float,
    drop_after_commit_rate: float,
    page_cap: int | None,
    fault_seed: int | None,
    read_only: bool,
    no_introspection: bool,
    ignore_fields: tuple[str, ...],
    reading_names: tuple[str, ...],
) -> ExitStatus:
    """Run the local Konvert sandbox: POST /oauth/token and POST /api.

    Without --api-key/--api-secret it accepts the documented defaults
    sandbox-key / sandbox-secret-not-for-production. Stop it with Ctrl-C.

    Exit 0 when stopped (Ctrl-C or SIGTERM); 1 when it cannot start (the
    port or the --db file in use, a --seed config that is not valid, a --db
    file that already holds data with --seed).
    """
    if (api_secret is None or api_secret == DEFAULT_API_SECRET) and not is_loopback(host):
        raise UsageError(
            f"--host {host!r} is not a loopback address and the default API secret is "
            "published: give a secret of your own (KONVSYNC_SANDBOX_API_SECRET or --api-secret)"
        )
    logging.getLogger("konvsync.sandbox").setLevel(logging.INFO)
    settings = SandboxSettings(
        host=host,
        port=port,
        db=db,
        api_key=api_key or DEFAULT_API_KEY,
        api_secret=api_secret or DEFAULT_API_SECRET,
        portal_name=portal_name or DEFAULT_PORTAL_NAME,
        token_ttl=token_ttl,
        read_only=read_only,
        introspection=not no_introspection,
        faults=FaultSettings(
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            rate_limit=rate_limit,
            drop_after_commit_rate=drop_after_commit_rate,
            page_cap=page_cap,
            seed=fault_seed,
            ignore_fields=ignore_fields,
        ),
        readings=contract_readings.named(reading_names, seed=fault_seed or 0),
    )
    secret_text = (
        f"{DEFAULT_API_SECRET} (default)" if api_secret is None else "(as given, not shown)"
    )

    def announce(url: str, seeded: int) -> None:
        click.echo(f"Konvert sandbox serving {url}/api (token URL {url}/oauth/token)", err=True)
        click.echo(f"  portal: {settings.portal_name}; data: {db}", err=True)
        click.echo(f"  API key: {settings.api_key}; API secret: {secret_text}", err=True)
        if seeded:
            click.echo(f"  seeded {seeded} objects from {seed}", err=True)
        click.echo("Press Ctrl-C to stop.", err=True)

    seeding: Callable[[Store], int] | None = None
    if seed is not None:
        seeding = functools.partial(seed_new_store, path=seed, db=db)
    serve_forever(settings, seeding, announce)
    return ExitStatus.OK
