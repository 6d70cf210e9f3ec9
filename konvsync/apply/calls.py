"""The mutation each change sends: its operation, and its variables built
when its batch goes out (references resolved to server IDs, those of
objects created earlier in the run included)."""

from __future__ import annotations

from typing import Any

from konvsync.api.batching import CallNotBuilt, MutationCall
from konvsync.kinds import Kind, kind
from konvsync.kinds.address import Address
from konvsync.plan.changes import Change, Delete, Update

Ids = dict[Address, str]
"""Address -> server ID."""


def operation(change: Change, k: Kind | None = None) -> str:
    """The operation ``change`` sends (``k``: its kind, when at hand)."""
    if k is None:
        k = kind(change.kind)
    if isinstance(change, Delete):
        return k.delete_operation
    return k.update_operation if isinstance(change, Update) else k.create_operation


def mutation_call(change: Change, ids: Ids, send_welcome_email: bool) -> MutationCall:
    """The mutation for ``change``; its variables are built when its batch
    goes out, from ``ids`` as they are then."""
    k = kind(change.kind)
    if isinstance(change, Delete):
        return MutationCall(k, k.delete_operation, {"id": change.remote_id})
    # ``operation`` inline: a call less for each create and update
    name = k.update_operation if isinstance(change, Update) else k.create_operation
    return MutationCall(k, name, lambda: _variables(change, ids, send_welcome_email))


def _variables(change: Change, ids: Ids, send_welcome_email: bool) -> dict[str, Any]:
    k = kind(change.kind)
    after = change.after or {}

    def resolve(kind_name: str, key: str) -> str:
        try:
            return ids[Address(kind_name, key)]
        except KeyError:
            raise CallNotBuilt(f"cannot resolve reference {kind_name}/{key}") from None

    if isinstance(change, Update):
        values = {name: after.get(name) for name in change.changed_fields()}
        return {"id": change.remote_id, "input": k.build_input(values, resolve)}
    variables: dict[str, Any] = {"input": k.build_input(after, resolve)}
    parent = k.parent_field
    if parent is not None and change.parent is not None:
        variables[parent.input_key] = resolve(k.parent or "", change.parent)  # an argument
    if k.create_notice is not None:
        variables[k.create_notice] = send_welcome_email
    return variables
