"""The options every command shares, and the most used of them accepted
after the command too (``konvsync plan portal/ -v --endpoint staging``), as
kubectl users expect. Click runs the group first, so these callbacks adjust
the options it made."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from konvsync.api.options import ConnectionOptions
from konvsync.cli_types import PlanTarget
from konvsync.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    connection: ConnectionOptions
    verbosity: int
    color: bool
    show_traceback: bool
    quiet: bool = False


def _options(ctx: click.Context) -> GlobalOptions:
    options = ctx.find_object(GlobalOptions)
    assert options is not None, "the konvsync group sets the options first"
    return options


def _connection(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            options = _options(ctx)
            options.connection = dataclasses.replace(options.connection, **{name: value})

    return callback


def _verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if value:
        options = _options(ctx)
        options.verbosity += value
        configure_logging(options.verbosity)


def _no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _options(ctx).color = False


def _quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _options(ctx).quiet = True


def _traceback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _options(ctx).show_traceback = True


LATE_OPTIONS = [
    click.option(
        "--endpoint",
        metavar="NAME|URL",
        default=None,
        expose_value=False,
        callback=_connection("endpoint"),
        help="As before the command.",
    ),
    click.option(
        "--auth",
        type=click.Choice(["oauth", "jwt"]),
        default=None,
        expose_value=False,
        callback=_connection("auth"),
        help="As before the command.",
    ),
    click.option(
        "--credentials-file",
        type=click.Path(dir_okay=False),
        default=None,
        expose_value=False,
        callback=_connection("credentials_file"),
        help="As before the command.",
    ),
    click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_verbose,
        help="As before the command.",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_quiet,
        help="As before the command.",
    ),
    click.option(
        "--no-color",
        is_flag=True,
        expose_value=False,
        callback=_no_color,
        help="As before the command.",
    ),
    click.option(
        "--traceback",
        is_flag=True,
        expose_value=False,
        callback=_traceback,
        help="As before the command.",
    ),
]


def accepts_global_options(command: F) -> F:
    """Let a command take the common global options after its name too."""
    for option in reversed(LATE_OPTIONS):
        command = option(command)
    return command


# ------------------------------------------- options shared by commands

paths_argument = click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path()
)


def plan_options(targets: tuple[str, ...], allow_mass_delete: bool, rails: dict[str, Any]) -> Any:
    from konvsync.plan.planner import PlanOptions

    return PlanOptions(targets=targets, allow_mass_delete=allow_mass_delete, **rails)


target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    type=PlanTarget(),
    metavar="KIND[/KEY]",
    help="Limit the plan to a kind or one object (repeatable); what it needs is included.",
)
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


def rail_options(command: Any) -> Any:
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


def rail_values(allow_welcome_emails: int, allow_mass_update: bool) -> dict[str, Any]:
    return {"allow_welcome_emails": allow_welcome_emails, "allow_mass_update": allow_mass_update}
