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
