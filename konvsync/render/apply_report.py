"""The end of an apply: what was done, what failed, what was skipped."""

from __future__ import annotations

from konvsync.apply import ApplyReport
from konvsync.redact import printable


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
            f"  {result.status}: {printable(result.change.address)} ({result.change.action}): "
            f"{printable(str(result.message))}"
        )
    done = report.count("done")
    lines.append(
        f"Apply incomplete: {done} done ({added} added, {changed} changed, "
        f"{destroyed} destroyed), {report.count('failed')} failed, "
        f"{report.count('skipped')} skipped. Run apply again to finish."
    )
    return "\n".join(lines)
