"""``konvsync doctor``: proxy, credentials, reachability, and every operation
konvsync sends checked against the portal's live schema."""

from __future__ import annotations

import click

from konvsync.api.endpoints import CONFIG_ENDPOINT
from konvsync.app.doctor import run_doctor
from konvsync.app.portal import portal_target
from konvsync.cli.options import GlobalOptions, accepts_global_options
from konvsync.cli.params import GivenPath
from konvsync.cli.streams import show
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
    LMS module and DAM category slug the config uses exists. A check that
    cannot be made (the schema of a portal that refuses introspection) is a
    WARN line, not a failure. Exit 0 when all is well, 1 otherwise.

    Examples:

    \b
      konvsync doctor --endpoint https://acme.konvert.example
      konvsync doctor --config portal/
    """
    desired = load_config(config_path, allow_external_refs=True) if config_path else None
    endpoint = desired.endpoint if desired else None
    # Without --config, the message names the option that reads one.
    source = CONFIG_ENDPOINT if config_path else "'endpoint:' in a config given with --config"
    with portal_target(options.connection, endpoint, config_source=source) as target:
        report = run_doctor(target, desired)
    for check in report.checks:
        mark, color = ("WARN", "yellow") if check.unmade else ("ok  ", "green")
        if not check.ok:
            mark, color = "FAIL", "red"
        line = f"{mark} {check.name}: {printable(redact(check.detail))}"
        show(click.style(line, fg=color) if options.color else line)
    if not report.ok:
        show("Some checks failed.")
    elif report.unmade:
        show(f"All checks passed ({report.unmade} could not be made: see WARN above).")
    else:
        show("All checks passed.")
    return ExitStatus.OK if report.ok else ExitStatus.ERROR
