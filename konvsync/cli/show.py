"""``konvsync show``: render a saved plan file, offline."""

from __future__ import annotations

import click

from konvsync.cli import streams
from konvsync.cli.options import GlobalOptions, accepts_output_options, format_option
from konvsync.errors import ExitStatus
from konvsync.plan.planfile import read_planfile
from konvsync.render import render_plan


@click.command()
@accepts_output_options
@click.argument("planfile", type=click.Path(dir_okay=False))
@format_option
@click.pass_obj
def show(options: GlobalOptions, planfile: str, fmt: str) -> ExitStatus:
    """Render a plan file saved by 'plan --out' (offline: the portal is not read).

    Exit 0; 1 when PLANFILE is not a konvsync plan file, or a damaged one; 3
    when another konvsync release made it.

    Examples:

    \b
      konvsync show konvsync.plan
      konvsync show konvsync.plan --format markdown
    """
    saved = read_planfile(planfile)
    color = options.color and fmt == "text"
    streams.show(render_plan(saved.plan, fmt, color=color), document=fmt == "json")
    return ExitStatus.OK
