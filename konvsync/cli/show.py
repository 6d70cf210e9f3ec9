"""``konvsync show``: render a saved plan file, offline."""

from __future__ import annotations

import click

from konvsync.cli.options import GlobalOptions, format_option
from konvsync.errors import ExitStatus
from konvsync.plan.planfile import read_planfile
from konvsync.render import render_plan


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@format_option
@click.option("--no-color", is_flag=True, help="No colour (also: NO_COLOR set).")
@click.pass_obj
def show(options: GlobalOptions, planfile: str, fmt: str, no_color: bool) -> ExitStatus:
    """Render a plan file saved by 'plan --out' (offline: the portal is not read).

    Exit 0; 1 when PLANFILE is not a konvsync plan file; 3 when another
    konvsync release made it.
    """
    saved = read_planfile(planfile)
    color = options.color and not no_color and fmt == "text"
    click.echo(render_plan(saved.plan, fmt, color=color))
    return ExitStatus.OK
