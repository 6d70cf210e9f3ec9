"""Every option declared once.

The global options are one table, ``GLOBAL_OPTIONS``: the group takes them
before the command (``konvsync -v plan portal/``) and every command that
talks to the portal takes them after it too (``konvsync plan portal/ -v
--endpoint staging``), as kubectl users expect. Click runs the group first,
so an option given after the command adjusts the ``GlobalOptions`` the group
made. The offline commands (``validate``, ``show``) take the options that
shape output (``OUTPUT_OPTIONS``) after their name. The options several
commands share (paths, --target, --format, the rails) follow the table.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from konvsync.api.endpoints import NAMED_ENDPOINTS
from konvsync.api.options import ConnectionOptions
from konvsync.cli.params import (
    PLAN_TARGET,
    EndpointName,
    GivenInput,
    GivenPath,
    Seconds,
    plan_target_help,
)
from konvsync.cli.streams import is_terminal
from konvsync.plan.planner import PlanOptions
from konvsync.support.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    connection: ConnectionOptions = dataclasses.field(default_factory=ConnectionOptions)
    verbosity: int = 0
    color: bool = True
    show_traceback: bool = False
    quiet: bool = False

    def set(self, name: str, value: Any) -> None:
        """Take one global option's value (``name`` as in ``GLOBAL_OPTIONS``)."""
        if name in _CONNECTION_FIELDS:
            self.connection = dataclasses.replace(self.connection, **{name: value})
        elif name == "verbose":
            self.verbosity += value
            configure_logging(self.verbosity)
        elif name == "no_color":
            self.color = self.color and not value and not os.environ.get("NO_COLOR")
        elif name == "quiet":
            self.quiet = self.quiet or value
        elif name == "show_traceback":
            self.show_traceback = self.show_traceback or value
        else:
            raise KeyError(name)


_CONNECTION_FIELDS = frozenset(f.name for f in dataclasses.fields(ConnectionOptions))


@dataclass(frozen=True)
class GlobalOption:
    decls: tuple[str, ...]
    """Click's declarations; the last is the name ``GlobalOptions.set`` takes."""
    help: str
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Click settings for the group's option (type, default, envvar...)."""

    @property
    def name(self) -> str:
        return self.decls[-1] if not self.decls[-1].startswith("-") else _dest(self.decls[-1])

    def before_command(self) -> Callable[[F], F]:
        return click.option(*self.decls, help=self.help, **self.settings)

    def after_command(self) -> Callable[[F], F]:
        """The same option on a command: no default and no environment
        variable of its own (the group's applies), setting what it is given."""
        flag = self.settings.get("is_flag") or self.settings.get("count")
        settings = {
            key: value
            for key, value in self.settings.items()
            if key in ("type", "metavar", "is_flag", "count", "shell_complete")
        }
        name = self.name

        def given(ctx: click.Context, param: click.Parameter, value: Any) -> None:
            # A flag or count given is truthy; a value given is not None
            # (--max-retries 0 after the command is 0 retries).
            if value if flag else value is not None:
                options = ctx.find_object(GlobalOptions)
                assert options is not None, "the konvsync group sets the options first"
                options.set(name, value)

        decls = tuple(d for d in self.decls if d.startswith("-"))
        return click.option(
            *decls,
            help=self.help,
            default=0 if self.settings.get("count") else False if flag else None,
            expose_value=False,
            callback=given,
            **settings,
        )


def _dest(decl: str) -> str:
    return decl.lstrip("-").replace("-", "_")


