"""What a kind of portal object is to konvsync: its natural key, its managed
fields and their shapes, its references to other kinds (from which the
apply order follows) and its GraphQL operations.

Everything kind-specific lives in the kind's own module and ``.graphql`` file;
normalization, input building and comparison below are driven by the
``Field`` declarations, so a new kind is one module plus its operations.

Normalization makes konvsync independent of what the contract leaves a
server free to do with a value (``schemas/konvert.graphql``, "What konvsync
relies on"): set-like lists compare without order, strings compare in
Unicode form NFC without surrounding whitespace, an empty string is no value
(null), a case-insensitive key compares lowercased, a DateTime compares as
its UTC instant to the second, and an object whose parts are all null is no
object. What konvsync sends is normalized the same way (a create keeps a
case-insensitive key's case), so no server has a choice left to make.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from konvsync.kinds.address import Address, RemoteRef
from konvsync.kinds.datetimes import utc_second

if TYPE_CHECKING:
    from graphql import DocumentNode, OperationDefinitionNode

Shape = Literal["scalar", "set", "list", "map", "object"]
IdResolver = Callable[[str, str], str]
"""(kind, natural key) -> server ID; raises (an exception of the caller's choice) when unknown."""


@dataclass(frozen=True)
class Field:
    """One managed field, named as in the API and the YAML."""

    name: str
    description: str = ""
    """What the field holds, for the config schema and the README; what
    follows from the declaration (natural key, order, default, sensitive,
    DateTime form) is added to it there."""
    shape: Shape = "scalar"
    ref: str | None = None
    """Kind whose natural keys this field holds (scalar or set)."""
    input_name: str | None = None
    """Name in the mutation input when it differs (``userGroups`` -> ``userGroupIds``)."""
    lowercase: bool = False
    """Compared case-insensitively (e-mail addresses)."""
    domain: bool = False
    """E-mail domains (a set): compared lowercase with internationalized
    labels in their ASCII form (``ascii_domain``), as the config writes them."""
    sensitive: bool = False
    """A secret of the portal's (an invite code): compared and sent, but shown
    as ``(sensitive)`` everywhere and never written to a file. A config gives
    it (as ``${env:NAME}``) or leaves it out, never null or blank."""
    server_only: bool = False
    """Made by the portal (a link's URL): read, never compared nor sent;
    ``export`` shows it as a comment."""
    announce: bool = False
    """A server-only value that apply prints for every object it created."""
    timestamp: bool = False
    """A DateTime: compared in UTC to the second (a date is midnight UTC)."""
    subfields: tuple[Field, ...] = ()
    """The parts of an ``object`` field (its input type's fields)."""
    export_default: Any = field(default=None, hash=False)
    """The portal's default, which ``export`` leaves out (``active: true``,
    ``options: []``); None: none. (May be a list: not part of the hash.)"""
    ref_only: tuple[str, tuple[str, ...]] | None = None
    """(field, allowed values): the referenced object must have one of these
    (an invite link matches on TEXT, NUMBER or SELECT account fields only)."""
    keys_ref: str | None = None
    """Kind whose natural keys are this map's keys (``customFields``)."""
    pattern: str | None = None
    """A regular expression a configured value (each item of a list) must
    match, where "not blank" is not enough (an e-mail address)."""
    pattern_message: str | None = None
    """What ``validate`` says of a value that does not match ``pattern``."""
    held_by: str | None = None
    """Kind whose objects' values must fit this field (an account field's
    options, type and ``required``, which accounts' custom values must
    fit). A portal may refuse to tighten it while values do not fit yet, so
    ``apply`` tightens it (a list's items taken away, ``loosest`` left)
    only after that kind's steps, deletes included (``apply.tightening``)."""
    loosest: Any = None
    """With ``held_by``: the value every held value fits (``type: TEXT``,
    ``required: false``); None: none."""
    binds_missing: bool = False
    """With ``loosest``: a holder without a value does not fit the field
    away from its loosest value (``required``), so a create (its holders
    hold nothing yet) tightens it last too. A field without it constrains
    the values held only, and at its loosest value every value fits,
    whatever a held list says (``type: TEXT``: any value, options or not),
    so a held list changes whole with it when it leaves that value."""

    @property
    def input_key(self) -> str:
        return self.input_name or self.name


@dataclass(frozen=True)
class AtMostOne:
    """A rule of the contract: at most one object of the kind may be in a
    state at a time (one active, unexpired OPEN invite link). ``apply``
    therefore runs the changes that take an object out of the state (and
    deletes) before those that bring one into it; ``validate`` rejects a
    config that wants two."""

    what: str
    """The state, for messages: ``active, unexpired OPEN link``."""
    holds: Callable[[Mapping[str, Any], datetime], bool]
    """Whether an object (normalized data) is in the state at a time."""


@dataclass(frozen=True)
class Kind:
    name: str
    """Plural, as the YAML's top-level key: ``groups``."""
    singular: str
    key_field: str
    fields: tuple[Field, ...]
    operations_file: str
    type_name: str
    """GraphQL type and operation stem: ``Group`` -> ReadGroups, CreateGroup..."""
    type_plural: str | None = None
    """The stem's plural when it is not ``type_name + s`` (DamCategories)."""
    parent: str | None = None
    """Kind that holds this one (locations live inside accounts)."""
    read_via: str | None = None
    """Kind whose read query also returns this one."""
    reference: bool = False
    """Read from the portal and referred to by key, never written (like a
    Terraform data source): not listed in a config, never pruned."""
    unique_key: bool = True
    """The contract keeps the natural key unique; when not (invite link
    titles), two remote objects with one key are the user's to sort out."""
    at_most_one: AtMostOne | None = None
    expires_field: str | None = None
    """A DateTime field after which the object no longer works (a configured
    object past it is a plan warning)."""
    create_notice: str | None = None
    """A Boolean argument of the create mutation saying whether the portal
    sends the new object's person an e-mail (``sendWelcomeEmail``): set
    from ``policy.send_welcome_email`` and counted by its rail."""
    rename_field: str | None = None
    """Config-only field naming the keys the object had before (``renamedFrom``
    or the list ``previousEmails``): a key change becomes an update in place."""
    rename_many: bool = False
    """The rename field is a list (``previousEmails``), not one key."""
    description: str = ""
    """What the kind's objects are, for the config schema: ``Groups:
    permission sets users and accounts belong to.``"""
    schema_rules: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    """Rules between an object's fields that the config schema checks
    (``kinds.schema_rules``: CODE needs a code), as JSON Schema."""
    id_prefix: str = ""
    """The sandbox's ID prefix (``grp`` -> ``grp_1``); default: the first
    three letters of ``name``."""

    # ------------------------------------------------------------- metadata

    @cached_property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def parent_field(self) -> Field | None:
        """The field naming a child's parent (a location's ``account``): in
        the config, and an argument of the create mutation, not its input."""
        return next((f for f in self.fields if f.ref is not None and f.ref == self.parent), None)

    @cached_property
    def references(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.ref is not None)

    @cached_property
    def managed_fields(self) -> tuple[Field, ...]:
        """The fields a config sets and the plan compares (not server-only)."""
        return tuple(f for f in self.fields if not f.server_only)

    @cached_property
    def sensitive_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.sensitive)

    @property
    def defaults(self) -> dict[str, Any]:
        """The portal's value of each field that has one when it is not set
        (``Field.export_default``): what an object that omits it holds."""
        return {f.name: f.export_default for f in self.fields if f.export_default is not None}

    def address(self, key: str, parent: str | None = None) -> Address:
        """The address of the object of this kind with ``key`` (within the
        parent with key ``parent``, for a child kind)."""
        if self.parent is None or parent is None:
            return Address(self.name, key)
        return Address(self.name, key, Address(self.parent, parent))

    def key_of(self, data: Mapping[str, Any]) -> str | None:
        """The natural key of ``data`` as keys compare (None: it has none)."""
        return self.normalize_key(data.get(self.key_field))

    def normalize_key(self, value: Any) -> str | None:
        """A key of this kind as keys compare: NFC, no surrounding whitespace,
        lowercased where the key is case-insensitive; None when empty."""
        if value is None:
            return None
        text = normalize_text(str(value))
        if text is not None and self.key_lowercase:
            return fold_case(text)
        return text

    @cached_property
    def key_lowercase(self) -> bool:
        """Whether keys of this kind compare lowercased (an e-mail)."""
        return self.field_map[self.key_field].lowercase

    @cached_property
    def sendable_names(self) -> frozenset[str]:
        """The fields a create or update sends values of (not the parent
        link, which is an argument of its own)."""
        return frozenset(name for name, f in self.field_map.items() if f is not self.parent_field)

    # ------------------------------------------------------------ documents

    @cached_property
    def document_text(self) -> str:
        return (Path(__file__).parent / self.operations_file).read_text(encoding="utf-8")

    @cached_property
    def document(self) -> DocumentNode:
        # graphql-core is imported only where a document is parsed: the
        # documents konvsync sends are built from generated models (api.operations).
        from graphql import parse

        return parse(self.document_text)

    def operation(self, name: str) -> OperationDefinitionNode:
        from graphql import OperationDefinitionNode  # as in ``document``

        for d in self.document.definitions:
            if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name:
                return d
        raise KeyError(f"{self.operations_file} has no operation {name}")

    @property
    def read_operation(self) -> str:
        return f"Read{self.type_plural or self.type_name + 's'}"

    @property
    def get_operation(self) -> str:
        return f"Get{self.type_name}"

    @property
    def create_operation(self) -> str:
        return f"Create{self.type_name}"

    @property
    def update_operation(self) -> str:
        return f"Update{self.type_name}"

    @property
    def delete_operation(self) -> str:
        return f"Delete{self.type_name}"

    # -------------------------------------------------------- normalization

    def normalize_remote(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """A remote node in the config's shape, every managed field present."""
        return {name: normalize(node.get(name)) for name, normalize in self._remote_steps}

    def normalize_remote_as(
        self, node: Mapping[str, Any], wanted: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``normalize_remote(node)``'s values of the fields ``wanted`` (normalized
        desired data) names. A value the node holds as wanted is taken as it
        is, since a normalized value normalizes to itself: only the others are
        normalized (a reference, a map, a value the portal wrote another way).
        Normalizing every field of the answers to a cold apply's 12,100
        creates was 1.2 % more of its instructions."""
        steps = self._remote_step_of
        out: dict[str, Any] = {}
        for name, value in wanted.items():
            normalize = steps.get(name)
            if normalize is not None:  # else not a field read: absent, as in normalize_remote
                have = node.get(name)
                out[name] = have if have == value else normalize(have)
        return out

    @cached_property
    def _remote_step_of(self) -> dict[str, Normalizer]:
        return dict(self._remote_steps)

    def listed_twice(self, node: Any) -> tuple[str, str] | None:
        """(map field, key) where a map field of remote ``node`` (an
        account's customFields) lists one key twice, or None: which of the
        two values the object holds is anyone's guess, so no read or answer
        of the contract does it."""
        if not self.map_names or not isinstance(node, Mapping):
            return None  # (a kind without map fields: without the ABC check)
        for name in self.map_names:
            keys = [item.get("key") for item in node.get(name) or () if isinstance(item, Mapping)]
            if len(keys) != len(set(keys)):
                return name, str(next(key for key in keys if keys.count(key) > 1))
        return None

    @cached_property
    def map_names(self) -> tuple[str, ...]:
        """Its map fields (an account's customFields), by name."""
        return tuple(f.name for f in self.fields if f.shape == "map")

    def server_values(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """The server-only fields of a remote node, as read."""
        return {name: node.get(name) for name in self._server_only}

    @cached_property
    def _server_only(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.server_only)

    def normalize_desired(self, data: Mapping[str, Any], keep_case: bool = False) -> dict[str, Any]:
        """Desired data in the compared shape; only the fields it names.
        ``keep_case`` keeps case-insensitive fields' case (for creates)."""
        out: dict[str, Any] = {}
        for name, normalize, text in self._keep_case_steps if keep_case else self._desired_steps:
            if name in data:
                value = data[name]
                if text and type(value) is str and value.isascii():
                    # Most values: a text field's ASCII string, normalized
                    # inline (``normalize_text`` without NFC, which leaves
                    # ASCII as it is) rather than by two calls (with a set's
                    # ASCII items, a cold plan of 2,000 users 141 -> 128
                    # million instructions).
                    out[name] = value.strip() or None
                else:
                    out[name] = normalize(value)
        return out

    def fold_created(self, created: dict[str, Any]) -> dict[str, Any]:
        """A create's values (``normalize_desired(·, keep_case=True)``, as
        ``plan.diff`` makes them) as ``normalize_desired`` gives them: only
        case-insensitive scalars differ, so only they are normalized again
        (normalizing every field again for the answer checks of a cold
        apply's 12,100 creates was 1.7 % of its instructions). ``created``
        is a dict of the caller's own: it is changed and returned."""
        out = created
        for name, normalize in self._case_steps:
            if name in out:
                out[name] = normalize(out[name])
        return out

    def created_differences(
        self, created: Mapping[str, Any], node: Mapping[str, Any]
    ) -> list[tuple[str, Any, Any]]:
        """(field, the value ``node`` holds, the value sent) of each value of
        a create that the portal's answer ``node`` does not hold as values
        compare: ``created`` is the create's values as ``plan.diff`` makes
        them, of which those sent (``sendable_names``) count, case-folded
        as ``fold_created`` folds them, against ``normalize_remote_as``'s
        values of the answer. The same comparison in one pass, without the
        two dicts between its steps: the answer check of a create took
        47,000 instructions, 5.9 % of a 10,000-user cold apply's."""
        steps = self._created_steps
        found = []
        for name, value in created.items():
            step = steps.get(name)
            if step is None:
                continue  # not sent
            folding, normalize = step
            if folding is not None:
                value = folding(value)
            have = None  # not a field read: absent, as in normalize_remote
            if normalize is not None:
                have = node.get(name)
                if have != value:
                    have = normalize(have)
            if have != value:
                found.append((name, have, value))
        return found

    @cached_property
    def _created_steps(self) -> dict[str, tuple[Normalizer | None, Normalizer | None]]:
        """Each sent field's steps in ``created_differences``: how its value
        sent is folded (``_case_steps``), and how the answer's value is
        normalized (``_remote_step_of``), None where there is nothing to do.
        One look-up per value instead of three: the answer checks of a
        10,000-user cold apply's creates, 376 -> 332 million instructions."""
        fold = dict(self._case_steps)
        steps = self._remote_step_of
        return {name: (fold.get(name), steps.get(name)) for name in self.sendable_names}

    @cached_property
    def _case_steps(self) -> tuple[tuple[str, Normalizer], ...]:
        """Each case-insensitive scalar's normalization (``fold_created``,
        ``created_differences``); a text field's folds an ASCII string
        inline, as ``_remote_text`` folds an answer's (the same values in
        one call instead of four)."""
        steps = []
        for f in self.managed_fields:
            if f.lowercase and f.shape == "scalar":
                normalize = normalizer(f)
                text = f.ref is None and not f.timestamp
                steps.append((f.name, _remote_text(normalize, True) if text else normalize))
        return tuple(steps)

    # Each managed field's normalization, chosen once per kind from its
    # declaration (``normalizer``) rather than by testing the Field for every
    # value: every object read, planned and answered goes through these.
    @cached_property
    def _remote_steps(self) -> tuple[tuple[str, Normalizer], ...]:
        return tuple((f.name, remote_normalizer(f)) for f in self.managed_fields)

    @cached_property
    def _desired_steps(self) -> tuple[tuple[str, Normalizer, bool], ...]:
        """Each managed field's step, and whether it is a text field (its
        string normalizes as ``normalize_text`` has it)."""
        return tuple((f.name, normalizer(f), _text_field(f, False)) for f in self.managed_fields)

    @cached_property
    def _keep_case_steps(self) -> tuple[tuple[str, Normalizer, bool], ...]:
        return tuple(
            (f.name, normalizer(f, keep_case=True), _text_field(f, True))
            for f in self.managed_fields
        )

    def build_input(self, values: Mapping[str, Any], resolve: IdResolver) -> dict[str, Any]:
        """A mutation input from config-shaped ``values`` (refs by key)."""
        out: dict[str, Any] = {}
        inputs = self._inputs
        for name, value in values.items():
            found = inputs.get(name)
            if found is None:
                continue
            f, input_key, as_is = found
            out[input_key] = value if as_is else _input_value(f, value, resolve)
        return out

    @cached_property
    def input_fields(self) -> dict[str, Field]:
        """Input field name (``input_key``) -> the field konvsync sends in it:
        what a mutation's input object must take (``api.input_check``)."""
        return {input_key: f for f, input_key, _as_is in self._inputs.values()}

    @cached_property
    def _inputs(self) -> dict[str, tuple[Field, str, bool]]:
        """The fields a mutation's input takes (not server-only, not the
        parent link, an argument of its own) by name, with their input
        field's name and whether ``_input_value`` sends their values as they
        are."""
        return {
            f.name: (f, f.input_key, f.ref is None and f.shape == "scalar")
            for f in self.fields
            if not f.server_only and f is not self.parent_field
        }


def value_text(value: Any) -> str:
    """A scalar as konvsync writes it in text (a custom field's value, a
    map's value sent): booleans as ``true``/``false``, as YAML writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _stringify(value: Any) -> str | None:
    return None if value is None else value_text(value)


def fold_case(text: str) -> str:
    """A case-insensitive key (an e-mail address) as it compares: lowercased,
    with the ASCII labels of an internationalized domain (``xn--...``, IDNA)
    in their Unicode form, as a portal may store either form of one domain:
    ``anna@xn--bcher-kva.example`` is ``anna@bücher.example``. Lowercased
    as ``lower_letters`` does, so that an e-mail a portal stored lowercased
    letter by letter compares equal to the one written in capitals."""
    text = lower_letters(text)
    if "xn--" not in text:
        return text
    local, at, domain = text.rpartition("@")
    labels = ".".join(map(_unicode_label, domain.split(".")))
    return local + at + unicodedata.normalize("NFC", labels)


def _unicode_label(label: str) -> str:
    """An ``xn--`` label decoded as Punycode (RFC 3492), not by Python's
    "idna" codec: that is IDNA 2003, which refuses the IDNA 2008 labels
    portals write today for ß and ς (``straße``: ``xn--strae-oqa``). A
    label that is no canonical encoding of a non-ASCII label stays as written."""
    if not label.startswith("xn--"):
        return label
    encoded = label[4:]
    try:
        decoded = encoded.encode("ascii").decode("punycode")
    except UnicodeError:
        return label
    if decoded.isascii() or decoded.encode("punycode").decode("ascii") != encoded:
        return label  # not a valid ASCII label: compared as written
    return lower_letters(decoded)


def lower_letters(text: str) -> str:
    """``text`` lowercased the same whichever way a portal lowercases it:
    Python's ``lower`` writes a capital sigma at the end of a word as the
    final sigma (U+03C2) and "İ" as "i" with a combining dot, where
    lowercasing letter by letter (SQL ``lower()``) writes the small sigma
    (U+03C3) and "i"; both come out as the latter."""
    text = text.lower()
    if text.isascii():
        return text
    return text.replace("\u03c2", "\u03c3").replace("i\u0307", "i")


def normalize_text(value: str) -> str | None:
    """A string as konvsync compares and sends it: Unicode form NFC (one
    e-mail written with a composed or a decomposed "é" is one), without
    surrounding whitespace; an empty string is None (no value)."""
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    return value.strip() or None


def _text(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, RemoteRef):
        return normalize_text(value)
    return value


def normalize_value(f: Field, value: Any, keep_case: bool = False) -> Any:
    """``value`` of field ``f`` as konvsync compares it (see the module's
    docstring); ``keep_case`` keeps a case-insensitive scalar's case."""
    if value is None:
        return None
    if f.shape == "set":
        return _normalized_set(value, f.lowercase, f.domain)
    if f.shape == "list":
        return [item for item in map(_text, value) if item is not None]
    if f.shape == "map":
        pairs = ((_text(str(k)), _text(_stringify(v))) for k, v in value.items())
        return dict(sorted((k, v) for k, v in pairs if k is not None and v is not None))
    if f.shape == "object":
        parts = ((k, _text(v)) for k, v in sorted(value.items()))
        return {k: v for k, v in parts if v is not None} or None
    if not isinstance(value, str) or isinstance(value, RemoteRef):
        return value
    text = normalize_text(value)
    if text is None:
        return None
    if f.lowercase and not keep_case:
        return fold_case(text)
    if f.timestamp:
        try:
            return utc_second(text)
        except ValueError:
            return text  # validate reports it; the portal's own form is kept
    return text


def _normalize_remote_value(f: Field, value: Any) -> Any:
    if f.ref is not None:
        target = _kind_named(f.ref)
        if f.shape == "set":
            value = [ref_key(item, target) for item in value or []]
        else:
            value = ref_key(value, target) if value else None
    elif f.shape == "map":
        value = {item["key"]: item.get("value") for item in value or []}
    elif f.shape == "list" and value is None:
        value = []
    elif f.shape == "object" and isinstance(value, Mapping):
        # Only its parts: fields an answer adds unasked (``__typename``,
        # the portal's own) pass the answer check and are no part of it.
        value = {sub.name: value.get(sub.name) for sub in f.subfields}
    return normalize_value(f, value)


Normalizer = Callable[[Any], Any]


def normalizer(f: Field, keep_case: bool = False) -> Normalizer:
    """``normalize_value(f, ·, keep_case)``, with the tests on ``f`` made
    once: a text field's strings (most values konvsync compares) go straight
    to ``normalize_text``."""
    if f.shape == "set":
        lowercase, domain = f.lowercase, f.domain
        return lambda value: None if value is None else _normalized_set(value, lowercase, domain)
    if f.shape != "scalar" or f.timestamp:
        return lambda value: normalize_value(f, value, keep_case)
    lower = f.lowercase and not keep_case

    def scalar(value: Any) -> Any:
        if type(value) is not str:  # None, numbers, booleans, a RemoteRef
            return normalize_value(f, value, keep_case)
        text = normalize_text(value)
        return fold_case(text) if lower and text is not None else text

    return scalar


def _text_field(f: Field, keep_case: bool) -> bool:
    """Whether ``normalizer(f, keep_case)`` gives a string what
    ``normalize_text`` gives it (no case folded, no time read)."""
    return f.shape == "scalar" and not f.timestamp and (keep_case or not f.lowercase)


def _normalized_set(value: Any, lowercase: bool, domain: bool = False) -> list[str]:
    """A set-like list's items as they compare (sorted, without empties)."""
    items: set[str] = set()
    for item in value:
        if type(item) is str and item.isascii():  # ``normalize_text`` and ``ascii_domain`` inline
            stripped = (item.lower() if lowercase or domain else item).strip()
            if stripped:
                items.add(stripped)
            continue
        text = (
            item
            if isinstance(item, RemoteRef)
            else normalize_text(str(item).lower() if lowercase else str(item))
        )
        if text is not None:
            items.add(ascii_domain(text) if domain else text)
    return sorted(items)


def ascii_domain(text: str) -> str:
    """An e-mail domain as konvsync compares it: lowercase, each
    internationalized label in its ASCII form (Punycode, as IDNA 2008 writes
    it: ``bücher.example`` is ``xn--bcher-kva.example``). The config writes
    the ASCII form; a portal may answer either (the contract does not say)."""
    text = text.lower()
    if text.isascii():
        return text
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in text.split(".")
    )


def remote_normalizer(f: Field) -> Normalizer:
    """``_normalize_remote_value(f, ·)``, with the tests on ``f`` made once."""
    normalize = normalizer(f)
    if f.ref is not None and f.shape == "scalar":
        target = _kind_named(f.ref)
        if _takes_keys_as_they_are(f, target):
            key = _ref_key_keeping_case(target)
            return lambda value: key(value) if value else None
        return lambda value: normalize(ref_key(value, target) if value else None)
    if f.ref is not None and f.shape == "set":
        target = _kind_named(f.ref)
        if _takes_keys_as_they_are(f, target):
            keys = _ref_key_keeping_case(target)
            return lambda value: sorted({keys(item) for item in value or ()})
        return lambda value: normalize([ref_key(item, target) for item in value or ()])
    if f.ref is None and f.shape == "scalar" and not f.timestamp:
        return _remote_text(normalize, f.lowercase)
    if f.ref is None and f.shape == "scalar":
        return normalize
    return lambda value: _normalize_remote_value(f, value)


def _remote_text(normalize: Normalizer, lowercase: bool) -> Normalizer:
    """``normalize`` (a text field's) for an answer's values: an ASCII
    string (most of them) normalized inline, in one call instead of two
    (``normalize_text``), or of four for a case-insensitive one
    (``fold_case``, ``lower_letters``; an ASCII label ``xn--`` aside):
    building the state of the 10,000-user benchmark's portal (12,100
    objects, each page's ``ReadCheck`` included) took 425 million
    instructions, now 399 million."""
    if not lowercase:

        def text(value: Any) -> Any:
            if type(value) is str and value.isascii():
                return value.strip() or None
            return normalize(value)

        return text

    def folded(value: Any) -> Any:
        if type(value) is str and value.isascii():
            stripped = value.strip().lower()
            if "xn--" not in stripped:
                return stripped or None
        return normalize(value)

    return folded


def _takes_keys_as_they_are(f: Field, target: Kind) -> bool:
    """Whether reference field ``f`` normalizes a key of ``target`` as
    ``ref_key`` gives it (a normalized key, or a ``RemoteRef``) to itself: a
    plain text field naming a kind whose keys keep their case, where
    ``normalize_text`` of a normalized key is that key (a ``RemoteRef`` is
    never changed). Its values are then not normalized again, and each key
    is read in one call (``_ref_key_keeping_case``): building the state of
    the 10,000-user benchmark's portal (12,100 objects) took 638 million
    instructions, now 548 million, 1.4 % of a no-op plan's."""
    return not (f.lowercase or f.domain or f.timestamp or target.key_lowercase)


def _ref_key_keeping_case(target: Kind) -> Callable[[Mapping[str, Any]], str]:
    """``ref_key(·, target)`` for a ``target`` whose keys keep their case,
    in one call instead of three (``key_of``, ``normalize_key``): every
    user of a read names an account and groups. An ASCII key (most) is
    normalized inline, without ``normalize_text``: normalizing 10,000 users
    read, 216 -> 209 million instructions. (A copy of this step inside the
    reference normalizers, saving their call of this one, made it 190: 0.4 %
    of a no-op plan, given up for one copy of the step.)"""
    key_field = target.key_field

    def key(node: Mapping[str, Any]) -> str:
        written = node.get(key_field)
        if type(written) is str and written.isascii():
            stripped = written.strip()
            if stripped:
                return stripped
        return (None if written is None else normalize_text(str(written))) or RemoteRef(
            str(node.get("id"))
        )

    return key


@cache
def _kind_named(name: str) -> Kind:
    from konvsync.kinds import KINDS_BY_NAME  # the registry imports this module

    return KINDS_BY_NAME[name]


def ref_key(node: Mapping[str, Any], target: Kind) -> str:
    """The natural key of a referenced node of kind ``target``, or a
    ``RemoteRef`` to its ID when it has none (it never equals a desired key)."""
    return target.key_of(node) or RemoteRef(str(node.get("id")))


MAP_ENTRY_FIELDS = ("key", "value")
"""A ``map`` field is sent as a list of {key, value} input objects."""
_KEY, _VALUE = MAP_ENTRY_FIELDS


def _input_value(f: Field, value: Any, resolve: IdResolver) -> Any:
    if value is None:
        return [] if f.shape in ("set", "list") else None
    if f.ref is not None:
        if f.shape == "set":
            return [resolve(f.ref, key) for key in value]
        return resolve(f.ref, value)
    if f.shape == "map":
        return [{_KEY: k, _VALUE: _stringify(v)} for k, v in value.items()]
    if f.shape == "object":
        # Every part, those left out as null: an update's input is a patch,
        # and a portal may read the nested object as one too (keeping parts
        # it omits); the config's object is the whole value.
        return {sub.input_key: value.get(sub.name) for sub in f.subfields}
    if f.shape == "set":
        return list(value)
    return value
