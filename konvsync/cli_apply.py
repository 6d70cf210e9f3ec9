"""``apply``: plan (or read a saved plan), confirm, apply, report."""

from __future__ import annotations

import sys

import click

from konvsync.cli_ci import write_apply_report
from konvsync.cli_options import (
    GlobalOptions,
    accepts_global_options,
    mass_delete_option,
    paths_argument,
    plan_options,
    rail_options,
    rail_values,
    target_option,
)
from konvsync.cli_progress import StderrProgress
from konvsync.errors import (
    EXIT_ERROR,
    EXIT_OK,
    ApplyCancelled,
    KonvsyncError,
    UsageError,
)


@click.command()
@accepts_global_options
@paths_argument
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 32),
    default=8,
    show_default=True,
    help="Mutation requests in flight at once (8: see benchmarks/parallelism_bench.py).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100),
    default=50,
    show_default=True,
    help="Mutations per request (aliased in one document).",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Skip reading back what was changed after the run (saves about one read "
    "of each changed kind; see README).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False),
    help="Also write the outcome as JSON to FILE: per change its status, error and "
    "created ID (schemas/apply-report.schema.json); written on failure and refusal too.",
)
@target_option
@mass_delete_option
@rail_options
@click.pass_obj
def apply(
    options: GlobalOptions,
    paths: tuple[str, ...],
    auto_approve: bool,
    parallelism: int,
    batch_size: int,
    no_verify: bool,
    report_file: str | None,
    targets: tuple[str, ...],
    allow_mass_delete: bool,
    allow_welcome_emails: int,
    allow_mass_update: bool,
) -> int:
    """Make the portal match PATH (a config; several are merged, later ones
    overriding), or apply a saved PLANFILE.

    With a config: plans, shows the plan, asks for 'yes' (or --auto-approve).
    With a plan file: re-reads what it touches and refuses (exit 3) if the
    portal changed since; applies without asking, as reviewed (--target is
    refused with a plan file).
    Either way, before the first write the operations and input fields it
    will send are checked against the portal's schema (exit 3 when they do
    not fit), before each step the objects it touches are read again (a
    second writer makes the step refuse), every answer must show what was
    sent, and afterwards the changed objects are read back and compared with
    the plan (--no-verify skips that read-back).
    Ctrl-C or SIGTERM: no new work is sent, requests in flight get 10 s, the
    summary is printed (exit 1); a second signal stops waiting.
    Exit 0 done; 1 error, partial failure or a mismatch; 3 refused.
    """
    from konvsync.apply_model import ApplyOptions
    from konvsync.plan.changes import Plan
    from konvsync.plan.planfile import SavedPlanStale
    from konvsync.plan.planner import PlanRefused
    from konvsync.render import render_plan
    from konvsync.render.apply_report import render_apply_report
    from konvsync.workflows import apply_path

    progress = StderrProgress(enabled=not options.quiet)
    interrupted_by: list[str] = []
    planned: list[Plan] = []

    def on_interrupt(name: str, grace: float) -> None:
        interrupted_by.append(name)
        progress.clear()
        if not grace:
            click.echo(f"{name} again: not waiting for the requests in flight.", err=True)
            return
        click.echo(
            f"{name}: stopping; no new work is sent, requests in flight get up to "
            f"{grace:g} s to finish (send it again to stop waiting).",
            err=True,
        )

    def confirm(plan: Plan) -> None:
        planned.append(plan)
        progress.clear()
        if not (auto_approve and options.quiet):
            click.echo(render_plan(plan, "text", color=options.color))
            click.echo("")
        if auto_approve:
            return
        if not sys.stdin.isatty():
            raise UsageError(
                "refusing to apply without confirmation: stdin is not a terminal; "
                "pass --auto-approve, or apply a saved plan file"
            )
        answer = click.prompt(
            "Do you want to perform these actions? Only 'yes' will be accepted",
            default="",
            show_default=False,
        )
        if answer.strip() != "yes":
            raise ApplyCancelled("Apply cancelled.")

    rails = rail_values(allow_welcome_emails, allow_mass_update)
    try:
        result = apply_path(
            paths,
            options.connection,
            plan_options(targets, allow_mass_delete, rails),
            ApplyOptions(batch_size=batch_size, parallelism=parallelism, verify=not no_verify),
            confirm,
            on_page=progress.page,
            progress=progress.step,
            on_interrupt=on_interrupt,
        )
    except PlanRefused as refused:
        progress.clear()
        click.echo(render_plan(refused.outcome.plan, "text", color=options.color))
        write_apply_report(report_file, refused.outcome.plan, None, refused)
        raise
    except SavedPlanStale as stale:
        progress.clear()
        click.echo(render_plan(stale.refused_plan, "text", color=options.color))
        write_apply_report(report_file, stale.plan, None, stale)
        raise
    except (KonvsyncError, KeyboardInterrupt) as exc:
        write_apply_report(report_file, planned[0] if planned else None, None, exc)
        raise
    except click.Abort:  # the prompt's Ctrl-C, SIGTERM or end of input
        cancelled = ApplyCancelled("Apply cancelled at the prompt; nothing was changed.")
        write_apply_report(report_file, planned[0] if planned else None, None, cancelled)
        raise
    progress.clear()
    if result.report is None:
        from konvsync.render.values import NO_CHANGES

        click.echo(NO_CHANGES)
    else:
        click.echo(
            render_apply_report(result.report, interrupted_by[0] if interrupted_by else None)
        )
    write_apply_report(report_file, result.plan, result.report)
    return EXIT_OK if result.report is None or result.report.ok else EXIT_ERROR