def _complete_endpoint(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return [CompletionItem(name) for name in NAMED_ENDPOINTS if name.startswith(incomplete)]


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        ("--endpoint",),
        "production, staging, sandbox or a base URL (env KONVSYNC_ENDPOINT; "
        "default: the config's endpoint; export reads no config).",
        {
            "type": EndpointName(),
            "envvar": "KONVSYNC_ENDPOINT",
            "metavar": "NAME|URL",
            "shell_complete": _complete_endpoint,
        },
    ),
    GlobalOption(
        ("--auth",),
        "OAuth client credentials, or a self-signed HS256 JWT (env KONVSYNC_AUTH; default: oauth).",
        {"type": click.Choice(["oauth", "jwt"]), "envvar": "KONVSYNC_AUTH", "default": "oauth"},
    ),
    GlobalOption(
        ("--credentials-file",),
        "YAML/JSON file with api_key and api_secret (default: env "
        "KONVERT_API_KEY and KONVERT_API_SECRET).",
        {"type": GivenInput(dir_okay=False)},
    ),
    GlobalOption(
        ("--token-lifetime",),
        "JWT lifetime in seconds with --auth jwt, 61 to 21600 (default: 3600), counted "
        "from its iat, which is dated 30 s back for portals whose clock is behind.",
        {"type": click.IntRange(61, 21600), "default": 3600},
    ),
    GlobalOption(
        ("--timeout",),
        "Seconds before one API request times out (default: 30).",
        {"type": Seconds(), "default": 30.0},
    ),
    GlobalOption(
        ("--max-retries",),
        "Retries of a failed request (429, 502, 503, 504, timeouts, dropped connections) "
        "before giving up (default: 5).",
        {"type": click.IntRange(0, 20), "default": 5},
    ),
    GlobalOption(
        ("--insecure-http",),
        "Allow a plain-http endpoint that is not loopback.",
        {"is_flag": True},
    ),
    GlobalOption(("-v", "--verbose"), "More log on stderr (-vv: request bodies).", {"count": True}),
    GlobalOption(
        ("-q", "--quiet"),
        "Only results, warnings and errors: no progress, no notes on stderr.",
        {"is_flag": True},
    ),
    GlobalOption(
        ("--no-color",), "No colour (also: NO_COLOR set, or TERM=dumb).", {"is_flag": True}
    ),
    GlobalOption(
        ("--traceback", "show_traceback"), "Print the traceback of an error.", {"is_flag": True}
    ),
)


OUTPUT_OPTIONS = tuple(o for o in GLOBAL_OPTIONS if o.name not in _CONNECTION_FIELDS)
"""The global options an offline command takes after its name."""


def global_options_before(command: F) -> F:
    """The group's global options."""
    for option in reversed(GLOBAL_OPTIONS):
        command = option.before_command()(command)
    return command


def accepts_global_options(command: F) -> F:
    """Let a command take the global options after its name too (listed in
    its --help after the command's own options)."""
    return _accepts(command, GLOBAL_OPTIONS)


def accepts_output_options(command: F) -> F:
    """Let an offline command take the global options that shape its output
    (``-v``, ``-q``, ``--no-color``, ``--traceback``) after its name too:
    ``konvsync validate portal/ -v`` lists the files read."""
    return _accepts(command, OUTPUT_OPTIONS)


def _accepts(command: F, options: tuple[GlobalOption, ...]) -> F:
    before = len(getattr(command, "__click_params__", []))
    for option in reversed(options):
        command = option.after_command()(command)
    # click lists the parameters decorated last first: move these to the end.
    params: list[click.Parameter] = command.__click_params__  # type: ignore[attr-defined]
    params[:] = params[before:] + params[:before]
    return command


def global_options_from(values: dict[str, Any]) -> GlobalOptions:
    """The group's ``GlobalOptions`` from its parsed option values."""
    # A dumb terminal (TERM=dumb) shows escape codes as text.
    options = GlobalOptions(color=is_terminal(sys.stdout) and os.environ.get("TERM") != "dumb")
    for option in GLOBAL_OPTIONS:
        value = values[option.name]
        if option.name in _CONNECTION_FIELDS or value or option.name in ("verbose", "no_color"):
            options.set(option.name, value)
    return options


# ------------------------------------------- options shared by commands

paths_argument = click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=GivenPath()
)


def _target_option(limited: str) -> Callable[[F], F]:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        type=PLAN_TARGET,
        metavar="KIND[/KEY]",
        help=plan_target_help(limited=limited),
    )


target_option = _target_option("the plan")
drift_target_option = _target_option("what drift reports and writes")
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
"""The report formats of plan, show and drift (``render.FORMATS``)."""
mass_delete_option = click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Accept deleting more than policy.max_delete_percent of a kind.",
)


def rail_options(command: F) -> F:
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


def plan_options(
    targets: tuple[str, ...],
    allow_mass_delete: bool,
    allow_welcome_emails: int = 0,
    allow_mass_update: bool = False,
) -> PlanOptions:
    return PlanOptions(
        targets=targets,
        allow_mass_delete=allow_mass_delete,
        allow_welcome_emails=allow_welcome_emails,
        allow_mass_update=allow_mass_update,
    )
