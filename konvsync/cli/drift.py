"""``konvsync drift``: what was changed in the portal, and ``--write`` to
accept it into the YAML."""

from __future__ import annotations

import sys

import click

from konvsync.app.drift import drift_config
from konvsync.cli.options import (
    GlobalOptions,
    accepts_global_options,
    format_option,
    mass_delete_option,
    plan_options,
    target_option,
)
from konvsync.cli.progress import StderrProgress
from konvsync.errors import ExitStatus
from konvsync.render.drift import render_drift


@click.command()
@accepts_global_options
@click.argument("path", type=click.Path())
@format_option
@click.option(
    "--write",
    is_flag=True,
    help="Accept the drift: write the portal's values into the YAML files in place.",
)
@click.option(
    "--include-unmanaged",
    is_flag=True,
    help="Also report (and with --write, add) objects of kinds not in policy.prune "
    "that the YAML does not list.",
)
@target_option
@mass_delete_option
@click.pass_obj
def drift(
    options: GlobalOptions,
    path: str,
    fmt: str,
    write: bool,
    include_unmanaged: bool,
    targets: tuple[str, ...],
    allow_mass_delete: bool,
) -> ExitStatus:
    """Report what was changed in the portal since PATH was applied: objects
    changed, deleted or created there. Revert it with apply; accept it with
    --write, which edits the YAML in place (comments, order, quoting and
    ${env:...} values stay as they are).

    Exit 0 no drift, 2 drift (also after --write), 1 error, 3 refused
    (a safety rule of plan: mass delete, portal guard).
    """
    progress = StderrProgress(enabled=not options.quiet)
    # Drift writes nothing to the portal: the rails for welcome e-mails and
    # mass updates (which guard an apply) do not refuse a report.
    report = drift_config(
        path,
        options.connection,
        plan_options(targets, allow_mass_delete, sys.maxsize, True),
        include_unmanaged,
        write,
        on_page=progress.page,
    )
    progress.clear()
    click.echo(render_drift(report, fmt, color=options.color and fmt == "text"))
    return ExitStatus.CHANGES if report.has_drift else ExitStatus.OK
