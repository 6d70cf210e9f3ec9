"""The ``export`` use case: read the portal and render it as konvsync YAML;
with an output folder, write one file per kind, all or nothing."""

from __future__ import annotations

from pathlib import Path

from konvsync.api.options import ConnectionOptions
from konvsync.app.portal import portal_target
from konvsync.config.scope import NO_SCOPE, Scope
from konvsync.export.files import check_out_dir, keep_policy, kept_policy, leftover_warnings
from konvsync.export.portal import ExportResult, export_object, export_portal
from konvsync.export.targets import parse_target
from konvsync.plan.planner import ProgressCallback
from konvsync.support import aio
from konvsync.support.files import write_files
from konvsync.support.gcpause import gc_paused


def export_state(
    connection: ConnectionOptions,
    kind_names: list[str],
    out_dir: str | None,
    on_page: ProgressCallback | None = None,
    force: bool = False,
    target_object: str | None = None,
    scope: Scope = NO_SCOPE,
) -> ExportResult:
    """Read the portal and render it as konvsync YAML; with ``out_dir``,
    write one file per kind (all written to temporary names first, then
    renamed, so a failure leaves no half-written export). A folder holding
    configuration is refused unless ``force`` (see ``export.files``);
    ``target_object`` (KIND/KEY) renders that one object; ``scope``: only
    what it owns, and the scope as ``policy.scope``."""
    if target_object is not None:
        parse_target(target_object)  # a usage error before connecting
    found = check_out_dir(Path(out_dir), force) if out_dir else []
    # A kept policy (--force) is written as it was: its scope must be this one
    # (also without --scope: every object under a kept scope would not validate).
    kept = kept_policy(Path(out_dir), scope) if out_dir else None
    with portal_target(connection, None, reads_config=False) as target:

        async def run() -> ExportResult:
            async with target.client() as client:
                if target_object is not None:
                    return await export_object(client, target_object)
                return await export_portal(
                    client, kind_names, target.endpoint.name, on_page, scope, kept is None
                )

        with gc_paused():
            result = aio.run(run())
    if out_dir:
        result.files = keep_policy(kept, result.files)
        result.warnings += leftover_warnings(Path(out_dir), found, list(result.files))
        write_files({Path(out_dir) / name: text for name, text in result.files.items()})
    return result
