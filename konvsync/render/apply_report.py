"""The end of an apply: what was done, what failed, what was skipped, as
text for people and as the JSON report of ``apply --report FILE``
(schemas/apply-report.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from konvsync import __version__
from konvsync.apply.model import ApplyReport, Status
from konvsync.plan.changes import Change, Create, Plan
from konvsync.support.redact import printable, redact, redact_echo

REPORT_FORMAT_VERSION = "2"
"""2: a child object's ``key`` is its own, its parent's key ``parent``."""
MAX_LISTED = 100
"""Changes not done that the text summary lists one by one."""
PENDING = (
    "sent or about to be sent when this report was written, no answer recorded: it may "
    "or may not have been applied (run plan to see)"
)
"""The message of a change that has no result yet (``status: pending``)."""

_RERUN = " Run apply again to finish."
_RERUN_SAVED = (
    " This plan file is stale now (what was done changed the portal): run plan --out again "
    "and apply the new plan to finish."
)


def render_apply_report(
    report: ApplyReport, interrupted_by: str | None = None, saved_plan: bool = False
) -> str:
    """The run's summary; ``saved_plan``: a plan file was applied, which a
    run that did part of it leaves stale (a new plan finishes the job, where
    applying the file again is refused)."""
    added = report.count(Status.DONE, "create")
    changed = report.count(Status.DONE, "update")
    destroyed = report.count(Status.DONE, "delete")
    lines = [f"Warning: {printable(redact(warning))}" for warning in report.warnings]
    # The portal's values (an invite link's URL, which may echo its code): escaped, masked.
    lines += [
        f"  created {printable(str(address))}: "
        + ", ".join(
            f"{name} {printable(redact_echo(str(value)))}" for name, value in values.items()
        )
        for address, values in report.announced.items()
    ]
    if report.ok:
        return "\n".join(
            [
                *lines,
                f"Apply complete! Resources: {added} added, {changed} changed, "
                f"{destroyed} destroyed.",
            ]
        )
    if report.interrupted:
        signal_name = "Ctrl-C" if interrupted_by in (None, "SIGINT") else interrupted_by
        abandoned = any(r.code == "ABANDONED" for r in report.results)
        lines.append(
            f"Apply interrupted: no new work was sent after {signal_name}; "
            + (
                "konvsync stopped waiting for the requests in flight (see below)."
                if abandoned
                else "requests in flight were finished."
            )
        )
    problems = sorted(
        report.problems, key=lambda r: r.status is not Status.FAILED
    )  # failures first
    for result in problems[:MAX_LISTED]:
        # A portal's error text may quote what was sent: secrets are masked.
        lines.append(
            f"  {result.status}: {printable(str(result.change.address))} ({result.change.action}): "
            f"{printable(redact(result.message or ''))}"
        )
    if len(problems) > MAX_LISTED:
        lines.append(
            f"  ... and {len(problems) - MAX_LISTED} more not done "
            "(apply --report FILE lists every change)"
        )
    for mismatch in report.mismatches:
        lines.append(
            f"  not as planned: {printable(str(mismatch.change.address))} "
            f"({mismatch.change.action}) {printable(redact(mismatch.message))} in the portal "
            "after the apply"
        )
    if report.unverified:
        lines.append(f"  read-back after the apply failed: {printable(redact(report.unverified))}")
    done = report.count(Status.DONE)
    mismatched = f", {len(report.mismatches)} not as planned" if report.mismatches else ""
    lines.append(
        f"Apply incomplete: {done} done ({added} added, {changed} changed, "
        f"{destroyed} destroyed), {report.count(Status.FAILED)} failed, "
        f"{report.count(Status.SKIPPED)} skipped{mismatched}."
        + ((_RERUN_SAVED if saved_plan and done else _RERUN) if report.rerun_helps else "")
    )
    permanent = [r for r in report.problems if r.permanent]
    if permanent:
        lines.append(
            f"{len(permanent)} of them failed or were skipped for reasons another run meets "
            f"again ({', '.join(report.permanent_codes)}): correct the configuration or the "
            "portal first."
        )
    return "\n".join(lines)


def report_status(report: ApplyReport | None) -> str:
    if report is None:
        return "no_changes"
    if report.interrupted:
        return "interrupted"
    return "complete" if report.ok else "incomplete"  # a mismatch makes it incomplete


def apply_report_data(
    plan: Plan | None,
    report: ApplyReport | None,
    status: str,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON report: ``status`` complete, incomplete, interrupted,
    no_changes, refused, error (``error``: its code and message) or
    in_progress (written while the apply runs: the changes of the step under
    way without a result are ``pending``). Every text is redacted: a
    portal's error may quote what it was sent."""
    results = report.results if report is not None else []
    created = report.created_ids if report is not None else {}
    changes = []

    def entry(change: Change, status: str, message: str | None, code: str | None) -> None:
        message = redact(message) if message is not None else None
        changes.append(
            {
                "address": str(change.address),
                "kind": change.kind,
                "key": change.key,
                "parent": change.parent,
                "action": change.action,
                "status": status,
                "message": message,
                "error": (
                    {"code": code or "ERROR", "message": message or ""}
                    if status == Status.FAILED
                    else None
                ),
                "id": (
                    created.get(change.address) if isinstance(change, Create) else change.remote_id
                ),
            }
        )

    for result in results:
        entry(result.change, result.status, result.message, result.code)
    unsettled = report.unsettled if report is not None else []
    for change in unsettled:
        entry(change, "pending", PENDING, None)

    def count(state: Status, action: str | None = None) -> int:
        return report.count(state, action) if report is not None else 0

    return {
        "format_version": REPORT_FORMAT_VERSION,
        "konvsync_version": __version__,
        "status": status,
        "endpoint": plan.endpoint if plan is not None else None,
        "portal": plan.portal if plan is not None else None,
        "error": {"code": error[0], "message": redact(error[1])} if error else None,
        "summary": {
            "planned": len(plan.changes) if plan is not None else 0,
            "done": count(Status.DONE),
            "failed": count(Status.FAILED),
            "skipped": count(Status.SKIPPED),
            "added": count(Status.DONE, "create"),
            "changed": count(Status.DONE, "update"),
            "destroyed": count(Status.DONE, "delete"),
            "pending": len(unsettled),
        },
        "changes": changes,
        "verification": _verification(report),
    }


def _verification(report: ApplyReport | None) -> dict[str, Any]:
    """What the read-back after the run found (``apply --no-verify``: not run)."""
    if report is None or not (report.verified or report.unverified):
        return {"status": "not_run", "error": None, "mismatches": []}
    return {
        "status": "failed" if report.unverified else "checked",
        "mode": str(report.verify),
        "error": redact(report.unverified) if report.unverified else None,
        "mismatches": [
            {
                "address": str(m.change.address),
                "action": m.change.action,
                "message": redact(m.message),
            }
            for m in report.mismatches
        ],
    }


def render_apply_report_json(data: dict[str, Any], indent: bool = True) -> str:
    """The report's JSON text; without ``indent`` on one line (written while
    the apply runs: half the time of the indented text)."""
    return json.dumps(data, indent=2 if indent else None, ensure_ascii=False, default=str) + "\n"
