"""The command line: click commands that parse, call one function and render.

Exit codes are one contract for every command (DESIGN §3): 0 success,
1 any error (usage errors included), 2 changes present under
``--detailed-exitcode``, 3 plan refused. ``KonvsyncCLI.main`` is the one
place where exceptions become exit codes.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, NoReturn

import click

from konvsync import __version__
from konvsync.api.options import ConnectionOptions
from konvsync.cli_ci import sigterm_interrupts, write_apply_report
from konvsync.cli_options import GlobalOptions, accepts_global_options
from konvsync.cli_progress import StderrProgress
from konvsync.cli_sandbox import sandbox
from konvsync.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    ApplyCancelled,
    ConfigError,
    ConfigInvalid,
    KonvsyncError,
    UsageError,
)
from konvsync.logs import configure_logging
from konvsync.redact import printable, redact


class KonvsyncCLI(click.Group):
    """Turns every error into one redacted line on stderr and its exit code."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        show_traceback = "--traceback" in (args if args is not None else sys.argv[1:])
        try:
            with sigterm_interrupts():
                code = super().main(
                    args=args,
                    prog_name="konvsync",
                    complete_var=complete_var,
                    standalone_mode=False,
                    **extra,
                )
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.format_message(), err=True)  # the help: no command was given
            code = EXIT_ERROR
        except click.UsageError as exc:
            hint = f"\nRun '{exc.ctx.command_path} --help' for usage." if exc.ctx else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            code = EXIT_ERROR
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = EXIT_ERROR
        except ConfigInvalid as exc:
            if not exc.shown:
                for problem in exc.problems:
                    click.echo(printable(redact(str(problem))), err=True)
            click.echo(f"Error: {exc}", err=True)
            code = exc.exit_code
        except KonvsyncError as exc:
            if show_traceback:
                click.echo(redact(traceback.format_exc()), err=True)
            click.echo(f"Error: {printable(redact(str(exc)))}", err=True)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = EXIT_ERROR
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            code = EXIT_ERROR
        except Exception as exc:  # a bug, or an answer outside the API contract
            if show_traceback:
                click.echo(redact(traceback.format_exc()), err=True)
            detail = printable(redact(f"{type(exc).__name__}: {exc}"))
            click.echo(
                f"Error: unexpected {detail} (run with --traceback for details, and "
                "please report it)",
                err=True,
            )
            code = EXIT_ERROR
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _color(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@click.group(cls=KonvsyncCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="konvsync")
@click.option(
    "--endpoint",
    envvar="KONVSYNC_ENDPOINT",
    metavar="NAME|URL",
    help="production, staging, sandbox or a base URL (env KONVSYNC_ENDPOINT; "
    "default: the config's endpoint).",
)
@click.option(
    "--auth",
    type=click.Choice(["oauth", "jwt"]),
    envvar="KONVSYNC_AUTH",
    default="oauth",
    show_default=True,
    help="OAuth client credentials, or a self-signed HS256 JWT (env KONVSYNC_AUTH).",
)
@click.option(
    "--credentials-file",
    type=click.Path(dir_okay=False),
    help="YAML/JSON file with api_key and api_secret (default: env "
    "KONVERT_API_KEY and KONVERT_API_SECRET).",
)
@click.option(
    "--token-lifetime",
    type=click.IntRange(61, 21600),
    default=3600,
    show_default=True,
    help="JWT lifetime in seconds with --auth jwt (61 to 21600).",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds before one API request times out.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries of a failed request (429, 5xx, timeouts) before giving up.",
)
@click.option(
    "--insecure-http", is_flag=True, help="Allow a plain-http endpoint that is not loopback."
)
@click.option("-v", "--verbose", count=True, help="More log on stderr (-vv: request bodies).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Only results, warnings and errors: no progress, no notes on stderr.",
)
@click.option("--no-color", is_flag=True, help="No colour (also: NO_COLOR set).")
@click.option(
    "--traceback", "show_traceback", is_flag=True, help="Print the traceback of an error."
)
@click.pass_context
def cli(
    ctx: click.Context,
    endpoint: str | None,
    auth: str,
    credentials_file: str | None,
    token_lifetime: int,
    timeout: float,
    max_retries: int,
    insecure_http: bool,
    verbose: int,
    quiet: bool,
    no_color: bool,
    show_traceback: bool,
) -> None:
    """konvsync: keep a Konvert portal's configuration in version-controlled YAML.

    \b
    validate  check a config offline        plan    show what apply would change
    apply     make the portal match         show    render a saved plan file
    drift     what changed in the portal    (drift --write accepts it into the YAML)
    export    write the portal as YAML      doctor  check credentials and API
    sandbox   run a local Konvert API       schema  print the config JSON Schema

    Exit codes: 0 ok; 1 error; 2 changes present (plan --detailed-exitcode)
    or drift found (drift); 3 plan refused (unsafe or stale).
    """
    configure_logging(verbose)
    ctx.obj = GlobalOptions(
        connection=ConnectionOptions(
            endpoint=endpoint,
            auth=auth,
            credentials_file=credentials_file,
            token_lifetime=token_lifetime,
            timeout=timeout,
            max_retries=max_retries,
            insecure_http=insecure_http,
        ),
        verbosity=verbose,
        color=_color(no_color),
        show_traceback=show_traceback,
        quiet=quiet,
    )


cli.add_command(sandbox)


# ---------------------------------------------------------------- validate


_paths_argument = click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path()
)


