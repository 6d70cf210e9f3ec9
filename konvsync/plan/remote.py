"""The portal's current state, read and normalized to the config's shape:
per kind, objects by natural key with their server IDs and digests; with a
scope (``plan.scope``), the objects outside it set apart."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any

from konvsync.config.scope import Scope
from konvsync.errors import ContractError, ReadChanged
from konvsync.kinds import KINDS_BY_NAME, kind
from konvsync.kinds.address import Address, ObjectKey, RemoteRef, key_path, object_key
from konvsync.kinds.base import Kind
from konvsync.kinds.schema_rules import broken_rule
from konvsync.support import redact

KeyRenames = Mapping[str, Mapping[str, str]]
"""kind -> key in the portal -> the key the configuration gives it."""


@dataclass(frozen=True)
class RemoteScope:
    """``policy.scope`` as the portal's objects are sorted by it."""

    scope: Scope
    renames: KeyRenames = field(default_factory=dict)
    """The configuration's renames, so that a reference matches on the key
    the configuration gives the object it names."""
    settled: frozenset[tuple[str, str]] = field(default=frozenset(), compare=False)
    """(kind, key in the portal) of the renames that the portal shows made
    (it has the configured key): an object with the old key is another one
    (another team's, made since), and a reference to it matches on that key."""
    matched: set[tuple[str, str]] = field(default_factory=set, compare=False, repr=False)
    """(kind, key in the portal) of the renames a reference was matched
    through so far."""

    def settled_by(self, kinds: Mapping[str, RemoteKind]) -> RemoteScope | None:
        """This scope with the renames that ``kinds`` (the portal as read)
        show made settled, or None when no object read was sorted through
        such a rename: the objects read are then sorted as they are (a
        renamedFrom kept once the rename is made costs nothing)."""
        settled = {
            (kind_name, old)
            for kind_name, old in self.matched - self.settled
            if kind_name in kinds and self.renames[kind_name][old] in kinds[kind_name].shown_keys()
        }
        if not settled:
            return None
        return replace(self, settled=frozenset(settled | self.settled), matched=set())

    def owns(self, kind_name: str, key: str | None, data: Mapping[str, Any]) -> bool:
        """Whether the remote object of top-level kind ``kind_name`` with
        ``key`` and normalized ``data`` is in scope (run for every object
        read: ``outside`` says why)."""
        rule = self.scope.rule(kind_name)
        return rule is None or rule.owns(key, self._values(kind_name, data))

    def outside(self, kind_name: str, key: str | None, data: Mapping[str, Any]) -> str | None:
        """Why that object is not in scope, or None."""
        rule = self.scope.rule(kind_name)
        miss = None if rule is None else rule.outside(key, self._values(kind_name, data))
        return None if miss is None else miss.reason

    def _values(self, kind_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The keys the reference fields of ``kind_name``'s rule name, as the
        configuration names them (through its renames)."""
        values: dict[str, Any] = {}
        for name, target in self._references.get(kind_name, ()):
            value = data.get(name)
            renamed = self.renames.get(target, {})
            if (
                isinstance(value, str)
                and not isinstance(value, RemoteRef)
                and value in renamed
                and (target, value) not in self.settled
            ):
                self.matched.add((target, value))
                value = renamed[value]
            values[name] = value
        return values

    @cached_property
    def matches_through_renames(self) -> bool:
        """Whether a reference a rule matches on may name an object the
        configuration renames: only then may a read be sorted again
        (``settled_by``), and so need its pages kept. A user's
        ``previousEmails`` is never one (no rule matches on a user)."""
        return any(
            self.renames.get(target) for refs in self._references.values() for _, target in refs
        )

    @cached_property
    def _references(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """Kind -> (field, target kind) of each reference field its rule matches on."""
        out: dict[str, tuple[tuple[str, str], ...]] = {}
        for rule in self.scope.rules:
            fields = kind(rule.kind).field_map
            out[rule.kind] = tuple(
                (name, fields[name].ref or "") for name, _ in rule.fields if fields[name].ref
            )
        return out


@dataclass(slots=True)
class RemoteObject:
    kind: str
    key: str | None
    """None for an object without a natural key (adoptable)."""
    id: str
    data: dict[str, Any]
    written_key: str | None = None
    """The key as the server spells it (e-mails keep their case)."""
    updated_at: str | None = None
    """The portal's ``updatedAt``, for kinds whose type has one (drift shows it)."""
    server: dict[str, Any] = field(default_factory=dict)
    """Server-only values (an invite link's url), never compared."""
    renamed_from: str | None = None
    """Set in a renamed view (``plan.renames``): the key the portal has now,
    while ``key`` is the configured one the object is renamed to."""
    parent: str | None = None
    """The parent's key, for a child kind (``key`` is the key within it)."""

    @property
    def filed_key(self) -> ObjectKey | None:
        """Its key in ``RemoteKind.objects`` (None: keyless)."""
        return None if self.key is None else object_key(self.key, self.parent)

    @property
    def path(self) -> str:
        """The keys from the top, for messages only."""
        return key_path(self.key or f"<id {self.id}>", self.parent)

    @property
    def address(self) -> Address:
        return kind(self.kind).address(self.key or "", self.parent)

    @property
    def digest(self) -> str:
        return object_digest(self.id, self.data, kind(self.kind).sensitive_names)


def object_digest(remote_id: str, data: dict[str, Any], sensitive: frozenset[str]) -> str:
    """A digest of what the plan saw; sensitive values are left out, since a
    digest of a short code is easily reversed and saved plans hold digests."""
    if sensitive:
        data = {name: value for name, value in data.items() if name not in sensitive}
    text = json.dumps({"id": remote_id, "data": data}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class RemoteKind:
    objects: dict[ObjectKey, RemoteObject] = field(default_factory=dict)
    """By natural key; a child kind's by (parent's key, own key). In scope."""
    keyless: list[RemoteObject] = field(default_factory=list)
    """In scope, without a natural key (adoptable)."""
    twins: dict[ObjectKey, list[RemoteObject]] = field(default_factory=dict)
    """In scope, objects that share a key the contract does not keep unique
    (two locations named HQ in one account), or whose keys differ only in
    what konvsync does not compare (surrounding spaces, Unicode form): none
    of them is in ``objects``, since konvsync cannot tell them apart. That
    stops a plan only where it matters (``plan.twins``)."""
    outside: list[RemoteObject] = field(default_factory=list)
    """Outside the scope (keyed or not; keys may repeat): for no plan,
    count or check, only for ``referable``, ``outside_by_key`` and ``find``."""
    held: dict[ObjectKey, RemoteObject] = field(default_factory=dict)
    """Of a reference kind, by key, the objects its read did not show that
    another kind's answer holds with their ID and key (a group's archived
    LMS module: the contract does not say the list shows every one). Only
    for ``referable``: a reference may name them, nothing else counts them."""
    _referable: dict[ObjectKey, RemoteObject] | None = field(
        default=None, repr=False, compare=False
    )

    def all(self) -> Iterable[RemoteObject]:
        """The objects in scope."""
        yield from self.objects.values()
        yield from self.keyless
        for twins in self.twins.values():
            yield from twins

    def __len__(self) -> int:
        """How many objects are in scope (what the mass-delete and
        mass-update limits count)."""
        return len(self.objects) + len(self.keyless) + sum(map(len, self.twins.values()))

    @property
    def read_count(self) -> int:
        """How many objects the portal has, in scope or not."""
        return len(self) + len(self.outside)

    def outside_by_key(self) -> dict[ObjectKey, RemoteObject]:
        """The objects outside the scope that have a key, by it (for a kind
        whose keys may repeat, one of each)."""
        return {obj.filed_key: obj for obj in self.outside if obj.filed_key is not None}

    def shown_keys(self) -> set[ObjectKey]:
        """Every key the read showed: in scope (twins too) and outside it."""
        return set(self.objects) | set(self.twins) | set(self.outside_by_key())

    def referable(self) -> dict[ObjectKey, RemoteObject]:
        """By key, every object a reference may name, in scope or not
        (references to objects a configuration does not own are allowed);
        outside the scope, only kinds whose keys are unique, top-level."""
        if not self.outside and not self.held:
            return self.objects
        if self._referable is None:  # made once: every reference is checked against it
            self._referable = dict(self.held)
            self._referable.update(
                (key, obj)
                for key, obj in self.outside_by_key().items()
                if kind(obj.kind).unique_key and kind(obj.kind).parent is None
            )
            self._referable.update(self.objects)
        return self._referable


@dataclass
class RemoteState:
    kinds: dict[str, RemoteKind]
    portal_name: str | None = None
    scope: RemoteScope | None = None
    """The scope it was read with (None: everything is in scope)."""
    _by_id: dict[tuple[str, str], RemoteObject] | None = field(default=None, repr=False)

    def find(self, kind_name: str, remote_id: str | None) -> RemoteObject | None:
        """The object of ``kind_name`` with server ID ``remote_id`` (keyed or
        keyless, in scope or not: an ID names one object, so one that left
        the scope reads as changed, not as gone), through an index built on
        first use."""
        if self._by_id is None:
            self._by_id = {
                (name, obj.id): obj
                for name, bucket in self.kinds.items()
                for obj in (*bucket.outside, *bucket.all())
            }
        return self._by_id.get((kind_name, remote_id or ""))

    def get(self, kind_name: str) -> RemoteKind:
        found = self.kinds.get(kind_name)  # not ``or``: a kind all outside the scope is empty
        return found if found is not None else RemoteKind()

    def lookup(self, address: Address) -> RemoteObject | None:
        """The object in scope at ``address``."""
        parent = address.parent.key if address.parent is not None else None
        return self.get(address.kind).objects.get(object_key(address.key, parent))

    def check_references_shown(self, kind_names: Collection[str]) -> None:
        """Raise ``ReadChanged`` (read again) naming an object in scope that
        refers to one of a kind among ``kind_names`` (reference kinds aside)
        that the read of that kind did not show. The kinds are read at the
        same time, page by page: another writer made, renamed or deleted the
        object named between the reads, and what was read together is not
        what the portal holds (a plan from it deleted a group renamed
        meanwhile without moving its members).
        Each value is looked at once (100,000 users name a few hundred
        accounts and groups), the referring object only for the message."""
        for name, bucket in self.kinds.items():
            k = kind(name)
            for f in k.references:
                target = KINDS_BY_NAME[f.ref or ""]
                if f is k.parent_field or target.reference or target.name not in kind_names:
                    continue
                written: set[str] = set()
                for obj in bucket.all():
                    value = obj.data.get(f.name)
                    if isinstance(value, list):
                        written.update(value)
                    elif value:
                        written.add(value)
                shown = self.get(target.name).shown_keys()
                unshown: set[str] = set()
                for value in written:
                    key = target.normalize_key(value)
                    # A keyless object is named by its ID (RemoteRef).
                    if not isinstance(value, RemoteRef) and key is not None and key not in shown:
                        unshown.add(value)
                for obj in bucket.all() if unshown else ():
                    value = obj.data.get(f.name)
                    for one in value if isinstance(value, list) else [value]:
                        if one in unshown:
                            raise ReadChanged(
                                f"{k.name}/{obj.path} refers to {target.singular} {one!r}, "
                                f"which the read of {target.name} did not show"
                            )


class RemoteStateBuilder:
    """Normalizes raw nodes page by page, as they arrive (while the next page
    is on its way); locations come from their accounts' nodes. With a
    ``scope``, the objects outside it are set apart as they arrive, so that
    what another configuration owns never stops this one's plan (two of its
    invite links sharing a title, say)."""

    def __init__(
        self,
        twins: dict[Address, list[RemoteObject]] | None = None,
        scope: RemoteScope | None = None,
    ) -> None:
        self.kinds: dict[str, RemoteKind] = {}
        self.twins = twins
        """When given, objects that share a key are collected here (address
        -> all of them) instead of being an error."""
        self.scope = scope
        self.unique_outside: dict[str, dict[ObjectKey, RemoteObject]] = {}
        """Kind -> key -> object outside the scope, for kinds whose keys the
        contract keeps unique (checked across the scope's border too)."""
        self.parent_ids: dict[tuple[str, str], str] = {}
        """(child kind, child ID) -> the ID of the parent that lists it: a
        child (a location) belongs to one parent, listed once."""
        self.held: dict[str, dict[ObjectKey, RemoteObject | None]] = {}
        """Reference kind -> key -> an object of it as the answers of the
        kinds that refer to it hold it (a group's LMS modules, with ID and
        slug): known by it where the read of its kind does not show it.
        None: held with two IDs."""

    def add(self, kind_name: str, nodes: list[dict[str, Any]]) -> None:
        k = kind(kind_name)
        bucket = self.kinds.setdefault(kind_name, RemoteKind())
        _register_sensitive(k, nodes)
        parents: list[tuple[str, bool]] = []  # each node's key for its children, and in scope?
        held_fields = _held_fields(kind_name)
        key_field = k.key_field if _key_as_normalized(k) else None
        maps, server_only = _has_fields(k)
        for node in nodes:
            broken = k.schema_rules and broken_rule(k.schema_rules, node)
            if broken:
                raise ContractError(
                    k.read_operation,
                    f"{k.singular} {node['id']} {broken}, which the contract does not allow",
                )
            twice = k.listed_twice(node) if maps else None
            if twice is not None:
                raise ContractError(
                    k.read_operation,
                    f"{k.singular} {node['id']} lists {twice[0]} {twice[1]!r} twice",
                )
            data = k.normalize_remote(node)
            written = node.get(k.key_field)
            obj = RemoteObject(
                kind_name,
                data[key_field] if key_field and type(written) is str else k.key_of(node),
                node["id"],
                data,
                written,
                node.get("updatedAt"),
                k.server_values(node) if server_only else {},
            )
            if held_fields:
                self._note_held(held_fields, node)
            owned = self.scope is None or self.scope.owns(kind_name, obj.key, obj.data)
            parents.append((obj.key or RemoteRef(str(node["id"])), owned))
            if owned:
                _add(self, bucket, obj)
            else:
                _set_apart(self, bucket, obj)
        for child in _children(kind_name):
            children = self.kinds.setdefault(child.name, RemoteKind())
            link = child.parent_field.name if child.parent_field else ""
            for node, (parent_key, parent_owned) in zip(nodes, parents, strict=True):
                for item in node.get(child.name) or []:
                    self._check_one_parent(k, child, item["id"], node["id"])
                    data = child.normalize_remote({**item, link: node})
                    obj = RemoteObject(
                        child.name, child.key_of(item), item["id"], data, parent=parent_key
                    )
                    if parent_owned:  # a child follows its parent's scope
                        _add(self, children, obj)
                    else:
                        _set_apart(self, children, obj)

    def _check_one_parent(self, k: Kind, child: Kind, child_id: str, parent_id: str) -> None:
        """A child read a second time (in another parent, or twice in one)
        is no state the contract knows: taken as two objects, a change to
        one would be sent to the other by its ID. In two parents, another
        writer may have moved it while they were read (``ReadChanged``)."""
        first = self.parent_ids.get((child.name, child_id))
        if first is not None:
            where = (
                f"twice in {k.singular} {parent_id}"
                if first == parent_id
                else f"in {k.singular} {first} and in {k.singular} {parent_id}"
            )
            if first == parent_id:
                raise ContractError(
                    k.read_operation, f"{child.singular} {child_id} is listed {where}"
                )
            # Another writer moved it while the parents were read: read again.
            raise ReadChanged(f"{k.read_operation}: {child.singular} {child_id} is listed {where}")
        self.parent_ids[(child.name, child_id)] = parent_id

    def _note_held(self, fields: tuple[tuple[str, Kind], ...], node: dict[str, Any]) -> None:
        """Note the objects of reference kinds that ``node`` holds (in scope
        or not: they are the portal's either way). A key held with two IDs
        (the contract keeps it unique; another writer may have made one
        anew while the pages were read) names neither: it is known only if
        the read of its kind shows it."""
        for name, target in fields:
            for item in node.get(name) or ():
                key = target.key_of(item)
                if key is None:  # named by its ID (RemoteRef): no key to know it by
                    continue
                held = self.held.setdefault(target.name, {})
                other = held.get(key, _UNSEEN)
                if other is _UNSEEN:
                    held[key] = RemoteObject(
                        target.name, key, str(item["id"]), target.normalize_remote(item)
                    )
                elif other is not None and other.id != str(item["id"]):
                    held[key] = None

    def state(self, kind_names: Iterable[str] | None = None) -> RemoteState:
        """The state of ``kind_names`` (and the kinds read with them), or of
        every kind added. A reference kind read holds (``RemoteKind.held``)
        what the kinds that refer to it hold of it and its read did not
        show."""
        if kind_names is None:
            names = list(self.kinds)
        else:
            names = [n for name in kind_names for n in (name, *(c.name for c in _children(name)))]
        kinds = {name: self.kinds.get(name, RemoteKind()) for name in names}
        for name, bucket in kinds.items():
            if name in self.held and name in self.kinds:
                kinds[name] = _with_held(bucket, self.held[name])
        return RemoteState(kinds, scope=self.scope)


def _register_sensitive(k: Kind, nodes: list[dict[str, Any]]) -> None:
    """Every sensitive value the portal holds (an invite code) is masked in
    all output from now on, as a configured one is: every path that reads
    the portal (plan, apply, drift, export) comes through here."""
    for name in k.sensitive_names:
        for node in nodes:
            value = node.get(name)
            if isinstance(value, str):
                redact.register(value)


_UNSEEN = RemoteObject("", None, "", {})
"""No object of that key held yet (``RemoteStateBuilder._note_held``)."""


@cache
def _key_as_normalized(k: Kind) -> bool:
    """Whether a text key of ``k`` as keys compare (``Kind.key_of``) is its
    key field's normalized value: a plain text field, normalized as keys
    are (``normalize_text``, then lowercased where keys are). The key is
    then taken from the normalized data, not normalized a second time.
    With ``_has_fields`` and a call less in ``_add``: building the state of
    the 10,000-user benchmark's portal (12,100 objects) took 548 million
    instructions, now 452 million, 1.5 % of a no-op plan's."""
    f = k.field_map[k.key_field]
    return f.shape == "scalar" and f.ref is None and not f.timestamp and not f.server_only


@cache
def _has_fields(k: Kind) -> tuple[bool, bool]:
    """Whether ``k`` has map fields (``Kind.listed_twice``) and server-only
    ones (``Kind.server_values``): only then is a node asked for them
    (two calls less per object read: ``_key_as_normalized``)."""
    return any(f.shape == "map" for f in k.fields), any(f.server_only for f in k.fields)


@cache
def _held_fields(kind_name: str) -> tuple[tuple[str, Kind], ...]:
    """(field, reference kind) of each field of ``kind_name`` that holds
    objects of a reference kind (a group's ``lmsModules``)."""
    k = kind(kind_name)
    return tuple(
        (f.name, KINDS_BY_NAME[f.ref or ""])
        for f in k.references
        if f is not k.parent_field and KINDS_BY_NAME[f.ref or ""].reference
    )


def holders_of(kind_names: Iterable[str]) -> list[str]:
    """The kinds whose answers hold objects of the reference kinds among
    ``kind_names`` (groups hold LMS modules): what is known of those kinds
    beside their own reads (``RemoteKind.held``)."""
    wanted = set(kind_names)
    return [
        k.name
        for k in KINDS_BY_NAME.values()
        if any(target.name in wanted for _name, target in _held_fields(k.name))
    ]


def _with_held(bucket: RemoteKind, held: Mapping[ObjectKey, RemoteObject | None]) -> RemoteKind:
    """``bucket`` (a reference kind's read) with what others hold of it
    that the read did not show, neither its key nor its ID (one shown under
    another key is the read's)."""
    shown_ids = {obj.id for obj in (*bucket.all(), *bucket.outside)}
    shown = bucket.shown_keys()
    unlisted = {
        key: obj
        for key, obj in held.items()
        if obj is not None and key not in shown and obj.id not in shown_ids
    }
    return replace(bucket, held=unlisted, _referable=None) if unlisted else bucket


def _children(kind_name: str) -> list[Kind]:
    return [c for c in KINDS_BY_NAME.values() if c.read_via == kind_name]


def normalize_nodes(
    nodes_by_kind: dict[str, list[dict[str, Any]]], scope: RemoteScope | None = None
) -> RemoteState:
    """Normalize raw nodes of whole kinds (with ``scope``: set apart the
    objects outside it)."""
    builder = RemoteStateBuilder(scope=scope)
    for kind_name, nodes in nodes_by_kind.items():
        builder.add(kind_name, nodes)
    return builder.state()


def _add(builder: RemoteStateBuilder, bucket: RemoteKind, obj: RemoteObject) -> None:
    """File ``obj``, inside the scope."""
    filed = obj.key if obj.parent is None else obj.filed_key  # (a call less per object)
    if filed is None:
        bucket.keyless.append(obj)
        return
    if filed in bucket.twins:
        bucket.twins[filed].append(obj)
        return
    other = bucket.objects.get(filed)
    if other is not None and builder.twins is not None:
        builder.twins.setdefault(obj.address, [other]).append(obj)
        return
    if other is not None:
        _check_unique(obj, other)
        del bucket.objects[filed]
        bucket.twins[filed] = [other, obj]
        return
    beyond = builder.unique_outside.get(obj.kind, {}).get(filed)
    if beyond is not None:
        _check_unique(obj, beyond)
    bucket.objects[filed] = obj


def _set_apart(builder: RemoteStateBuilder, bucket: RemoteKind, obj: RemoteObject) -> None:
    """File ``obj`` outside the scope. Keys may repeat there (what another
    configuration owns is not this one's to sort out), except where the
    contract keeps them unique: that is checked in and out of the scope."""
    k = kind(obj.kind)
    if k.unique_key and k.parent is None and obj.key is not None:
        seen = builder.unique_outside.setdefault(obj.kind, {})
        twins = bucket.twins.get(obj.key) or []
        other = bucket.objects.get(obj.key) or (twins[0] if twins else None) or seen.get(obj.key)
        if other is not None:
            _check_unique(obj, other)
        seen[obj.key] = obj
    bucket.outside.append(obj)


def _check_unique(obj: RemoteObject, other: RemoteObject) -> None:
    """Two objects konvsync takes for one key: a contract error where the
    contract keeps the key unique and the portal spells both alike; else
    they are twins, the user's to sort out (``plan.twins``)."""
    k = kind(obj.kind)
    if k.unique_key and k.parent is None and not _spelled_apart(k, other, obj):
        # One read: another writer deleted one and made the other with its
        # key between two pages (offset pages then keep totalCount), so the
        # read is made again (``ReadChanged``); in every read, the portal's.
        raise ReadChanged(
            f"{k.read_operation}: two {k.name} have the {k.key_field} {obj.key!r} (IDs "
            f"{other.id} and {obj.id}), which the contract says is unique"
        )


def _spelled_apart(k: Kind, one: RemoteObject, other: RemoteObject) -> bool:
    """Whether two keys that konvsync takes for one differ in a way the
    contract's uniqueness does not cover (surrounding whitespace, Unicode
    form): two such objects are legal, and the user's to sort out."""
    lowercase = k.key_lowercase
    spelled = [
        (o.written_key or "").lower() if lowercase else (o.written_key or "") for o in (one, other)
    ]
    return spelled[0] != spelled[1]
