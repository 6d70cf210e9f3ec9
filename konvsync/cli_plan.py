"""``plan``, ``drift`` and ``show``: the commands that read the portal and
report how it differs (their shared options are in cli_options.py)."""

from __future__ import annotations

import sys

import click

from konvsync.cli_options import (
    GlobalOptions,
    accepts_global_options,
    format_option,
    mass_delete_option,
    paths_argument,
    plan_options,
    rail_options,
    rail_values,
    target_option,
)
from konvsync.cli_progress import StderrProgress
from konvsync.errors import (
    EXIT_CHANGES,
    EXIT_OK,
)


@click.command()
@accepts_global_options
@paths_argument
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
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
) -> int:
    """Read the portal and show what apply would change to match PATH.

    Several PATHs (base/ overlays/staging/) are merged, later ones overriding
    earlier ones by key, field by field.

    Exit 0 (with --detailed-exitcode: 0 no changes, 2 changes); 1 error;
    3 refused (mass delete or update, welcome e-mails, portal guard): the plan
    is still shown in full, with the reason at the top, and --out writes no
    file.
    """
    from konvsync.plan.planner import PlanRefused
    from konvsync.render import render_plan
    from konvsync.workflows import plan_config

    progress = StderrProgress(enabled=not options.quiet)
    rails = rail_values(allow_welcome_emails, allow_mass_update)
    try:
        outcome = plan_config(
            paths,
            options.connection,
            plan_options(targets, allow_mass_delete, rails),
            out_file,
            on_page=progress.page,
        )
    except PlanRefused as refused:  # shown in full, then exit 3
        progress.clear()
        click.echo(render_plan(refused.outcome.plan, fmt, color=options.color and fmt == "text"))
        if out_file:
            click.echo(f"The plan was refused: {out_file} was not written.", err=True)
        raise
    progress.clear()
    click.echo(render_plan(outcome.plan, fmt, color=options.color and fmt == "text"))
    if out_file and not options.quiet:
        click.echo(
            f"Saved the plan to {out_file}. Apply exactly it with: konvsync apply {out_file}",
            err=True,
        )
    if detailed_exitcode and outcome.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


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
) -> int:
    """Report what was changed in the portal since PATH was applied: objects
    changed, deleted or created there. Revert it with apply; accept it with
    --write, which edits the YAML in place (comments, order, quoting and
    ${env:...} values stay as they are).

    Exit 0 no drift, 2 drift (also after --write), 1 error, 3 refused
    (a safety rule of plan: mass delete, portal guard).
    """
    from konvsync.render.drift import render_drift
    from konvsync.workflows import drift_config

    progress = StderrProgress(enabled=not options.quiet)
    # Drift writes nothing to the portal: the rails for welcome e-mails and
    # mass updates (which guard an apply) do not refuse a report.
    report = drift_config(
        path,
        options.connection,
        plan_options(targets, allow_mass_delete, rail_values(sys.maxsize, True)),
        include_unmanaged,
        write,
        on_page=progress.page,
    )
    progress.clear()
    click.echo(render_drift(report, fmt, color=options.color and fmt == "text"))
    return EXIT_CHANGES if report.has_drift else EXIT_OK


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@format_option
@click.option("--no-color", is_flag=True, help="No colour.")
@click.pass_obj
def show(options: GlobalOptions, planfile: str, fmt: str, no_color: bool) -> int:
    """Render a plan file saved by 'plan --out' (offline: the portal is not read).

    Exit 0; 1 when PLANFILE is not a konvsync plan file; 3 when another
    konvsync release made it.
    """
    from konvsync.plan.planfile import read_planfile
    from konvsync.render import render_plan

    saved = read_planfile(planfile)
    color = options.color and not no_color and fmt == "text"
    click.echo(render_plan(saved.plan, fmt, color=color))
    return EXIT_OK


# ------------------------------------------------------------------ export
