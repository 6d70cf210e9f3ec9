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
from konvsync.cli_options import GlobalOptions, accepts_global_options
from konvsync.cli_progress import StderrProgress
from konvsync.cli_sandbox import sandbox
from konvsync.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    ApplyCancelled,
    ConfigInvalid,
    KonvsyncError,
    UnsafePlanError,
    UsageError,
)
from konvsync.logs import configure_logging
from konvsync.redact import redact


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
            for problem in exc.problems:
                click.echo(redact(str(problem)), err=True)
            click.echo(f"Error: {exc}", err=True)
            code = exc.exit_code
        except KonvsyncError as exc:
            if show_traceback:
                click.echo(redact(traceback.format_exc()), err=True)
            click.echo(f"Error: {redact(str(exc))}", err=True)
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
            detail = redact(f"{type(exc).__name__}: {exc}")
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
    no_color: bool,
    show_traceback: bool,
) -> None:
    """konvsync: keep a Konvert portal's configuration in version-controlled YAML.

    \b
    validate  check a config offline        plan    show what apply would change
    apply     make the portal match         export  write the portal as YAML
    doctor    check credentials and API     sandbox run a local Konvert API
    schema    print the config JSON Schema

    Exit codes: 0 ok; 1 error; 2 changes present (plan --detailed-exitcode);
    3 plan refused (unsafe or stale).
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
def validate(paths: tuple[str, ...], allow_external_refs: bool) -> int:
    """Check the config at PATH offline: YAML, schema, duplicates, references.

    PATH is a file or a directory of *.yaml/*.yml files; with several
    (base/ overlays/staging/), later ones override earlier ones by key,
    field by field. Every problem is printed as file:line:col: message.
    Exit 0 valid, 1 invalid.
    """
    from konvsync.config.loader import load_config

    state = load_config(paths, allow_external_refs=allow_external_refs)
    counts = ", ".join(f"{len(v)} {k}" for k, v in state.objects.items()) or "no objects"
    click.echo(f"{' '.join(paths)}: valid ({counts}).")
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
    help="Take the endpoint from this config when --endpoint is not given (repeatable: "
    "later paths override).",
)
@click.pass_obj
def doctor(options: GlobalOptions, config_path: tuple[str, ...]) -> int:
    """Check endpoint, credentials, and every konvsync operation against the
    portal's live schema. Exit 0 when all is well, 1 otherwise."""
    from konvsync.api.connect import portal_target
    from konvsync.doctor import run_doctor

    config_endpoint = _config_endpoint(config_path)
    with portal_target(options.connection, config_endpoint) as target:
        report = run_doctor(target)
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        line = f"{mark} {check.name}: {redact(check.detail)}"
        click.echo(click.style(line, fg="green" if check.ok else "red") if options.color else line)
    click.echo("All checks passed." if report.ok else "Some checks failed.")
    return EXIT_OK if report.ok else EXIT_ERROR


def _config_endpoint(config_path: tuple[str, ...]) -> str | None:
    if not config_path:
        return None
    from konvsync.config.loader import load_config

    return load_config(config_path, allow_external_refs=True).endpoint


# -------------------------------------------------------------- plan/apply


def _show_refused(refused: UnsafePlanError, progress: Any, fmt: str, color: bool) -> NoReturn:
    """A refused plan: the reason first (stderr), then the plan in full, exit 3."""
    from konvsync.plan.changes import Plan
    from konvsync.render import render_plan

    if not isinstance(refused.plan, Plan):
        raise refused
    progress.clear()
    click.echo(f"Error: {redact(str(refused))}", err=True)
    click.echo(render_plan(refused.plan, fmt, color=color and fmt == "text"))
    raise click.exceptions.Exit(refused.exit_code)


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
    3 refused (mass delete or update, welcome e-mails, portal guard).
    """
    from konvsync.render import render_plan
    from konvsync.workflows import plan_config

    progress = StderrProgress(enabled=options.verbosity >= 0)
    rails = _rails(allow_welcome_emails, allow_mass_update)
    try:
        outcome = plan_config(
            paths,
            options.connection,
            _plan_options(targets, allow_mass_delete, rails),
            out_file,
            on_page=progress.page,
        )
    except UnsafePlanError as refused:
        _show_refused(refused, progress, fmt, options.color)
    progress.clear()
    click.echo(render_plan(outcome.plan, fmt, color=options.color and fmt == "text"))
    if out_file:
        click.echo(
            f"Saved the plan to {out_file}. Apply exactly it with: konvsync apply {out_file}",
            err=True,
        )
    if detailed_exitcode and outcome.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


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
    targets: tuple[str, ...],
    allow_mass_delete: bool,
    allow_welcome_emails: int,
    allow_mass_update: bool,
) -> int:
    """Make the portal match PATH (a config; several are merged, later ones
    overriding), or apply a saved PLANFILE.

    With a config: plans, shows the plan, asks for 'yes' (or --auto-approve).
    With a plan file: re-reads what it touches and refuses (exit 3) if the
    portal changed since; applies without asking, as reviewed.
    Either way, before each step the objects it touches are read again (a
    second writer makes the step refuse), every answer must show what was
    sent, and afterwards the changed objects are read back and compared with
    the plan (--no-verify skips that read-back).
    Exit 0 done; 1 error, partial failure or a mismatch; 3 refused.
    """
    from konvsync.apply import ApplyOptions
    from konvsync.plan.changes import Plan
    from konvsync.render import render_plan
    from konvsync.render.apply_report import render_apply_report
    from konvsync.workflows import apply_path

    progress = StderrProgress()

    def confirm(plan: Plan) -> None:
        progress.clear()
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
        )
    except UnsafePlanError as refused:
        _show_refused(refused, progress, "text", options.color)
    progress.clear()
    if result.report is None:
        from konvsync.render.values import NO_CHANGES

        click.echo(NO_CHANGES)
        return EXIT_OK
    click.echo(render_apply_report(result.report))
    return EXIT_OK if result.report.ok else EXIT_ERROR


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
    progress = StderrProgress()
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
        click.echo(f"Exported {counts} to {out_dir}/ ({len(result.files)} files).", err=True)
    else:
        click.echo(result.single_document(), nl=False)
        click.echo(f"Exported {counts}.", err=True)
    return EXIT_OK


def main() -> None:
    cli.main()
