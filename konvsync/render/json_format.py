"""JSON output: a plan's or a drift report's ``.data`` as is, described by
schemas/plan.schema.json and schemas/drift.schema.json (``format_version`` "2")."""

from __future__ import annotations

import json
from typing import Any

from konvsync.support.redact import printable_json


def render_json(data: dict[str, Any]) -> str:
    return printable_json(json.dumps(data, indent=2, ensure_ascii=False, default=str))
