"""``konvsync drift``: what was changed in the portal, and ``--write`` to
accept it into the YAML."""

from __future__ import annotations

import sys

import click

from konvsync.app.drift import drift_config
from konvsync.cli.options import (
    GlobalOptions,
    accepts_global_options,
    drift_target_option,
    format_option,
    paths_argument,
    plan_options,
)
from konvsync.cli.progress import StderrProgress
from konvsync.cli.streams import show, show_before_error
from konvsync.drift.writeback import WriteFailed, WriteRefused
from konvsync.errors import ExitStatus
from konvsync.render.drift import render_drift


@click.command()
@accepts_global_options
@paths_argument
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
@drift_target_option
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Let --write remove more than policy.max_delete_percent of a kind from the YAML.",
)
@click.pass_obj
def drift(
    options: GlobalOptions,
    paths: tuple[str, ...],
    fmt: str,
    write: bool,
    include_unmanaged: bool,
    targets: tuple[str, ...],
    allow_mass_delete: bool,
) -> ExitStatus:
    """Report what was changed in the portal since PATH was applied (several
    PATHs, base/ overlays/staging/, merge as in plan): objects changed,
    deleted or created there. Revert it with apply; accept it with --write,
    which edits the YAML in place (comments, order, quoting and ${env:...}
    values stay; a key the kind's rules forbid beside the portal's values
    goes, as the code of a CODE link made OPEN), each value in the file that
    holds it, after asking the portal for each object it would remove, and
    only if the edited files load.

    Exit 0 no drift, 2 drift (also after --write), 1 error, 3 refused (the
    portal guard; --write removing more than max_delete_percent, or a file
    changed since it was read).

    Examples:

    \b
      konvsync drift portal/
      konvsync drift portal/ --write
      konvsync drift portal/ --include-unmanaged --format json
    """
    progress = StderrProgress(enabled=not options.quiet)
    color = options.color and fmt == "text"
    # Drift writes nothing to the portal: the rails that guard an apply
    # (mass delete and update, welcome e-mails) do not refuse a report.
    try:
        report = drift_config(
            paths,
            options.connection,
            plan_options(targets, True, sys.maxsize, True),
            include_unmanaged,
            write,
            allow_mass_delete,
            on_page=progress.page,
        )
    except (WriteRefused, WriteFailed) as refused:  # shown, then exit 3 (or 1: not written)
        progress.clear()
        show_before_error(render_drift(refused.report, fmt, color=color), fmt == "json")
        raise
    progress.clear()
    wrote = report.written.files if report.written else []
    done = f"accepted into the configuration: wrote {', '.join(wrote)}" if wrote else ""
    show(render_drift(report, fmt, color=color), document=fmt == "json", done=done)
    return ExitStatus.CHANGES if report.has_drift else ExitStatus.OK