@cli.command()
@_paths_argument
@click.option(
    "--allow-external-refs",
    is_flag=True,
    help="Accept references to objects the config does not define (they may exist in the portal).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default=None,
    help="text (file:line:col: message), github (workflow annotations; the default "
    "when GITHUB_ACTIONS=true) or json.",
)
def validate(paths: tuple[str, ...], allow_external_refs: bool, fmt: str | None) -> int:
    """Check the config at PATH offline: YAML, schema, duplicates, references.

    PATH is a file or a directory of *.yaml/*.yml files; with several
    (base/ overlays/staging/), later ones override earlier ones by key,
    field by field. Every problem is printed as file:line:col: message
    (--format github: as annotations on the files' lines; --format json: one
    document on stdout). Exit 0 valid, 1 invalid.
    """
    from konvsync.config.loader import load_config
    from konvsync.render.problems import problems_data, render_problems

    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    try:
        state = load_config(paths, allow_external_refs=allow_external_refs)
    except ConfigInvalid as exc:
        if fmt != "text":
            click.echo(redact(render_problems(exc.problems, fmt, error=str(exc))))
            exc.shown = True
        raise
    except ConfigError as exc:
        if fmt != "text":
            click.echo(redact(render_problems([], fmt, error=str(exc))))
        raise
    for warning in state.warnings:
        click.echo(
            f"{warning.file}:{warning.line}:{warning.column}: warning: {warning.message}", err=True
        )
    counts = {kind_name: len(objects) for kind_name, objects in state.objects.items()}
    if fmt == "json":
        click.echo(json.dumps({**problems_data([]), "objects": counts}, indent=2))
        return EXIT_OK
    listed = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no objects"
    click.echo(f"{' '.join(paths)}: valid ({listed}).")
    return EXIT_OK


@cli.command()
def schema() -> int:
    """Print the JSON Schema of the config format (draft 2020-12)."""
    from konvsync.resources import config_schema

    click.echo(json.dumps(config_schema(), indent=2))
    return EXIT_OK


# ------------------------------------------------------------------ doctor


@cli.command()
@accepts_global_options
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    multiple=True,
    help="Take the endpoint from this config when --endpoint is not given, and "
    "check the slugs it refers to (repeatable: later paths override).",
)
@click.pass_obj
def doctor(options: GlobalOptions, config_path: tuple[str, ...]) -> int:
    """Check endpoint, credentials, and every konvsync operation and input
    field against the portal's live schema; with --config, also that every
    LMS module and DAM category slug the config uses exists. Exit 0 when all
    is well, 1 otherwise."""
    from konvsync.doctor import run_doctor
    from konvsync.portal import portal_target

    desired = _doctor_config(config_path)
    with portal_target(options.connection, desired.endpoint if desired else None) as target:
        report = run_doctor(target, desired)
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        line = f"{mark} {check.name}: {printable(redact(check.detail))}"
        click.echo(click.style(line, fg="green" if check.ok else "red") if options.color else line)
    click.echo("All checks passed." if report.ok else "Some checks failed.")
    return EXIT_OK if report.ok else EXIT_ERROR


def _doctor_config(config_path: tuple[str, ...]) -> Any:
    if not config_path:
        return None
    from konvsync.config.loader import load_config

    return load_config(config_path, allow_external_refs=True)


# -------------------------------------------------------------- plan/apply


