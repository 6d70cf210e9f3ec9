"""What ``apply`` checks against the portal, since it holds no lock there:

- each mutation's answer shows the values sent (as Terraform checks that the
  applied object is compatible with the planned one);
- right before a step, the objects it will touch are as the plan saw them
  (updated ones there and unchanged, deleted ones unchanged or gone, created
  ones still absent), so a second writer is noticed instead of overwritten;
  an object the pages of that check do not show is asked for by its ID
  before it counts as gone;
- after the run, the portal holds what was planned, as far as the answers do
  not prove it (``--verify``: the fields updates wrote, by default; every
  changed object with ``full``; nothing with ``none``);
- before the first write, the portal's schema takes every operation and input
  field the run will send (``check_inputs``).

The objects are looked up in one of two ways, whichever takes fewer
round trips: the kind read whole, page by page (100 a page, one after the
other), or the objects fetched by ID or key in aliased ``Get`` queries (50 a
request, ``parallelism`` at a time). At 10,000 users with 20 ms latency, the
1,000 updates of a 10 % change are 5 rounds of gets (0.1 s) instead of 100
pages (2.4 s); a cold apply's kinds start empty, so one page each.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from konvsync.api.answers import Misfit, check_field
from konvsync.api.batching import chunks
from konvsync.api.client import PortalClient
from konvsync.api.operations import Selection, has_operation, operation_document
from konvsync.api.pagination import PAGE_SIZE, read_all
from konvsync.api.schema_facts import agrees, introspected
from konvsync.errors import ContractError, KonvsyncError, SchemaMisfitError
from konvsync.kinds import kind
from konvsync.kinds.address import Address
from konvsync.kinds.base import Kind
from konvsync.kinds.custom_values import with_typed_maps
from konvsync.plan.changes import Change, Create, Delete, Update
from konvsync.plan.planfile import UNSEEN
from konvsync.plan.remote import RemoteObject, RemoteState, RemoteStateBuilder
from konvsync.plan.renames import Renames, as_renamed
from konvsync.plan.value_types import ValueTypes
from konvsync.support.text import brief

log = logging.getLogger("konvsync.apply")

GONE_OR_MISSED = "deleted since the plan, or missed by a read while others edit the portal"
"""Why an object the plan deletes may be absent from the check before its step."""

IdOf = Callable[[Address], str | None]
"""Address -> server ID known to this run, or None."""

Adopted = dict[str, dict[str, str]]
"""Kind -> the placeholder of each of its objects this run gives a key
(``<id grp_3>``) -> that key. By kind: an ID may be unique within its type
only (a portal keyed by one table per type has a group 3 and an account 3)."""


def sent_fields(change: Change) -> dict[str, Any]:
    """The config-shaped values a create or update sends."""
    sendable = kind(change.kind).sendable_names
    after = change.after or {}
    if isinstance(change, Update):
        return {name: after.get(name) for name in change.changed_fields() if name in sendable}
    if sendable.issuperset(after):
        return dict(after)  # (every field of most kinds' creates: a copy at C speed)
    return {name: value for name, value in after.items() if name in sendable}


def compared_fields(change: Change) -> dict[str, Any]:
    """``sent_fields`` as they compare (``normalize_desired``)."""
    k = kind(change.kind)
    if isinstance(change, Create):
        return k.fold_created(sent_fields(change))
    return k.normalize_desired(sent_fields(change))


def differences(
    k: Kind, wanted: dict[str, Any], remote_data: dict[str, Any], types: ValueTypes
) -> list[str]:
    """``field = portal value (wanted value)`` for every ``wanted`` field
    (normalized: ``normalize_desired``) the portal's normalized data does not
    equal; custom field values compared by their types (``types``,
    ``plan.value_types``)."""
    if types:  # (without any, the values are compared as they are)
        remote_data = with_typed_maps(k, remote_data, types, wanted)
    return [
        _difference(k, name, remote_data.get(name), value)
        for name, value in wanted.items()
        if remote_data.get(name) != value
    ]


def _difference(k: Kind, name: str, have: Any, wanted: Any) -> str:
    if name in k.sensitive_names:
        return f"{name} = (sensitive) (wanted another, sensitive value)"
    return f"{name} = {brief(have)} (wanted {brief(wanted)})"


def answer_mismatch(
    change: Change,
    operation: str,
    answer: Any,
    taken: Callable[[str], bool],
    types: ValueTypes,
) -> str | None:
    """Why a mutation's (contract-checked) answer does not show what was sent:
    a delete or update must answer with the object's ID, a create with an ID
    no other object has (``taken``), and both with the values sent (custom
    field values by their ``types``)."""
    k = kind(change.kind)
    # Whether a create, tested once, and no comprehension for an answer
    # that shows every value sent: the 12,100 answers of a 10,000-user cold
    # apply compared in 329 million instructions, now 303.
    create = isinstance(change, Create)
    answered = answer if isinstance(change, Delete) else answer["id"]
    if not create and answered != change.remote_id:
        return f"the portal answered {operation} with ID {brief(answered)}, not the ID sent"
    if isinstance(change, Delete):
        return None
    if create and taken(answered):
        return (
            f"the portal answered {operation} with ID {brief(answered)}, which another "
            f"{k.singular} already has"
        )
    if create and not types:
        differing = k.created_differences(change.after or {}, answer)
        if not differing:
            return None
        found = [_difference(k, name, have, wanted) for name, have, wanted in differing]
    else:
        wanted = compared_fields(change)
        found = differences(k, wanted, k.normalize_remote_as(answer, wanted), types)
    if found:
        return f"the portal accepted {operation} but kept {'; '.join(found)}"
    return None


class Wanted(NamedTuple):
    """One object to look up: by ID when known, else by natural key (a
    tuple: the check before a step makes one for each of its changes)."""

    address: Address
    remote_id: str | None
    key: str
    parent: str | None = None
    """The parent's key, for a child kind."""
    spelling: str | None = None
    """The key as a create sent it, where that differs from ``key`` (an
    e-mail in the config's case): a portal may store a case-insensitive
    key as written or lowercased and find it only as stored, so it is
    asked for both ways."""


