"""``konvsync doctor``: proxy, credentials, reachability, and every operation
konvsync sends checked against the portal's live schema."""

from __future__ import annotations

import click

from konvsync.app.doctor import run_doctor
from konvsync.app.portal import portal_target
from konvsync.cli.options import GlobalOptions, accepts_global_options
from konvsync.cli.params import GivenPath
from konvsync.config.loader import load_config
from konvsync.errors import ExitStatus
from konvsync.support.redact import printable, redact


@click.command()
@accepts_global_options
@click.option(
    "--config",
    "config_path",
    type=GivenPath(),
    multiple=True,
    help="Take the endpoint from this config when --endpoint is not given, and "
    "check the slugs it refers to (repeatable: later paths override).",
)
@click.pass_obj
def doctor(options: GlobalOptions, config_path: tuple[str, ...]) -> ExitStatus:
    """Check endpoint, the proxy it goes through (HTTPS_PROXY, HTTP_PROXY,
    NO_PROXY), credentials, and every konvsync operation and input
    field against the portal's live schema; with --config, also that every
    LMS module and DAM category slug the config uses exists. Exit 0 when all
    is well, 1 otherwise.

    Examples:

    \b
      konvsync doctor --endpoint https://acme.konvert.example
      konvsync doctor --config portal/
    """
    desired = load_config(config_path, allow_external_refs=True) if config_path else None
    endpoint = desired.endpoint if desired else None
    # Without --config there is no 'endpoint:' to name in the message.
    with portal_target(options.connection, endpoint, reads_config=bool(config_path)) as target:
        report = run_doctor(target, desired)
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        line = f"{mark} {check.name}: {printable(redact(check.detail))}"
        click.echo(click.style(line, fg="green" if check.ok else "red") if options.color else line)
    click.echo("All checks passed." if report.ok else "Some checks failed.")
    return ExitStatus.OK if report.ok else ExitStatus.ERROR
