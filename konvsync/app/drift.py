"""The ``drift`` use case: plan as ``plan`` does, report the differences from
the portal's side, and with ``write`` accept them into the YAML, after asking
the portal by key for each object the read did not show (a list read can
miss one while pages shift; the next apply would delete it)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from konvsync.api.client import PortalClient
from konvsync.api.options import ConnectionOptions
from konvsync.app.plan import LoadingConfig, plan_with
from konvsync.config.model import DesiredState
from konvsync.drift.detect import drift_report
from konvsync.drift.model import DriftReport, WriteResult
from konvsync.drift.writeback import WriteFailed, WriteRefused
from konvsync.errors import OutputError, StalePlanError
from konvsync.kinds.address import Address
from konvsync.plan.changes import Create
from konvsync.plan.planner import PlanOptions, PlanOutcome, ProgressCallback
from konvsync.plan.remote import RemoteState
from konvsync.plan.targets import parse_targets
from konvsync.plan.value_types import in_portal_types
from konvsync.support import aio


def drift_config(
    paths: Sequence[str],
    connection: ConnectionOptions,
    options: PlanOptions,
    include_unmanaged: bool = False,
    write: bool = False,
    allow_mass_delete: bool = False,
    on_page: ProgressCallback | None = None,
) -> DriftReport:
    """``options`` plan (drift is never refused for what apply would do);
    ``allow_mass_delete`` lets ``write`` remove more than max_delete_percent."""
    config = LoadingConfig(paths, connection, None)
    with config.target() as target:

        async def run() -> tuple[DesiredState, PlanOutcome, DriftReport, set[Address]]:
            async with target.client() as client:
                desired, viewer = await config.take(client)
                targets = parse_targets(options.targets)
                planning = replace(options, owned_elsewhere_is_drift=True)
                outcome = await plan_with(client, target, desired, planning, on_page, viewer)
                report = drift_report(outcome, desired, targets, include_unmanaged)
                found = await _found_again(client, outcome.remote, report) if write else set()
                return desired, outcome, report, found

        desired, outcome, report, found = aio.run(run())
    if write:
        # Imported here: the YAML editing and checking of --write, export's
        # entries and apply's options were 180 million instructions of
        # imports (2.7 % of a 10,000-user drift's 6.66 billion) that a drift
        # without --write never needs.
        from konvsync.drift.accept import accept_drift
        from konvsync.export.portal import object_entry

        try:
            report.written = (
                accept_drift(
                    paths,
                    report,
                    desired,
                    in_portal_types(outcome.remote),  # true/false, YYYY-MM-DD
                    object_entry,
                    found,
                    allow_mass_delete,
                )
                if report.has_drift
                else WriteResult()
            )
        except StalePlanError as stale:  # a file changed meanwhile: refused, the drift shown
            raise WriteRefused(report, str(stale)) from None
        except OutputError as failed:  # a read-only file, a full disk: the drift shown
            raise WriteFailed(report, str(failed)) from None
    return report


async def _found_again(
    client: PortalClient, remote: RemoteState, report: DriftReport
) -> set[Address]:
    """The objects reported deleted that the portal has when asked for by
    key (a kind without a query by key is read again whole)."""
    created = [change for change in report.plan.changes if isinstance(change, Create)]
    if not created:
        return set()
    # Imported here: apply's checks take 8 ms to import (python -X importtime,
    # three runs; graphql-core is no longer among them), which a drift
    # without --write, or with nothing to confirm, never needs.
    from konvsync.apply.checks import PortalLookup, Wanted, spelling_of
    from konvsync.apply.model import ApplyOptions

    gone: dict[str, list[Wanted]] = {}
    for change in created:
        wanted = Wanted(change.address, None, change.key, change.parent, spelling_of(change))
        gone.setdefault(change.kind, []).append(wanted)

    def id_of(address: Address) -> str | None:
        return getattr(remote.lookup(address), "id", None)

    defaults = ApplyOptions()
    lookup = PortalLookup(client, remote, id_of, defaults.batch_size, defaults.parallelism, True)
    found = await asyncio.gather(*(lookup.current(name, items) for name, items in gone.items()))
    return {address for current in found for address, obj in current.items() if obj is not None}
