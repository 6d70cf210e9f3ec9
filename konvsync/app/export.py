"""The ``export`` use case: read the portal and render it as konvsync YAML;
with an output folder, write one file per kind, all or nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from konvsync.api.client import PortalClient
from konvsync.api.options import ConnectionOptions
from konvsync.api.pagination import read_consistently
from konvsync.app.portal import portal_target
from konvsync.apply.model import ApplyOptions
from konvsync.config.scope import NO_SCOPE, Scope
from konvsync.errors import OutputError
from konvsync.export.files import (
    check_out_dir,
    keep_policy,
    kept_policy,
    keys_held,
    leftover_warnings,
    read_found,
    refuse_dropped_kinds,
)
from konvsync.export.portal import ExportResult, export_object, read_portal, render_export
from konvsync.export.targets import parse_target
from konvsync.kinds import kind
from konvsync.plan.planner import ProgressCallback
from konvsync.plan.remote import RemoteState
from konvsync.support import aio
from konvsync.support.files import write_files
from konvsync.support.gcpause import gc_paused
from konvsync.support.text import listed


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
    found_files = read_found(found, kind_names)
    # A kept policy (--force) is written as it was: its scope must be this one
    # (also without --scope: every object under a kept scope would not validate).
    kept = kept_policy(Path(out_dir), scope) if out_dir else None
    with portal_target(connection, None, config_source=None) as target:

        async def run() -> ExportResult:
            async with target.client() as client:

                async def read() -> RemoteState:
                    state = await read_portal(client, kind_names, on_page, scope)
                    # Written so, the configuration would not validate.
                    state.check_references_shown(kind_names)
                    return state

                if target_object is not None:  # read whole where its kind has no look-up
                    return await read_consistently(lambda: export_object(client, target_object))
                state = await read_consistently(read)
                await _refuse_missed(client, state, keys_held(found_files))
                write_scope = scope if kept is None else NO_SCOPE
                return render_export(state, kind_names, target.endpoint.name, write_scope)

        with gc_paused():
            result = aio.run(run())
    if out_dir:
        refuse_dropped_kinds(Path(out_dir), found_files, list(result.files), kind_names)
        result.files = keep_policy(kept, result.files)
        result.warnings += leftover_warnings(Path(out_dir), found, list(result.files))
        write_files({Path(out_dir) / name: text for name, text in result.files.items()})
    return result


async def _refuse_missed(
    client: PortalClient, state: RemoteState, held: dict[str, dict[str, str]]
) -> None:
    """Refuse (``OutputError``) an export that lacks an object the folder's
    files name (``--force``) and the portal has when asked for by its key (a
    kind without a query by key is read again whole): a list read by pages
    can miss an object while others delete and create, and the kept policy
    may prune what the new files no longer name."""
    missing: dict[str, list[str]] = {}
    for name, keys in held.items():
        seen = state.get(name)
        gone = sorted(keys.keys() - {key for key in seen.shown_keys() if isinstance(key, str)})
        if gone:
            missing[name] = gone
    if not missing:
        return
    # Imported here: apply's checks take 11 ms to import after the rest of
    # export (python -X importtime, three runs), which an export without
    # --force, or with nothing gone from the folder's files, never needs.
    from konvsync.apply.checks import PortalLookup, Wanted

    def no_id(_address: object) -> None:
        return None

    defaults = ApplyOptions()
    lookup = PortalLookup(client, state, no_id, defaults.batch_size, defaults.parallelism, True)
    wanted = {
        name: [
            Wanted(kind(name).address(key), None, key, spelling=_spelling(held[name][key], key))
            for key in keys
        ]
        for name, keys in missing.items()
    }
    found = await asyncio.gather(*(lookup.current(name, items) for name, items in wanted.items()))
    missed = [str(address) for now in found for address, obj in now.items() if obj is not None]
    if missed:
        raise OutputError(
            f"the portal's list did not show {listed(missed, 3)}, which the folder's files "
            "name and the portal has when asked for by key (read while others edit the "
            "portal?); nothing was written. Run export again"
        )


def _spelling(spelled: str, key: str) -> str | None:
    """A key as the files spell it, where that differs from the key as keys
    compare (``Wanted.spelling``)."""
    return spelled if spelled != key else None
