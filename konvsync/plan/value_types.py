"""The type each custom field value compares by (``kinds.custom_values``):
the type of the account field it is filed under, by the field's key.

What the portal answers is compared as the field's type after the plan:
the type a create or update of the plan gives the field, else the type the
portal has (in scope or not). The plan compares the portal's values with
the config's by the type the field keeps, and as written where it changes
the type (``types_compared``: the portal's text must become the config's
before a stricter type comes); apply holds the portal's
answers to the values sent by the same types, so that an answer it takes
for the value sent is one the next plan finds no change in. (A type a plan
tightens from TEXT is set after the accounts are written, while the portal
still has TEXT: such a portal keeps a TEXT value as sent, the same under
either type.) ``drift --write`` and ``export`` write the portal's values by
the types the portal has."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import cache

from konvsync.kinds import KINDS, kind
from konvsync.kinds.base import Kind
from konvsync.kinds.custom_values import TYPE_FIELD, with_typed_maps
from konvsync.plan.changes import Change, Create, Update
from konvsync.plan.remote import RemoteKind, RemoteObject, RemoteState

ValueTypes = dict[str, str]
"""An account field's key (as the accounts file values under it) -> its type."""


@cache
def typed_kinds() -> frozenset[str]:
    """The kinds whose keys other kinds' map fields file values under and
    which give those values a type (account fields)."""
    return frozenset(
        f.keys_ref
        for k in KINDS
        for f in k.fields
        if f.keys_ref is not None and TYPE_FIELD in kind(f.keys_ref).field_map
    )


def typing_kinds(kind_names: Iterable[str]) -> list[str]:
    """The kinds that give a type to the values ``kind_names`` file under
    their keys (account fields, for accounts): read with them wherever
    their values are written into YAML, which holds the config's form."""
    typed = typed_kinds()
    return sorted(
        {f.keys_ref for n in kind_names for f in kind(n).fields if f.keys_ref in typed}
        - set(kind_names)
    )


def types_now(remote: RemoteState) -> ValueTypes:
    """The type of each account field the portal has, by key (in scope or
    not; a twin's or keyless field's neither)."""
    types: ValueTypes = {}
    for name in typed_kinds():
        bucket = remote.get(name)
        for obj in [*bucket.outside, *bucket.objects.values()]:
            field_type = obj.data.get(TYPE_FIELD)
            if obj.key is not None and isinstance(field_type, str):
                types[obj.key] = field_type
    return types


def types_after(remote: RemoteState, changes: Iterable[Change]) -> ValueTypes:
    """The type of each account field once ``changes`` are applied, by key
    (the new key of a field the plan renames: ``remote`` is the renamed view)."""
    types = types_now(remote)
    typed = typed_kinds()
    for change in changes:
        if change.kind in typed and isinstance(change, Create | Update):
            field_type = (change.after or {}).get(TYPE_FIELD)
            if isinstance(field_type, str):
                types[change.key] = field_type
    return types


def types_compared(remote: RemoteState, changes: Iterable[Change]) -> ValueTypes:
    """The type the plan compares each account field's values by: its type
    after ``changes`` where they leave the type the portal has; none (the
    values compare as written) where they change it. A TEXT "True" the
    config makes a BOOLEAN "true" is still written, as the config writes
    it, before the type changes: a portal that keeps values fitting their
    field refuses the BOOLEAN while an account holds "True" as its text."""
    now = types_now(remote)
    return {key: t for key, t in types_after(remote, changes).items() if now.get(key, t) == t}


def in_portal_types(remote: RemoteState) -> RemoteState:
    """``remote`` with the values filed under typed keys (accounts'
    customFields) in the config's form by the type the portal has
    (``kinds.custom_values.config_form``): what ``export`` and ``drift``
    write into YAML, which ``validate`` must accept."""
    types = types_now(remote)
    if not types:
        return remote
    typed = typed_kinds()
    kinds: dict[str, RemoteKind] = {}
    for name, bucket in remote.kinds.items():
        k = kind(name)
        if not any(f.keys_ref in typed for f in k.fields):
            kinds[name] = bucket
            continue

        def shown(obj: RemoteObject, k: Kind = k) -> RemoteObject:
            return replace(obj, data=with_typed_maps(k, obj.data, types))

        kinds[name] = RemoteKind(
            objects={key: shown(obj) for key, obj in bucket.objects.items()},
            keyless=[shown(obj) for obj in bucket.keyless],
            twins={key: [shown(obj) for obj in twins] for key, twins in bucket.twins.items()},
            outside=[shown(obj) for obj in bucket.outside],
        )
    return RemoteState(kinds, remote.portal_name, remote.scope)