def _plan_options(targets: tuple[str, ...], allow_mass_delete: bool, rails: dict[str, Any]) -> Any:
    from konvsync.plan.planner import PlanOptions

    return PlanOptions(targets=targets, allow_mass_delete=allow_mass_delete, **rails)


_target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND[/KEY]",
    help="Limit the plan to a kind or one object (repeatable); what it needs is included.",
)
_mass_delete_option = click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Accept deleting more than policy.max_delete_percent of a kind.",
)


def _rail_options(command: Any) -> Any:
    """--allow-welcome-emails N and --allow-mass-update (policy rails)."""
    command = click.option(
        "--allow-mass-update",
        is_flag=True,
        help="Accept updating more than policy.max_update_percent of a kind.",
    )(command)
    return click.option(
        "--allow-welcome-emails",
        type=click.IntRange(0),
        default=0,
        metavar="N",
        help="Accept up to N welcome e-mails, over policy.max_welcome_emails (default 50).",
    )(command)


def _rails(allow_welcome_emails: int, allow_mass_update: bool) -> dict[str, Any]:
    return {"allow_welcome_emails": allow_welcome_emails, "allow_mass_update": allow_mass_update}


@cli.command()
@accepts_global_options
@_paths_argument
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="Also save the plan to FILE for 'konvsync apply FILE'.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (1 error, 3 refused).",
)
@_target_option
@_mass_delete_option
@_rail_options
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
    rails = _rails(allow_welcome_emails, allow_mass_update)
    try:
        outcome = plan_config(
            paths,
            options.connection,
            _plan_options(targets, allow_mass_delete, rails),
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


@cli.command()
@accepts_global_options
@click.argument("path", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
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
@_target_option
@_mass_delete_option
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
        _plan_options(targets, allow_mass_delete, _rails(sys.maxsize, True)),
        include_unmanaged,
        write,
        on_page=progress.page,
    )
    progress.clear()
    click.echo(render_drift(report, fmt, color=options.color and fmt == "text"))
    return EXIT_CHANGES if report.has_drift else EXIT_OK


@cli.command()
@accepts_global_options
@_paths_argument
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
@_target_option
@_mass_delete_option
@_rail_options
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
    from konvsync.apply import ApplyOptions
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

    rails = _rails(allow_welcome_emails, allow_mass_update)
    try:
        result = apply_path(
            paths,
            options.connection,
            _plan_options(targets, allow_mass_delete, rails),
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


@cli.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
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


@cli.command()
@accepts_global_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write konvsync.yaml and one file per kind into DIR (default: one document on stdout).",
)
@click.option(
    "--kinds",
    "kinds_text",
    metavar="KIND,...",
    help="Only these kinds (default: groups,accountFields,accounts,users; "
    "locations come with accounts).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml"]),
    default="yaml",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that already holds konvsync YAML (its konvsync.yaml's "
    "policy is kept).",
)
@click.option(
    "--target",
    "target_object",
    metavar="KIND/KEY",
    help="Print only this object's YAML (to add an existing object to a config).",
)
@click.pass_obj
def export(
    options: GlobalOptions,
    out_dir: str | None,
    kinds_text: str | None,
    fmt: str,
    force: bool,
    target_object: str | None,
) -> int:
    """Write the portal's current state as konvsync YAML (adopt a portal).

    Objects are sorted by key, references are keys, defaults are left out,
    and a second export is byte-identical. Then: konvsync plan DIR says
    there is nothing to do. A DIR that already holds konvsync YAML is
    refused (exit 1, nothing written) unless --force.
    """
    from konvsync.export import parse_kinds
    from konvsync.workflows import export_state

    if target_object is not None and (out_dir or kinds_text):
        raise UsageError("--target prints one object: it does not go with --out or --kinds")
    progress = StderrProgress(enabled=not options.quiet)
    result = export_state(
        options.connection,
        parse_kinds(kinds_text),
        out_dir,
        on_page=progress.page,
        force=force,
        target_object=target_object,
    )
    progress.clear()
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    counts = ", ".join(f"{n} {k}" for k, n in result.counts.items())
    if out_dir:
        if not options.quiet:
            click.echo(f"Exported {counts} to {out_dir}/ ({len(result.files)} files).", err=True)
    else:
        click.echo(result.single_document(), nl=False)
        if not options.quiet:
            click.echo(f"Exported {counts}.", err=True)
    return EXIT_OK


def main() -> None:
    cli.main()
