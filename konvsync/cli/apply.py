"""``konvsync apply``: plan (or read a saved plan), confirm, apply, report.

The command parses and calls the use case; ``ApplySession`` is its side of
the conversation: the prompt, what a signal prints, the plan shown when it is
refused, and the ``--report`` file, written whatever the outcome."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from konvsync.app.apply import ApplyResult, apply_path
from konvsync.apply.model import ApplyOptions, Verify
from konvsync.cli.options import (
    GlobalOptions,
    accepts_global_options,
    mass_delete_option,
    paths_argument,
    plan_options,
    rail_options,
    target_option,
)
from konvsync.cli.params import GivenPath, refuse_overwriting_inputs
from konvsync.cli.progress import StderrProgress
from konvsync.cli.report import ReportFile
from konvsync.cli.streams import is_terminal, say, show, show_before_error
from konvsync.errors import ApplyCancelled, ExitStatus, OutputError, UsageError
from konvsync.plan.changes import Plan
from konvsync.plan.planfile import SavedPlanStale
from konvsync.plan.planner import PlanRefused
from konvsync.render import render_plan
from konvsync.render.apply_report import render_apply_report, report_status


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
    "--verify",
    type=click.Choice([v.value for v in Verify]),
    default=None,
    help="What is read back after the run (every answer is checked against what was "
    "sent in every mode). updates (the default): the fields each update wrote, since an "
    "answer may echo the input rather than show what was stored; creates and deletes rest "
    "on their answers. "
    "full: every changed object, every field (about one more read of each changed kind). "
    "none: nothing. See README, 'What apply reads back after the run'.",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="The same as --verify=none.",
)
@click.option(
    "--report",
    "report_file",
    type=GivenPath(dir_okay=False),
    help="Also write the outcome as JSON to FILE: per change its status, error and "
    "created ID (schemas/apply-report.schema.json); written on failure and refusal too, "
    "and as the apply goes (status in_progress), so a killed run leaves a true record.",
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
    verify: str,
    no_verify: bool,
    report_file: str | None,
    targets: tuple[str, ...],
    allow_mass_delete: bool,
    allow_welcome_emails: int,
    allow_mass_update: bool,
) -> ExitStatus:
    """Make the portal match PATH (a config; several are merged, later ones
    overriding), or apply a saved PLANFILE.

    With a config: plans, shows the plan, asks for 'yes' (or --auto-approve);
    after 'yes' it reads the portal again and refuses (exit 3, nothing
    changed) if it moved while the plan was read.
    With a plan file: re-reads what it touches and refuses (exit 3) if the
    portal changed since; applies without asking, as reviewed (--target and
    the --allow-* rails are refused with a plan file: give them to plan).
    Either way, before the first write the operations and input fields it
    will send are checked against the portal's schema (exit 3 when they do
    not fit), before each step the objects it touches are read again (a
    second writer makes the step refuse), every answer must show what was
    sent, and afterwards what the answers cannot prove is read back and
    compared with the plan (--verify).
    Ctrl-C or SIGTERM: no new work is sent, requests in flight get 10 s, the
    summary is printed (exit 1); a second signal stops waiting.
    Exit 0 done; 1 error, partial failure or a mismatch; 3 refused.

    Examples:

    \b
      konvsync apply portal/
      konvsync apply konvsync.plan
      konvsync apply portal/ --auto-approve --report apply-report.json
    """
    mode = _verify_mode(verify, no_verify)
    refuse_overwriting_inputs(
        "--report", report_file, [*paths, options.connection.credentials_file]
    )
    session = ApplySession(options, auto_approve, report_file)
    with session.reporting():
        result = apply_path(
            paths,
            options.connection,
            plan_options(targets, allow_mass_delete, allow_welcome_emails, allow_mass_update),
            ApplyOptions(
                batch_size=batch_size,
                parallelism=parallelism,
                verify=mode,
            ),
            session.confirm,
            on_page=session.progress.page,
            progress=session.progress.step,
            on_interrupt=session.interrupted,
            on_loaded=session.progress.loaded_from(paths),
            on_report=session.report.progress,
            on_saved=session.saved,
        )
        return session.finish(result)


def _verify_mode(verify: str | None, no_verify: bool) -> Verify:
    if no_verify and verify not in (None, Verify.NONE):
        raise UsageError(f"--no-verify and --verify={verify} contradict each other")
    return Verify.NONE if no_verify else Verify(verify or Verify.UPDATES)


class ApplySession:
    """What ``apply`` says and asks on the terminal, and its report file."""

    def __init__(self, options: GlobalOptions, auto_approve: bool, report_file: str | None):
        self.options = options
        self.auto_approve = auto_approve
        self.report = ReportFile(report_file)
        self.progress = StderrProgress(enabled=not options.quiet)
        self.interrupted_by: str | None = None
        self.planned: Plan | None = None

    def interrupted(self, name: str, grace: float) -> None:
        self.interrupted_by = self.interrupted_by or name
        self.progress.clear()
        if not grace:
            click.echo(f"{name} again: not waiting for the requests in flight.", err=True)
            return
        click.echo(
            f"{name}: stopping; no new work is sent, requests in flight get up to "
            f"{grace:g} s to finish (send it again to stop waiting).",
            err=True,
        )

    def saved(self, plan: Plan) -> None:
        """The saved plan being applied: what a report of an error before
        it runs counts (a config's plan is known at ``confirm``)."""
        self.planned = plan

    def confirm(self, plan: Plan) -> bool:
        """Show the plan and ask (unless --auto-approve); whether it asked."""
        self.planned = plan
        self.progress.clear()
        if not (self.auto_approve and self.options.quiet):
            shown = render_plan(plan, "text", color=self.options.color) + "\n"
            show(shown, done="nothing was changed")
        if self.auto_approve:
            return False
        if not is_terminal(sys.stdin):
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
        return True

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """The report file says the apply is under way from the start; a
        refused plan is shown in full; whatever stops the apply is written
        to the report (with what was sent before it), then raised."""
        self.report.start()
        try:
            yield
        except PlanRefused as refused:
            self._show_refused(refused.outcome.plan)
            self.report.stopped(refused.outcome.plan, refused)
            raise
        except SavedPlanStale as stale:
            self._show_refused(stale.refused_plan)
            self.report.stopped(stale.plan, stale)
            raise
        except OutputError:  # the report itself could not be written
            raise
        except click.Abort:  # the prompt's Ctrl-C, SIGTERM or end of input
            say("")  # the prompt's line ends (the terminal shows ^C, or nothing for Ctrl-D)
            cancelled = ApplyCancelled("Apply cancelled at the prompt; nothing was changed.")
            self.report.stopped(self.planned, cancelled)
            # Said as the error it is, not as click's bare "Aborted.".
            raise cancelled from None
        except (Exception, KeyboardInterrupt) as exc:
            self.report.stopped(self.planned, exc)
            raise

    def _show_refused(self, plan: Plan) -> None:
        self.progress.clear()
        show_before_error(render_plan(plan, "text", color=self.options.color))

    def finish(self, result: ApplyResult) -> ExitStatus:
        # The report first: a signal that comes now (a third Ctrl-C) must not
        # leave it saying in_progress; the summary is shown whatever happens.
        try:
            self.report.finish(result.plan, result.report)
        finally:
            self.progress.clear()
            if result.report is None:  # the plan's warnings and scope, and "No changes."
                show(render_plan(result.plan, "text", color=self.options.color))
            else:
                status = report_status(result.report)
                summary = render_apply_report(result.report, self.interrupted_by, result.saved)
                show(summary, done=f"the apply ran: {status}")
        return ExitStatus.OK if result.report is None or result.report.ok else ExitStatus.ERROR
