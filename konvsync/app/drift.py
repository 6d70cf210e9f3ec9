"""The ``drift`` use case: plan as ``plan`` does (same reads, same rules),
report the differences from the portal's side, and with ``write`` accept
them into the YAML."""

from __future__ import annotations

from konvsync.api.options import ConnectionOptions
from konvsync.app.plan import ConfigPaths, planned
from konvsync.drift.detect import drift_report
from konvsync.drift.model import DriftReport, WriteResult
from konvsync.drift.writeback import accept_drift
from konvsync.export.portal import object_entry
from konvsync.plan.planner import PlanOptions, ProgressCallback
from konvsync.plan.targets import parse_targets


def drift_config(
    path: ConfigPaths,
    connection: ConnectionOptions,
    options: PlanOptions,
    include_unmanaged: bool = False,
    write: bool = False,
    on_page: ProgressCallback | None = None,
) -> DriftReport:
    desired, outcome = planned(path, connection, options, on_page)
    report = drift_report(outcome, desired, parse_targets(options.targets), include_unmanaged)
    if write:
        report.written = (
            accept_drift(report, desired, outcome.remote, object_entry)
            if report.has_drift
            else WriteResult()
        )
    return report
