"""The end of an apply: what was done, what failed, what was skipped."""

from __future__ import annotations

from konvsync.apply import ApplyReport
from konvsync.redact import redact


def render_apply_report(report: ApplyReport) -> str:
    added = report.count("done", "create")
    changed = report.count("done", "update")
    destroyed = report.count("done", "delete")
    lines = [f"Warning: {warning}" for warning in report.warnings]
    lines += [
        f"  created {address}: " + ", ".join(f"{name} {value}" for name, value in values.items())
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
        lines.append(
            "Apply interrupted: no new work was sent after Ctrl-C; requests in "
            "flight were finished."
        )
    for result in report.problems:
        # A portal's error text may quote what was sent: secrets are masked.
        lines.append(
            f"  {result.status}: {result.change.address} ({result.change.action}): "
            f"{redact(result.message or '')}"
        )
    for mismatch in report.mismatches:
        lines.append(
            f"  not as planned: {mismatch.change.address} ({mismatch.change.action}) "
            f"{mismatch.message} in the portal after the apply"
        )
    if report.unverified:
        lines.append(f"  read-back after the apply failed: {report.unverified}")
    done = report.count("done")
    mismatched = f", {len(report.mismatches)} not as planned" if report.mismatches else ""
    lines.append(
        f"Apply incomplete: {done} done ({added} added, {changed} changed, "
        f"{destroyed} destroyed), {report.count('failed')} failed, "
        f"{report.count('skipped')} skipped{mismatched}. Run apply again to finish."
    )
    return "\n".join(lines)
