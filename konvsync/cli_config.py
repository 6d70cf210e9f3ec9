"""``validate``, ``schema`` and ``doctor``: the commands about a configuration
and the connection, none of which changes the portal."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from konvsync.cli_options import (
    GlobalOptions,
    accepts_global_options,
    paths_argument,
)
from konvsync.errors import (
    EXIT_ERROR,
    EXIT_OK,
    ConfigError,
    ConfigInvalid,
)
from konvsync.redact import printable, redact

# ---------------------------------------------------------------- validate


@click.command()
@paths_argument
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


@click.command()
def schema() -> int:
    """Print the JSON Schema of the config format (draft 2020-12)."""
    from konvsync.resources import config_schema

    click.echo(json.dumps(config_schema(), indent=2))
    return EXIT_OK


# ------------------------------------------------------------------ doctor


@click.command()
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
