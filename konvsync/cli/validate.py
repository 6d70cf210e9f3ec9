"""``konvsync validate`` (a config, offline) and ``konvsync schema`` (the
config format's JSON Schema)."""

from __future__ import annotations

import json
import os

import click

from konvsync.cli.options import accepts_output_options, paths_argument
from konvsync.cli.streams import show, show_before_error
from konvsync.config.documents import schema_for
from konvsync.config.loader import load_config
from konvsync.config.overlay import OVERLAY_SCHEMA_FILE
from konvsync.errors import ConfigError, ConfigInvalid, ConfigProblem, ExitStatus
from konvsync.render.problems import github_annotation, problems_data, render_problems
from konvsync.render.values import files_read
from konvsync.support.redact import printable, redact


@click.command()
@accepts_output_options
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
def validate(paths: tuple[str, ...], allow_external_refs: bool, fmt: str | None) -> ExitStatus:
    """Check the config at PATH offline: YAML, schema, duplicates, references.

    PATH is a file or a directory of *.yaml/*.yml files; with several
    (base/ overlays/staging/), later ones override earlier ones by key,
    field by field. Every problem is printed as file:line:col: message
    (--format github: as annotations on the files' lines; --format json: one
    document on stdout). Exit 0 valid, 1 invalid.

    It needs no credentials and no secrets: a variable listed under
    variables: that is not set is not an error here (a warning says which
    values were not checked); plan and apply need it.

    Examples:

    \b
      konvsync validate portal/
      konvsync validate --format github portal/base portal/overlays/staging
    """
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    try:
        state = load_config(paths, allow_external_refs=allow_external_refs, offline=True)
    except ConfigInvalid as exc:
        if fmt != "text":  # cut off (| head -1), the problems are listed on stderr
            listed = render_problems(exc.problems, fmt, error=str(exc), warnings=exc.warnings)
            text = redact(listed)
            if fmt == "github":
                text = "\n".join([*_warning_annotations(exc.warnings), text])
            exc.shown = show_before_error(text, document=fmt == "json")
            if exc.shown:
                exc.warnings = []  # shown with the problems
        raise
    except ConfigError as exc:
        if fmt != "text":
            text = redact(render_problems([], fmt, error=str(exc)))
            show_before_error(text, document=fmt == "json")
        raise
    if fmt == "github":
        _annotate_warnings(state.warnings)
    elif fmt == "text":
        for warning in state.warnings:
            click.echo(printable(redact(warning.as_warning())), err=True)
    counts = {kind_name: len(objects) for kind_name, objects in state.objects.items()}
    if fmt == "json":
        document = problems_data([], warnings=state.warnings)
        listing = json.dumps({**document, "objects": counts, "files": state.files}, indent=2)
        show(redact(listing), document=True)
        return ExitStatus.OK
    listed = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no objects"
    show(f"{' '.join(paths)}: valid ({listed}); {files_read(state.files)}.")
    return ExitStatus.OK


@click.command()
@click.option(
    "--overlay",
    is_flag=True,
    help="The schema of an overlay path's files instead: no field is required, as an "
    "overlay may set one field of an object (published as schemas/"
    f"{OVERLAY_SCHEMA_FILE}).",
)
def schema(overlay: bool) -> ExitStatus:
    """Print the JSON Schema of the config format (draft 2020-12).

    For editors: mkdir -p .konvsync && konvsync schema > .konvsync/schema.json,
    then on the first line of each YAML file: # yaml-language-server:
    $schema=<its path relative to the file>. export writes a hint to the
    schema published in konvsync's repository instead. Exit 0.
    """
    document = schema_for(overlay)
    show(json.dumps(document, indent=2))
    return ExitStatus.OK


def _annotate_warnings(warnings: list[ConfigProblem]) -> None:
    """Warnings as annotations on their files' lines, where a pull request
    shows them (a workflow keeps stdout; the action's log of validate's
    stderr is replaced by the next command's)."""
    for annotation in _warning_annotations(warnings):
        show(annotation)


def _warning_annotations(warnings: list[ConfigProblem]) -> list[str]:
    return [printable(redact(github_annotation(warning, "warning"))) for warning in warnings]
