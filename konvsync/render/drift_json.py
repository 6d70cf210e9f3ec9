"""Drift as JSON (``format_version`` 2, ``schemas/drift.schema.json``)."""

from __future__ import annotations

import json

from konvsync.drift.model import DriftReport


def render_drift_json(report: DriftReport) -> str:
    return json.dumps(report.data, indent=2, ensure_ascii=False, default=str)
