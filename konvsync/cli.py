"""The command line: click commands that parse, call one function and render.

Exit codes are one contract for every command (DESIGN §3): 0 success,
1 any error (usage errors included), 2 changes present under
``--detailed-exitcode``, 3 plan refused. ``KonvsyncCLI.main`` is the one
place where exceptions become exit codes.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, NoReturn

import click

from konvsync import __version__
from konvsync.api.options import ConnectionOptions
from konvsync.cli_ci import sigterm_interrupts
from konvsync.cli_options import GlobalOptions
from konvsync.cli_sandbox import sandbox
from konvsync.errors import (
    EXIT_ERROR,
    EXIT_OK,
    ConfigInvalid,
    KonvsyncError,
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


def _register() -> None:
    from konvsync.cli_apply import apply
    from konvsync.cli_config import doctor, schema, validate
    from konvsync.cli_export import export
    from konvsync.cli_plan import drift, plan, show

    for command in (validate, schema, doctor, plan, drift, apply, show, export):
        cli.add_command(command)


_register()


def main() -> None:
    cli.main()
