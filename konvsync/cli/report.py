"""The JSON report file of ``apply --report``: written whatever the outcome
(done, failed, refused, cancelled, interrupted)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from konvsync import errors
from konvsync.apply.model import ApplyReport
from konvsync.errors import ExitStatus, OutputError
from konvsync.plan.changes import Plan
from konvsync.render.apply_report import (
    apply_report_data,
    render_apply_report_json,
    report_status,
)
from konvsync.support.files import write_files
from konvsync.support.redact import redact


def write_apply_report(
    report_file: str | None,
    plan: Plan | None,
    report: ApplyReport | None,
    error: BaseException | None = None,
) -> None:
    """``apply --report FILE``: the outcome as JSON, whatever it was
    (``error``: why the apply stopped before it sent its changes; the report
    file failing then is said on stderr, and ``error`` is what is raised)."""
    if not report_file:
        return
    if error is not None:
        try:
            _write_report(report_file, plan, report, error)
        except OutputError as failed:
            click.echo(f"Error: the report was not written: {failed}", err=True)
        return
    _write_report(report_file, plan, report, None)


def _write_report(
    report_file: str,
    plan: Plan | None,
    report: ApplyReport | None,
    error: BaseException | None,
) -> None:
    if error is None:
        data = apply_report_data(plan, report, report_status(report))
    elif isinstance(error, KeyboardInterrupt):
        reason = ("interrupted", "interrupted (Ctrl-C or SIGTERM) before any change was sent")
        data = apply_report_data(plan, report, "interrupted", reason)
    else:
        refused = getattr(error, "exit_code", None) == ExitStatus.REFUSED
        status = "refused" if refused else "error"
        data = apply_report_data(plan, report, status, (_error_code(error), redact(str(error))))
    write_files({Path(report_file): render_apply_report_json(data)})


def _error_code(error: BaseException) -> str:
    """The error's class in konvsync.errors, in snake case without "Error":
    StalePlanError (and its subclasses) -> stale_plan, UnsafePlanError ->
    unsafe_plan, ConfigInvalid -> config_invalid."""
    cls = next((c for c in type(error).__mro__ if c.__module__ == errors.__name__), type(error))
    name = cls.__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
