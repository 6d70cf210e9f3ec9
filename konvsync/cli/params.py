"""Click parameter types for konvsync's own values: ``--target KIND[/KEY]``
of plan, apply and drift, ``export --target KIND/KEY`` and ``export --kinds
KIND,...``, and their help texts, which name the kinds of the registry. A bad
value is a usage error (exit 1) naming the option, before anything is read or
sent."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from click.shell_completion import CompletionItem

from konvsync.config.paths import CONFIG_SUFFIXES, input_overwritten
from konvsync.errors import KonvsyncError, UsageError
from konvsync.export.targets import parse_kinds, parse_target
from konvsync.kinds import KINDS, TOP_LEVEL_KINDS, WRITABLE_KINDS, Kind
from konvsync.plan.targets import parse_targets


def plan_target_help(kinds: Sequence[Kind] = WRITABLE_KINDS, limited: str = "the plan") -> str:
    """``--target KIND[/KEY]`` of plan and apply (``limited``: what drift's limits)."""
    return (
        f"Limit {limited} to a kind or one object (repeatable); what it needs is included. "
        f"KIND: {_names(kinds)}."
    )


def export_kinds_help(
    kinds: Sequence[Kind] = TOP_LEVEL_KINDS, all_kinds: Sequence[Kind] = KINDS
) -> str:
    """``export --kinds KIND,...``: the top-level kinds, and the kinds that
    come with their parent."""
    children = "".join(
        f"; {k.name} come with {k.parent}" for k in all_kinds if k.parent and not k.reference
    )
    return f"Only these kinds, comma-separated: {_names(kinds)} (default: all{children})."


def export_target_help(kinds: Sequence[Kind] = TOP_LEVEL_KINDS) -> str:
    """``export --target KIND/KEY``."""
    return (
        "Print only this object's YAML (to add an existing object to a config). "
        f"KIND: {_names(kinds)}."
    )


def _names(kinds: Sequence[Kind]) -> str:
    return ", ".join(k.name for k in kinds)


def _reason(exc: UsageError) -> str:
    """The message without its ``--option 'value':`` lead (click adds its own)."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("--") and ": " in text else text


def _complete_target(
    ctx: click.Context, incomplete: str, kind_names: list[str], whole_kind: bool
) -> list[CompletionItem]:
    """Kinds, then (after ``KIND/``) the keys the config paths already on the
    command line define, read offline; nothing more when they cannot be read."""
    kind_name, slash, _ = incomplete.partition("/")
    if not slash:
        return [
            CompletionItem(
                name if whole_kind else f"{name}/", type="plain" if whole_kind else "nospace"
            )
            for name in kind_names
            if name.startswith(incomplete)
        ]
    paths = ctx.params.get("paths") or _config_paths(ctx.args)
    if kind_name not in kind_names or not paths:
        return []
    # Imported only when keys are asked for: 16-26 ms that every other
    # command line (export, doctor, sandbox) would pay at start-up.
    from konvsync.config.loader import load_config

    try:
        state = load_config(list(paths), allow_external_refs=True, offline=True)
    except KonvsyncError:
        return []
    # A key that still holds ``${env:`` uses a variable that is not set: its
    # value, the key the portal knows, is unknown here.
    targets = (
        f"{kind_name}/{obj.path}"
        for obj in state.objects.get(kind_name, {}).values()
        if "${env:" not in obj.path
    )
    return [CompletionItem(target) for target in sorted(targets) if target.startswith(incomplete)]


def _config_paths(args: list[str]) -> list[str]:
    """The config paths among arguments click left unparsed (it does, while
    completing the value of an option that ends the line)."""
    return [
        arg
        for arg in args
        if not arg.startswith("-")
        and (os.path.isdir(arg) or (arg.endswith(CONFIG_SUFFIXES) and os.path.isfile(arg)))
    ]


class GivenInput(click.Path):
    """A file konvsync reads whose name may not be empty:
    ``--credentials-file "$CREDS"`` with the variable unset must not read as
    "no file" (the environment's credentials, another service connection's
    perhaps, were taken instead)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            self.fail("the file name is empty", param, ctx)
        return super().convert(value, param, ctx)


class GivenPath(click.Path):
    """A file or folder name that may not be empty: ``--out "$PLAN_FILE"``
    with the variable unset must not read as "no --out", nor a config path
    ``"$OVERLAY"`` as the current folder. A file konvsync
    writes is replaced whole (a temporary file renamed over it), so an
    existing one must be a regular file: a FIFO or a device (``--report
    /dev/stdout``) would be replaced by a file of that name."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            what = "path" if self.file_okay and self.dir_okay else "file name"
            self.fail(f"the {what} is empty", param, ctx)
        if not self.dir_okay and os.path.exists(value) and not os.path.isfile(value):
            self.fail(
                f"{value} is not a regular file (konvsync replaces the file whole): name a file",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def refuse_overwriting_inputs(
    option: str, output: str | None, inputs: Sequence[str | None]
) -> None:
    """A usage error when writing ``output`` would replace one of the
    command's own ``inputs``: a config file, the saved plan being applied,
    the credentials file. No ``output`` (the option not given): nothing."""
    if output is None:
        return
    stream = _own_stream(output)
    if stream is not None:  # --out /dev/stdout, or the file stdout is redirected to
        raise UsageError(
            f"{option} {output} is this command's {stream}, which writing it would "
            "replace; name another file"
        )
    replaced = input_overwritten(output, inputs)
    if replaced is not None:
        raise UsageError(
            f"{option} {output} would replace {replaced}, which this command reads; "
            "name another file"
        )


def _own_stream(path: str) -> str | None:
    """ "standard output" or "standard error" when ``path`` is the file one
    of them writes to: a file replaced whole (renamed over) would take the
    command's output with it, and the output would go to a file no longer
    in the folder."""
    try:
        written = os.stat(path)
    except OSError:
        return None  # a new file is no stream's
    for name, stream in (("standard output", sys.stdout), ("standard error", sys.stderr)):
        try:
            if os.path.samestat(written, os.fstat(stream.fileno())):
                return name
        except (AttributeError, OSError, ValueError):  # closed, or not a file
            continue
    return None


class EndpointName(click.ParamType[str]):
    """``--endpoint``: a name or URL, never empty. An empty one (``--endpoint
    "$STAGING_URL"`` with the variable unset) must not read as "not given",
    which falls back to the config's endpoint: perhaps production."""

    name = "NAME|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            self.fail("the endpoint is empty (production, staging, sandbox or a URL)", param, ctx)
        return text


class Seconds(click.ParamType[float]):
    """A number of seconds over 0 (``--timeout``): not 0, negative, NaN or
    infinite, which the HTTP client takes for "no timeout" or cannot use."""

    name = "SECONDS"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a number of seconds over 0", param, ctx)
        return seconds


class Target(click.ParamType[str]):
    """A ``--target``: checked by ``parse`` (which raises ``UsageError``),
    completed with the names of ``kinds`` (and, after ``KIND/``, the keys the
    config paths on the line define)."""

    def __init__(
        self,
        name: str,
        kinds: Sequence[Kind],
        parse: Callable[[str], object],
        whole_kind: bool,
    ) -> None:
        self.name = name
        self.kinds = kinds
        self.parse = parse
        self.whole_kind = whole_kind

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        names = [k.name for k in self.kinds]
        return _complete_target(ctx, incomplete, names, whole_kind=self.whole_kind)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            self.parse(str(value))
        except UsageError as exc:
            self.fail(_reason(exc), param, ctx)
        return str(value)


PLAN_TARGET = Target(
    "KIND[/KEY]", WRITABLE_KINDS, lambda value: parse_targets((value,)), whole_kind=True
)
"""``KIND`` or ``KIND/KEY`` of a writable kind (the key may hold ``/``)."""
EXPORT_TARGET = Target("KIND/KEY", TOP_LEVEL_KINDS, parse_target, whole_kind=False)
"""``KIND/KEY`` of a top-level kind."""


class KindList(click.ParamType[list[str]]):
    """``KIND,...`` of top-level kinds, as a list in registry order."""

    name = "KIND,..."

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        given, _, last = incomplete.rpartition(",")
        lead = f"{given}," if given else ""
        taken = set(given.split(","))
        return [
            CompletionItem(lead + k.name)
            for k in TOP_LEVEL_KINDS
            if k.name.startswith(last) and k.name not in taken
        ]

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[str]:
        if isinstance(value, list):
            return value

        try:
            return parse_kinds(str(value))
        except UsageError as exc:
            self.fail(_reason(exc), param, ctx)
