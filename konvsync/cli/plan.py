"""``konvsync plan``: read the portal and show what apply would change."""

from __future__ import annotations

import click

from konvsync.app.plan import plan_config
from konvsync.cli.options import (
    GlobalOptions,
    accepts_global_options,
    format_option,
    mass_delete_option,
    paths_argument,
    plan_options,
    rail_options,
    target_option,
)
from konvsync.cli.params import GivenPath, refuse_overwriting_inputs
from konvsync.cli.progress import StderrProgress
from konvsync.cli.streams import show, show_before_error
from konvsync.errors import ExitStatus
from konvsync.plan.planfile import is_planfile
from konvsync.plan.planner import PlanRefused
from konvsync.render import render_plan


@click.command()
@accepts_global_options
@paths_argument
@click.option(
    "--out",
    "out_file",
    type=GivenPath(dir_okay=False),
    help="Also save the plan to FILE for 'konvsync apply FILE'.",
)
@format_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (1 error, 3 refused).",
)
@target_option
@mass_delete_option
@rail_options
@click.pass_obj
def plan(
    options: GlobalOptions,
    paths: tuple[str, ...],
    out_file: str | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    allow_mass_delete: bool,
    allow_welcome_emails: int,
    allow_mass_update: bool,
) -> ExitStatus:
    """Read the portal and show what apply would change to match PATH.

    Several PATHs (base/ overlays/staging/) are merged, later ones overriding
    earlier ones by key, field by field.

    Exit 0 (with --detailed-exitcode: 0 no changes, 2 changes); 1 error;
    3 refused (mass delete or update, welcome e-mails, portal guard): the plan
    is still shown in full, with the reason at the top, and --out writes no
    file.

    Examples:

    \b
      konvsync plan portal/
      konvsync plan portal/ --out konvsync.plan --detailed-exitcode
      konvsync plan portal/ --target users/jane@acme.example
      konvsync plan portal/ --format markdown
    """
    refuse_overwriting_inputs("--out", out_file, [*paths, options.connection.credentials_file])
    progress = StderrProgress(enabled=not options.quiet)
    color = options.color and fmt == "text"
    try:
        outcome = plan_config(
            paths,
            options.connection,
            plan_options(targets, allow_mass_delete, allow_welcome_emails, allow_mass_update),
            out_file,
            on_page=progress.page,
            on_loaded=progress.loaded_from(paths),
        )
    except PlanRefused as refused:  # shown in full, then exit 3
        progress.clear()
        show_before_error(render_plan(refused.outcome.plan, fmt, color=color), fmt == "json")
        if out_file:
            # An earlier plan there is what ``apply FILE`` would apply.
            kept = "; it still holds the plan saved before" if is_planfile(out_file) else ""
            click.echo(f"The plan was refused: {out_file} was not written{kept}.", err=True)
        raise
    progress.clear()
    saved = f"saved the plan to {out_file}" if out_file else ""
    show(render_plan(outcome.plan, fmt, color=color), document=fmt == "json", done=saved)
    if out_file and not options.quiet:
        click.echo(
            f"Saved the plan to {out_file}. Apply exactly it with: konvsync apply {out_file}",
            err=True,
        )
    if detailed_exitcode and outcome.plan.has_changes:
        return ExitStatus.CHANGES
    return ExitStatus.OK
