"""The end of an apply: what was done, what failed, what was skipped."""

from __future__ import annotations

from konvsync.apply import ApplyReport


def render_apply_report(report: ApplyReport) -> str:
    added = report.count("done", "create")
    changed = report.count("done", "update")
    destroyed = report.count("done", "delete")
    if report.ok:
        return (
            f"Apply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed."
        )
    lines = []
    if report.interrupted:
        lines.append(
            "Apply interrupted: no new work was sent after Ctrl-C; requests in "
            "flight were finished."
        )
    for result in report.problems:
        lines.append(
            f"  {result.status}: {result.change.address} ({result.change.action}): {result.message}"
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
        f"{report.count('skipped')} skipped{mismatched}."
        + (" Run apply again to finish." if report.rerun_helps else "")
    )
    permanent = [r for r in report.problems if r.permanent]
    if permanent:
        lines.append(
            f"{len(permanent)} of them failed or were skipped for reasons another run meets "
            f"again ({', '.join(report.permanent_codes)}): correct the configuration or the "
            "portal first."
        )
    return "\n".join(lines)
