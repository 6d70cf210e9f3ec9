"""The JSON report file of ``apply --report``: written whatever the outcome
(done, failed, refused, cancelled, interrupted), and as the apply goes.

The file is replaced whole and atomically each time (a temporary file in
its folder, then a rename), so it is valid JSON at every moment and always
one of the reports konvsync meant to write. It says ``in_progress`` from the
start of the command; right before each step's changes are sent it lists
them as ``pending`` (each may or may not be applied from then on), and as
answers arrive (written at least ``WRITE_INTERVAL`` seconds apart, and 20
times as long apart as a write takes) they become ``done`` or ``failed``.
So a file left behind by a killed konvsync never claims fewer changes done
than the portal shows.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import click

from konvsync import errors
from konvsync.app.signals import signals_held
from konvsync.apply.model import ApplyReport
from konvsync.errors import ExitStatus, OutputError
from konvsync.plan.changes import Plan
from konvsync.render.apply_report import (
    apply_report_data,
    render_apply_report_json,
    report_status,
)
from konvsync.support.files import write_files

WRITE_INTERVAL = 0.1
"""Least seconds between two writes while answers arrive (a write before a
step's changes are sent is never put off)."""
COST_SHARE = 20
"""...and at least this many times as long as the last write took: writing
costs at most 5 % of the run. Building and writing the report of an apply
of 2,000 creates, half of them done, took 34 ms indented and 19 ms on one
line (0.5 MB; 10,000 creates: 142 and 83 ms) on a loaded 2-core machine:
the writes while the apply runs are on one line."""


class ReportFile:
    """``apply --report FILE`` (None: no report was asked for)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.plan: Plan | None = None
        self.report: ApplyReport | None = None
        """The apply's report so far, once its changes began to be sent."""
        self._next = 0.0
        """When a write while answers arrive may come next (``time.monotonic``)."""
        self._failed = False

    def start(self) -> None:
        """Before anything else: the file says the apply is under way (a
        report of an earlier run must not stand for this one), and a path
        that cannot be written stops the apply before it changes anything."""
        if self.path:
            self._write(apply_report_data(None, None, "in_progress"))

    def progress(self, plan: Plan, report: ApplyReport, urgent: bool) -> None:
        """The apply's report so far (``app.apply.ReportCallback``)."""
        self.plan, self.report = plan, report
        if not self.path or (not urgent and time.monotonic() < self._next):
            return
        started = time.monotonic()
        try:
            self._write(apply_report_data(plan, report, "in_progress"), indent=False)
            took = time.monotonic() - started
            self._next = started + took + max(WRITE_INTERVAL, COST_SHARE * took)
        except OutputError as failed:
            if not self._failed:  # said once; the final write tries again
                self._failed = True
                click.echo(f"Warning: the report could not be updated: {failed}", err=True)

    def finish(self, plan: Plan, report: ApplyReport | None) -> None:
        """The outcome of an apply that ran to its end (or was interrupted)."""
        if self.path:
            self._write(apply_report_data(plan, report, report_status(report)))

    def stopped(self, plan: Plan | None, error: BaseException) -> None:
        """``error`` stopped the apply (it is raised after this; the report
        file failing is said on stderr). Changes sent before it are kept:
        the report so far is what was done, and the pending ones are left
        pending, since nothing says whether they were applied."""
        if not self.path:
            return
        plan, report = plan or self.plan, self.report
        if isinstance(error, KeyboardInterrupt):
            sent = report is not None and bool(report.results or report.pending)
            before = "interrupted (Ctrl-C or SIGTERM) before any change was sent"
            reason = None if sent else ("interrupted", before)
            data = apply_report_data(plan, report, "interrupted", reason)
        else:
            refused = getattr(error, "exit_code", None) == ExitStatus.REFUSED
            status = "refused" if refused else "error"
            data = apply_report_data(plan, report, status, (_error_code(error), str(error)))
        try:
            self._write(data)
        except OutputError as failed:
            click.echo(f"Error: the report was not written: {failed}", err=True)

    def _write(self, data: dict[str, Any], indent: bool = True) -> None:
        assert self.path is not None
        text = render_apply_report_json(data, indent)
        with signals_held():
            write_files({Path(self.path): text})


def _error_code(error: BaseException) -> str:
    """The error's class in konvsync.errors, in snake case without "Error":
    StalePlanError (and its subclasses) -> stale_plan, UnsafePlanError ->
    unsafe_plan, ConfigInvalid -> config_invalid; "unexpected" for what is
    not konvsync's (a bug)."""
    cls = next((c for c in type(error).__mro__ if c.__module__ == errors.__name__), None)
    if cls is None:
        return "unexpected"
    name = cls.__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
