"""The JSON plan: ``plan.data`` as is, described by schemas/plan.schema.json
(``format_version`` "2")."""

from __future__ import annotations

import json

from konvsync.plan.changes import Plan
from konvsync.support.redact import printable_json


def render_json(plan: Plan) -> str:
    return printable_json(json.dumps(plan.data, indent=2, ensure_ascii=False, default=str))
