"""The command line: the ``konvsync`` group and the one place where
exceptions become exit codes (``ExitStatus``).

Each command lives in its own module, imported only when it runs (or when
the group's help lists them), so that a command pays only for its own
imports: ``validate`` never loads the API client, ``plan`` never loads the
apply machinery or the sandbox.
"""

from __future__ import annotations

import importlib
import signal
import sys
import traceback
from typing import Any, NoReturn

import click

from konvsync import __version__
from konvsync.api.tls import authorities_unnamed
from konvsync.app.signals import sigterm_interrupts
from konvsync.cli import streams
from konvsync.cli.options import global_options_before, global_options_from
from konvsync.cli.streams import say
from konvsync.errors import ConfigInvalid, ExitStatus, KonvsyncError, OutputClosed
from konvsync.support.gcpause import start_done
from konvsync.support.logs import configure_logging
from konvsync.support.redact import printable, redact
from konvsync.support.suggest import did_you_mean

COMMANDS: dict[str, str] = {
    "validate": "konvsync.cli.validate:validate",
    "schema": "konvsync.cli.validate:schema",
    "doctor": "konvsync.cli.doctor:doctor",
    "plan": "konvsync.cli.plan:plan",
    "drift": "konvsync.cli.drift:drift",
    "apply": "konvsync.cli.apply:apply",
    "show": "konvsync.cli.show:show",
    "export": "konvsync.cli.export:export",
    "sandbox": "konvsync.cli.sandbox:sandbox",
}
"""Command name -> ``module:attribute`` of its click command."""


class KonvsyncCLI(click.Group):
    """Loads each command when it is needed, and turns every error into one
    redacted line on stderr and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name in COMMANDS or name.startswith("-") or ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        suggestion = did_you_mean(name, COMMANDS)
        ctx.fail(f"No such command {name!r}{suggestion or '.'}")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        with authorities_unnamed():  # aiohttp's own TLS contexts load none (``api.tls``)
            command = getattr(importlib.import_module(module), attribute)
        start_done()  # the collector, paused while the modules loaded (``cli.start``)
        assert isinstance(command, click.Command)
        _printed_by_show(command.get_help_option(ctx))
        return command

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _printed_by_show(super().get_help_option(ctx))

    def invoke(self, ctx: click.Context) -> Any:
        # A reader of stdout that quit early (``| head -1``), met by any
        # print of a command: said as the error it is (click would exit 1
        # without a word).
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise streams.output_closed(exc) from None

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        show_traceback = "--traceback" in (args if args is not None else sys.argv[1:])
        streams.prepare()
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
            say(exc.format_message())  # the help: no command was given
            code = ExitStatus.ERROR
        except click.UsageError as exc:
            hint = f"\nRun '{exc.ctx.command_path} --help' for usage." if exc.ctx else ""
            say(f"Error: {exc.format_message()}{hint}")
            code = ExitStatus.ERROR
        except click.Abort:
            say("Aborted.")
            code = ExitStatus.ERROR
        except ConfigInvalid as exc:
            for warning in exc.warnings:
                say(printable(redact(warning.as_warning())))
            if not exc.shown:
                for problem in exc.problems:
                    say(printable(redact(str(problem))))
            say(f"Error: {exc}")
            code = exc.exit_code
        except KonvsyncError as exc:
            if isinstance(exc, OutputClosed):
                streams.discard_output()
            if show_traceback:
                say(redact(traceback.format_exc()))
            say(f"Error: {printable(redact(str(exc)))}")
            code = exc.exit_code
        except KeyboardInterrupt:
            say("Interrupted.")
            code = ExitStatus.ERROR
        except click.ClickException as exc:
            say(f"Error: {exc.format_message()}")
            code = ExitStatus.ERROR
        except Exception as exc:  # a bug, or an answer outside the API contract
            if show_traceback:
                say(redact(traceback.format_exc()))
            detail = printable(redact(f"{type(exc).__name__}: {exc}"))
            say(
                f"Error: unexpected {detail} (run with --traceback for details, and "
                "please report it)"
            )
            code = ExitStatus.ERROR
        sys.exit(int(code) if isinstance(code, int) else ExitStatus.OK)


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--help``, printed as every command's output is: a stdout that
    cannot be written (a reader that quit, a full disk) is said."""
    if value and not ctx.resilient_parsing:
        streams.show(ctx.get_help())
        ctx.exit()


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        streams.show(f"konvsync, version {__version__}")
        ctx.exit()


def _printed_by_show(option: click.Option | None) -> click.Option | None:
    """A command's (cached) help option, printing through ``_show_help``."""
    if option is not None:
        option.callback = _show_help
    return option


@click.group(cls=KonvsyncCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@global_options_before
@click.pass_context
def cli(ctx: click.Context, /, **values: Any) -> None:
    """konvsync: keep a Konvert portal's configuration in version-controlled YAML.

    \b
    validate  check a config offline        plan    show what apply would change
    apply     make the portal match         show    render a saved plan file
    drift     what changed in the portal    (drift --write accepts it into the YAML)
    export    write the portal as YAML      doctor  check credentials and API
    sandbox   run a local Konvert API       schema  print the config JSON Schema

    Exit codes: 0 ok; 1 error; 2 changes present (plan --detailed-exitcode)
    or drift found (drift); 3 refused (an unsafe or stale plan, a portal guard
    mismatch, input the portal's schema does not take; drift --write removing
    too much or a file changed meanwhile).
    """
    configure_logging(values["verbose"])
    ctx.obj = global_options_from(values)


def main() -> None:
    """The console script. Once konvsync has decided how it exits, a late
    Ctrl-C or SIGTERM (a second one, sent as it finishes) no longer turns
    that into an exit by signal during the interpreter's shutdown."""
    try:
        cli.main()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
