"""``export``: the portal as konvsync YAML."""

from __future__ import annotations

import os

import click

from konvsync.app.export import export_state
from konvsync.cli.options import GlobalOptions, accepts_global_options
from konvsync.cli.params import (
    EXPORT_TARGET,
    GivenPath,
    KindList,
    export_kinds_help,
    export_target_help,
)
from konvsync.cli.progress import StderrProgress
from konvsync.cli.streams import show
from konvsync.errors import ExitStatus, UsageError
from konvsync.export.targets import parse_kinds, parse_scope_options


@click.command()
@accepts_global_options
@click.option(
    "--out",
    "out_dir",
    type=GivenPath(file_okay=False),
    help="Write konvsync.yaml and one file per kind into DIR (default: one document on stdout).",
)
@click.option(
    "--kinds",
    "kinds",
    type=KindList(),
    metavar="KIND,...",
    help=export_kinds_help(),
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
    type=EXPORT_TARGET,
    metavar="KIND/KEY",
    help=export_target_help(),
)
@click.option(
    "--scope",
    "scope_values",
    multiple=True,
    metavar="KIND[.FIELD]=GLOB",
    help="Only what this policy.scope owns, and the scope in konvsync.yaml (repeatable): "
    "accounts=dealer-* (globs on the key), users.account=dealer-* (on a reference's key), "
    "groups.exclude=dealer-admins. Without --kinds, only the kinds it names.",
)
@click.pass_obj
def export(
    options: GlobalOptions,
    out_dir: str | None,
    kinds: list[str] | None,
    fmt: str,
    force: bool,
    target_object: str | None,
    scope_values: tuple[str, ...],
) -> ExitStatus:
    """Write the portal's current state as konvsync YAML (adopt a portal).

    Objects are sorted by key, references are keys, defaults are left out,
    and a second export is byte-identical. Then: konvsync plan DIR says
    there is nothing to do. A DIR that already holds konvsync YAML is
    refused (exit 1, nothing written) unless --force. With --scope, only
    what the scope owns is written, and the scope as policy.scope: one
    team's share of a shared portal. It reads no config: the portal is
    --endpoint's (or KONVSYNC_ENDPOINT's). Exit 0 written; 1 error.

    Examples:

    \b
      konvsync export --endpoint production --out portal/
      konvsync export --target users/jane@acme.example
      konvsync export --out team-a/ --scope 'accounts=dealer-*' \\
        --scope 'users.account=dealer-*'
    """
    if target_object is not None and (out_dir or kinds or scope_values):
        raise UsageError(
            "--target prints one object: it does not go with --out, --kinds or --scope"
        )
    scope = parse_scope_options(scope_values)
    if kinds is None:
        kinds = [r.kind for r in scope.rules] if scope else parse_kinds(None)
    progress = StderrProgress(enabled=not options.quiet)
    result = export_state(
        options.connection,
        kinds,
        out_dir,
        on_page=progress.page,
        force=force,
        target_object=target_object,
        scope=scope,
    )
    progress.clear()
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    counts = ", ".join(f"{n} {k}" for k, n in result.counts.items())
    if out_dir:
        if not options.quiet:
            folder = os.path.join(out_dir, "")  # "portal" and "portal/" both as "portal/"
            click.echo(f"Exported {counts} to {folder} ({len(result.files)} files).", err=True)
    else:
        show(result.single_document(), document=True, nl=False)
        if not options.quiet:
            click.echo(f"Exported {counts}.", err=True)
    return ExitStatus.OK