class PortalLookup:
    def __init__(
        self,
        client: PortalClient,
        planned: RemoteState,
        id_of: IdOf,
        batch_size: int,
        parallelism: int,
        by_key: bool = False,
    ) -> None:
        self.client = client
        self.by_key = by_key
        """Ask for each object by its key where the API can (never trust a
        list read again: ``drift --write`` checks what a list did not show)."""
        self.planned = planned
        self.types: ValueTypes = {}
        """The type each custom field value compares by (the run's plan
        sets them: ``plan.value_types.types_after``)."""
        self.id_of = id_of
        self.batch_size = batch_size
        self.parallelism = parallelism
        self.created: dict[str, int] = {}
        """Objects created so far in this run, per kind (for the page estimate)."""
        self.slots = asyncio.Semaphore(parallelism)
        """``parallelism`` requests at a time, also when several kinds are looked up at once."""

    async def current(
        self,
        kind_name: str,
        wanted: Sequence[Wanted],
        twins: dict[Address, list[RemoteObject]] | None = None,
        fields: frozenset[str] | None = None,
    ) -> dict[Address, RemoteObject | None]:
        """Each wanted object as the portal has it now (None: absent); with
        ``twins``, objects sharing a key are collected there, not refused.
        ``fields``: read only these of the objects (and their IDs and keys);
        the others are missing from what is returned. None: every field."""
        k = kind(kind_name)
        source = _read_with(k)
        selection = None if fields is None else self._selection(k, source, fields)
        builder = RemoteStateBuilder(twins, self.planned.scope)  # only the scope is looked at
        if self._by_pages(k, source, len(wanted)):
            # Normalized page by page, keeping only the wanted objects: the
            # whole kind (100,000 users after a cold apply) is never held raw.
            ids = {item.remote_id for item in wanted if item.remote_id is not None}
            keys = {item.key for item in wanted if item.remote_id is None and item.parent is None}

            def keep(kind_name: str, nodes: list[dict[str, Any]]) -> None:
                if source is not k:  # children are matched after normalizing
                    builder.add(kind_name, nodes)
                    return
                builder.add(
                    kind_name, [n for n in nodes if n["id"] in ids or source.key_of(n) in keys]
                )

            await read_all(self.client, source, on_nodes=keep, selection=selection)
            found = _found(builder.state(), kind_name, wanted)
            missed = [w for w in wanted if w.remote_id is not None and found[w.address] is None]
            if missed and twins is None and _asks_by_id(source):
                # Pages miss an object while others delete and create (offset
                # pages slip): each known object they did not show is asked
                # for by its ID, so that "absent" is the portal's answer for
                # that object, not a slip (an unseen delete, a false mismatch).
                again = RemoteStateBuilder(None, self.planned.scope)
                again.add(source.name, await self._get(k, source, missed, selection))
                found.update(_found(again.state(), kind_name, missed))
            return found
        builder.add(source.name, await self._get(k, source, wanted, selection))
        return _found(builder.state(), kind_name, wanted)

    def asks_by_id(self, kind_name: str) -> bool:
        """Whether an object of ``kind_name`` that ``current`` finds absent
        was asked for by its ID (its kind, or the parent it is read with,
        has a query by ID): then it is absent for certain."""
        return _asks_by_id(_read_with(kind(kind_name)))

    def _selection(self, k: Kind, source: Kind, fields: frozenset[str]) -> Selection:
        """``fields`` of ``k`` and, of ``k`` and the kind it is read with,
        the fields the scope sorts objects by (which must be read to sort)."""
        scope = self.planned.scope

        def sorted_by(kind_name: str) -> frozenset[str]:
            rule = scope.scope.rule(kind_name) if scope is not None else None
            return frozenset(name for name, _globs in rule.fields) if rule else frozenset()

        if source is k:
            return ((k.name, fields | sorted_by(k.name)),)
        return ((source.name, sorted_by(source.name)), (k.name, fields | sorted_by(k.name)))

    def _by_pages(self, k: Kind, source: Kind, count: int) -> bool:
        if not _asks_by_id(source):
            return True
        if self.by_key:
            return False
        known = self.planned.get(source.name).read_count + self.created.get(source.name, 0)
        pages = max(1, math.ceil(known / PAGE_SIZE))
        rounds = math.ceil(math.ceil(count / self.batch_size) / self.parallelism)
        return pages <= rounds

    async def _get(
        self, k: Kind, source: Kind, wanted: Sequence[Wanted], selection: Selection | None
    ) -> list[dict[str, Any]]:
        targets = _dedupe(target for item in wanted for target in self._targets(k, item))
        operation = source.get_operation

        async def fetch(batch: Sequence[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
            document = operation_document(source, operation, len(batch), selection)
            variables: dict[str, Any] = {}
            for index, (remote_id, key) in enumerate(batch):
                # Only the argument meant is given: one given as null is an
                # argument all the same (GraphQL tells it from one not given),
                # and a portal may look up by every argument it is given.
                if remote_id is not None:
                    variables[f"id_{index}"] = remote_id
                else:
                    variables[f"key_{index}"] = key
            async with self.slots:
                response = await self.client.execute(
                    document, variables, label=f"{operation} x{len(batch)}", verify=False
                )
            data = response.found(f"reading {source.name}")
            nodes = []
            for index in range(len(batch)):
                alias = f"m{index}"
                try:
                    if alias not in data:
                        raise Misfit((alias,), "is missing")
                    check_field(document, alias, data[alias])
                except Misfit as misfit:
                    raise ContractError(operation, str(misfit)) from None
                if data[alias] is not None:
                    nodes.append(data[alias])
            return nodes

        pages = await asyncio.gather(*(fetch(b) for b in chunks(targets, self.batch_size)))
        unique: dict[str, dict[str, Any]] = {}
        for node in (n for page in pages for n in page):
            unique.setdefault(node["id"], node)
        return list(unique.values())

    def _targets(self, k: Kind, item: Wanted) -> list[tuple[str | None, str | None]]:
        """(ID, key) of what to get: the object itself (by its key as
        compared and as sent, when they differ), or its parent."""
        parent = item.address.parent
        if parent is not None:
            return [(self.id_of(parent), parent.key)]
        if item.remote_id is None and item.spelling is not None:
            return [(None, item.key), (None, item.spelling)]
        return [(item.remote_id, item.key)]


def _read_with(k: Kind) -> Kind:
    """The kind ``k``'s objects are read with (a location's account)."""
    return kind(k.read_via) if k.read_via else k


def _asks_by_id(source: Kind) -> bool:
    """Whether objects read with ``source`` can be asked for by ID or key."""
    return has_operation(source, source.get_operation)


def _found(
    state: RemoteState, kind_name: str, wanted: Sequence[Wanted]
) -> dict[Address, RemoteObject | None]:
    """Each wanted object in ``state``, by ID when known, else by key (as
    ``RemoteState.lookup`` finds it, inline for one of ``kind_name``: the
    check before each step looks up every change's object, and with
    ``moved_objects`` passing over a create still absent, that check took
    270 million instructions of a 10,000-user cold apply's (its reads
    aside), now 178 million)."""
    objects = state.get(kind_name).objects
    found: dict[Address, RemoteObject | None] = {}
    for item in wanted:
        address = item.address
        if item.remote_id is not None:
            found[address] = state.find(kind_name, item.remote_id)
        elif address.kind != kind_name or address.parent is not None:
            found[address] = state.lookup(address)
        else:
            found[address] = objects.get(address.key)
    return found


def _dedupe(
    targets: Iterable[tuple[str | None, str | None]],
) -> list[tuple[str | None, str | None]]:
    return list(dict.fromkeys(targets))


async def moved_objects(
    lookup: PortalLookup,
    changes: Sequence[Change],
    adopted: Adopted,
    renames: Renames | None = None,
    written: dict[Address, dict[str, Any]] | None = None,
) -> dict[Address, str]:
    """Address -> why, for each change (all of one kind) whose object moved
    since the plan. ``renames``: the plan's (see ``moved_since_plan``);
    ``written``: fields this run wrote to an object since the plan (a
    loosened field before its delete), expected as written."""
    wanted = [wanted_for(change, lookup.id_of) for change in changes]
    current = await lookup.current(changes[0].kind, wanted)
    certain = lookup.asks_by_id(changes[0].kind)
    moved = {}
    for change in changes:
        now = current[change.address]
        if now is None and isinstance(change, Create):
            continue  # still absent, as planned (a cold apply's every change)
        reason = moved_since_plan(
            change,
            now,
            lookup.planned,
            adopted,
            renames or {},
            certain,
            (written or {}).get(change.address),
        )
        if reason:
            moved[change.address] = reason
    return moved


def last_writes(done: Sequence[Change], unsure: frozenset[int] = frozenset()) -> list[Change]:
    """The changes a read-back holds the portal to, from the run's done
    changes in the order they were made: a field that a later change of the
    same object wrote again is that change's to show (the values a rename's
    follow-up filed under the new key, then the account's own update of
    them); an update whose fields were all written again is left out.
    ``unsure``: the ids of changes among ``done`` that failed but may have
    been applied (no answer): held to nothing, and the fields they may
    have written are no earlier change's either."""
    rewritten: dict[Address, set[str]] = {}
    kept: list[Change] = []
    for change in reversed(done):
        if isinstance(change, Update):
            written = set(change.changed_fields())
            later = rewritten.setdefault(change.address, set())
            own = written - later
            later |= written
            if not own or id(change) in unsure:
                continue
            if own != written:
                change = replace(change, fields=tuple(f for f in change.fields if f.top in own))
        kept.append(change)
    return kept[::-1]


def beside_deleted(done: Sequence[Change]) -> list[Change]:
    """``done`` without the map fields (``customFields``) of updates that
    kept values under a key whose definition the same run then deleted (a
    pruned account field, ``plan.diff``): the values went with it, or stay
    (the contract is silent), and the update's answer showed what it wrote."""
    deleted = {change.address for change in done if isinstance(change, Delete)}
    if not deleted:
        return list(done)
    out: list[Change] = []
    for change in done:
        if isinstance(change, Update):
            after = change.after or {}
            gone = {
                f.name
                for f in kind(change.kind).fields
                if f.keys_ref is not None
                and isinstance(after.get(f.name), dict)
                and any(kind(f.keys_ref).address(str(key)) in deleted for key in after[f.name])
            }
            if gone:
                fields = tuple(f for f in change.fields if f.top not in gone)
                if not fields:
                    continue
                change = replace(change, fields=fields)
        out.append(change)
    return out


async def read_back(
    lookup: PortalLookup, changes: Sequence[Change], whole: bool = True
) -> list[tuple[Change, str]]:
    """Each change whose object the portal does not hold as planned, and how.
    ``whole``: read every field of the objects; else only the fields the
    changes wrote (and IDs and keys)."""
    by_kind: dict[str, list[Change]] = {}
    for change in changes:
        by_kind.setdefault(change.kind, []).append(change)

    async def check(same_kind: list[Change]) -> list[tuple[Change, str]]:
        wanted = [wanted_for(change, lookup.id_of) for change in same_kind]
        written = None if whole else frozenset(n for c in same_kind for n in sent_fields(c))
        current = await lookup.current(same_kind[0].kind, wanted, fields=written)
        problems = (
            (change, applied_mismatch(change, current[change.address], lookup.types))
            for change in same_kind
        )
        return [(change, problem) for change, problem in problems if problem]

    # The kinds are read back at the same time, not one after the other: at
    # 10,000 users and 20 ms their round trips overlap, and a cold apply took
    # 7.7 s instead of 8.0 s (benchmarks/sync_bench.py).
    found = await asyncio.gather(*(check(same) for same in by_kind.values()))
    return [item for problems in found for item in problems]


def keys_not_unique(k: Kind) -> bool:
    """Whether the portal lets two objects share ``k``'s natural key (a
    location's name within its account, an invite link's title): two applies
    creating one at the same moment both succeed."""
    return k.parent is not None or not k.unique_key


async def concurrent_twins(
    lookup: PortalLookup, created: Sequence[Change]
) -> list[tuple[Change, str, str]]:
    """(change, the ID this run created, another's ID) for each object this
    run created whose key another writer created at the same time.

    Each run that finds such a twin after its own create deletes its own
    copy. At most one copy survives: of two runs whose copies both remained,
    the one that checked last would have seen the other's (each checks after
    its own create). Two runs that check at once may both delete theirs; a
    missing object is what the next apply creates, where a duplicate would be
    the user's to sort out."""
    if not created:
        return []
    twins: dict[Address, list[RemoteObject]] = {}
    wanted = [wanted_for(change, lookup.id_of) for change in created]
    await lookup.current(created[0].kind, wanted, twins, fields=frozenset())
    out = []
    for change, item in zip(created, wanted, strict=True):
        others = [o.id for o in twins.get(change.address, []) if o.id != item.remote_id]
        if others and item.remote_id is not None:
            out.append((change, item.remote_id, others[0]))
    return out


def wanted_for(change: Change, id_of: IdOf) -> Wanted:
    """What to look up for ``change``: its object by ID when one is known
    (planned, or created by this run), else by key."""
    remote_id = change.remote_id or id_of(change.address)
    return Wanted(change.address, remote_id, change.key, change.parent, spelling_of(change))


def spelling_of(change: Change) -> str | None:
    """The key as a create spells it (as the configuration does, and as it
    is sent), where that differs from the key as keys compare
    (``Wanted.spelling``)."""
    k = kind(change.kind)
    if not isinstance(change, Create) or not k.key_lowercase:
        return None
    # As ``plan.diff`` made a create's values (``Kind.fold_created``): its
    # key normalized with its case kept, as sent.
    sent = (change.after or {}).get(k.key_field)
    return sent if isinstance(sent, str) and sent != change.key else None


def moved_since_plan(
    change: Change,
    now: RemoteObject | None,
    planned: RemoteState,
    adopted: Adopted,
    renames: Renames | None = None,
    absent_for_certain: bool = False,
    written: dict[str, Any] | None = None,
) -> str | None:
    """Why ``change`` may no longer be sent, or None. ``absent_for_certain``:
    a ``now`` of None is the portal's answer to a question by ID, not an
    object a read by pages may have missed. ``adopted`` maps the
    placeholders of objects this run gave a key (``<id grp_3>``) to that key
    (``Adopted``), and ``renames`` are the keys this plan renames: references to them,
    and values filed under them, read differently once this run's earlier
    steps made them (or, for values, once konvsync moved them where the
    portal did not) without another writer having changed anything.
    ``planned`` is the renamed view, so ``now`` is compared as it reads
    there. ``written``: fields this run wrote to the object since the plan."""
    if isinstance(change, Create):
        if now is not None:
            return f"it exists in the portal (ID {now.id}), {UNSEEN}"
        return None
    if now is None:
        if isinstance(change, Delete):
            if absent_for_certain:
                return None  # already gone: its delete is answered NOT_FOUND
            # Only "not in the pages" for a kind without a query by ID: a read
            # by pages misses an object while others delete and create (offset
            # pages slip), and a delete sent unseen would remove what may have
            # changed since the plan.
            return f"the portal did not show it ({GONE_OR_MISSED}), so it was not deleted unseen"
        return "it was deleted since the plan"
    before = planned.find(change.kind, change.remote_id)
    now = as_renamed(now, renames or {})
    if before is None:
        return "it changed in the portal since the plan"
    expected = _rekeyed(kind(change.kind), before.data, adopted)
    if written:
        expected = {**expected, **written}
    if expected != now.data:
        return "it changed in the portal since the plan"
    return None


def _rekeyed(k: Kind, data: dict[str, Any], adopted: Adopted) -> dict[str, Any]:
    """``data`` of kind ``k`` with each reference to an object this run
    adopted read as the key it gave it (a reference names one kind: only
    that kind's placeholders are looked up)."""
    out = dict(data)
    for f in k.references:
        keys = adopted.get(f.ref or "")
        value = data.get(f.name)
        if not keys or value is None:
            continue
        if isinstance(value, str) and value in keys:
            out[f.name] = keys[value]
        elif isinstance(value, list) and any(v in keys for v in value if isinstance(v, str)):
            out[f.name] = sorted({keys.get(v, v) for v in value})
    return out


def applied_mismatch(change: Change, now: RemoteObject | None, types: ValueTypes) -> str | None:
    """Why the portal does not hold what ``change`` planned, or None
    (custom field values compared by their ``types``)."""
    if isinstance(change, Delete):
        return None if now is None else "still exists"
    if now is None:
        return "is missing"
    found = differences(kind(change.kind), compared_fields(change), now.data, types)
    return "has " + "; ".join(found) if found else None


async def check_inputs(
    client: PortalClient, operations: Sequence[tuple[Kind, str]], changes: Sequence[Change] = ()
) -> str | None:
    """Before the first write: do the portal's schema and input types take
    every operation and input field of ``operations``, and its enums each
    value ``changes`` send? One introspection request. Refuses
    (``SchemaMisfitError``) with the misfits; returns a warning where
    introspection is refused. The lookups ``PortalLookup``
    makes before each step (by ID or key, a kind's get operation) are
    checked too: one the portal refuses would stop the run between writes."""
    wanted = list(dict.fromkeys(operations))
    if not wanted:
        return None
    for k in dict.fromkeys(_read_with(k) for k, _ in list(wanted)):
        if _asks_by_id(k) and (k, k.get_operation) not in wanted:
            wanted.append((k, k.get_operation))
    unread = (
        "the portal's schema could not be read ({}); the input fields were not checked "
        "before writing"
    )
    try:
        introspection = await introspected(client)
    except KonvsyncError as exc:
        return unread.format(exc)
    if agrees(introspection, wanted):
        log.debug("the portal's schema agrees with the contract on what this apply sends")
        return None
    log.debug(
        "the portal's schema differs from the contract where this apply sends: checking it in full"
    )
    # The full check: graphql-core (70 ms to import and build the schema,
    # api.schema_facts) only for a portal that differs from the contract.
    from graphql import GraphQLError, build_client_schema

    from konvsync.api.input_check import misfits

    try:
        # assume_valid: a schema graphql-core deems invalid somewhere (a
        # default that is no value of its type) is checked all the same;
        # validating the documents would raise TypeError for it instead.
        schema = build_client_schema(introspection, assume_valid=True)  # type: ignore[arg-type]
    except (GraphQLError, TypeError, KeyError) as exc:
        return unread.format(exc)
    problems = misfits(schema, wanted, _sent_values(changes))
    if problems:
        raise SchemaMisfitError(
            "the portal's schema does not take what this apply would send; nothing was "
            "changed: " + "; ".join(problems)
        )
    return None


def _sent_values(changes: Sequence[Change]) -> dict[str, set[str]]:
    """The strings ``changes`` send, by kind and field (``groups.permissions``):
    what a portal's enum must have (the full check only: a loop over every
    change, which a portal agreeing with the contract never needs)."""
    out: dict[str, set[str]] = {}
    for change in changes:
        if isinstance(change, Create | Update):
            for name, value in sent_fields(change).items():
                given = value if isinstance(value, list) else [value]
                out.setdefault(f"{change.kind}.{name}", set()).update(
                    v for v in given if isinstance(v, str)
                )
    return out
