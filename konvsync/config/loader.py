"""Load a config path into a ``DesiredState``: read every file, merge them
kind by kind, check keys, references and custom fields, and report every
problem at once (``ConfigInvalid``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from konvsync.config.documents import ConfigDocument, check_document, check_merged, read_document
from konvsync.config.model import DesiredObject, DesiredState, Policy, Source
from konvsync.config.overlay import OverlayMap, overlay_items, overlay_settings
from konvsync.config.paths import discover
from konvsync.config.renames import check_renames, renamed_away, renamed_reference
from konvsync.config.rules import (
    check_kind_rules,
    check_scope,
    map_value_source,
    reference_source,
    retold_value_problem,
    taken_as_read,
)
from konvsync.config.scope import parse_scope
from konvsync.config.substitution import declared_variables, in_a_key
from konvsync.config.yaml_loader import YamlList, YamlMap
from konvsync.errors import ConfigInvalid, ConfigProblem
from konvsync.kinds import KINDS_BY_NAME, TOP_LEVEL_KINDS, children_of, kind, references
from konvsync.kinds.address import ObjectKey
from konvsync.kinds.base import Field, Kind, value_text
from konvsync.kinds.custom_values import checked_offline, fits_as_sent
from konvsync.support.gcpause import gc_paused
from konvsync.support.suggest import did_you_mean

SUPPORTED_VERSIONS = (1,)
MAX_OBJECTS = 250_000
_SETTINGS = ("konvsync", "endpoint", "portal", "policy")


@dataclass
class _Merged:
    settings: dict[str, tuple[Any, Source]] = field(default_factory=dict)
    items: dict[str, list[tuple[YamlMap, Source]]] = field(default_factory=dict)
    digest: str = ""
    too_many: bool = False
    """Over ``MAX_OBJECTS``: nothing more is checked."""


def load_config(
    path: str | Sequence[str],
    allow_external_refs: bool = False,
    offline: bool = False,
    edited: Mapping[str, bytes] | None = None,
) -> DesiredState:
    """Read and check the configuration at ``path`` (a file or directory), or
    at several paths, later ones overriding earlier ones (``config.overlay``).

    ``offline`` (``validate``): a variable listed under ``variables:`` that is
    not set is no error; the values that use it are not checked, and a
    warning per variable says so (``plan`` and ``apply`` need every value).
    ``edited``: file -> the bytes it is about to hold, read instead of it."""
    paths = [path] if isinstance(path, str) else list(path)
    with gc_paused():
        return _load(paths, allow_external_refs, offline, edited or {})


def _load(
    paths: list[str], allow_external_refs: bool, offline: bool, edited: Mapping[str, bytes]
) -> DesiredState:
    problems: list[ConfigProblem] = []
    found = [discover(path) for path in paths]
    not_read = [
        ConfigProblem(skipped.path, 1, 1, f"not read: {skipped.reason}")
        for files in found
        for skipped in files.skipped
    ]
    layers = [
        [read_document(p, problems, index > 0, edited.get(str(p))) for p in files.files]
        for index, files in enumerate(found)
    ]
    documents = [d for layer in layers for d in layer]
    # variables: in any file apply to the whole config.
    variables = declared_variables([d.data for d in documents if d.data is not None])
    for document in documents:
        check_document(document, variables, problems, offline)
    if len(layers) == 1:
        merged = _merge(documents, problems)
        if merged.too_many:
            raise ConfigInvalid(problems, not_read)
    else:
        per_path = [_merge(layer, problems) for layer in layers]
        if any(m.too_many for m in per_path):
            raise ConfigInvalid(problems, not_read)
        merged = _Merged(
            overlay_settings([m.settings for m in per_path]),
            overlay_items([m.items for m in per_path], problems),
            _digest(documents),
        )
        later = {d.path for layer in layers[1:] for d in layer}
        for kind_name, entries in merged.items.items():
            for item, where in entries:
                if isinstance(item, YamlMap) and (
                    isinstance(item, OverlayMap) or where.file in later
                ):
                    check_merged(kind_name, item, problems)
    unreadable = any(d.data is None for d in documents)
    state = _build(merged, [d.path for d in documents], problems, unreadable)
    state.layers = [[d.path for d in layer] for layer in layers]
    state.file_digests = {d.path: d.file_digest for d in documents}
    state.linked_out = {str(file) for files in found for file in files.linked_out}
    state.unread = [s.path for files in found for s in files.skipped if not s.read_elsewhere]
    state.retold = {where: text for d in documents for where, text in d.retold.items()}
    unnamed = _check_map_keys(state, problems)
    _check_references(state, allow_external_refs, problems, unnamed)
    check_renames(state, problems)
    if state.retold:
        _check_retold_values(state, problems, unnamed)
    env_values = {where: name for d in documents for where, name in d.env_values.items()}
    check_kind_rules(state, env_values, problems)
    state.digest = _digest(documents, set(state.sensitive_env.values()))
    unset = {where: names for d in documents for where, names in d.unset.items()}
    unset_names = {name for names in unset.values() for name in names}
    unset_names |= {n for d in documents for n, value in d.variables.items() if value is None}
    check_scope(state, problems, _prune_source(merged), unset_names)
    if unset:
        problems[:] = _unchecked(unset, problems, state.warnings)
    substituted = [p for d in documents for p in d.substitution_problems]
    if substituted:
        problems[:] = _without_consequences(substituted, problems)
    state.warnings[:0] = not_read
    if problems:
        raise ConfigInvalid(problems, state.warnings)
    return state


def _unchecked(
    unset: dict[Source, list[str]], problems: list[ConfigProblem], warnings: list[ConfigProblem]
) -> list[ConfigProblem]:
    """``problems`` without those about values that use unset variables
    (offline, those values are unknown), and one warning per variable, at
    its first use, saying that they were not checked."""
    places = {(where.file, where.line, where.column) for where in unset}
    uses: dict[str, list[Source]] = {}
    for where in sorted(unset):
        for name in dict.fromkeys(unset[where]):
            uses.setdefault(name, []).append(where)
    for name, places_of_name in uses.items():
        count = len(places_of_name)
        values = (
            "the value that uses it was not checked (not even its form"
            if count == 1
            else f"the {count} values that use it were not checked (not even their form"
        )
        warnings.append(
            places_of_name[0].problem(
                f"environment variable {name} is not set, so {values}, such as a URL's); "
                "plan and apply need it"
            )
        )
    return [p for p in problems if (p.file, p.line, p.column) not in places]


def _without_consequences(
    substituted: list[ConfigProblem], problems: list[ConfigProblem]
) -> list[ConfigProblem]:
    """``problems`` without those at the place of a ``${env:...}`` that
    could not be substituted (``substituted``): the value there is the
    reference as written, and "groups '${env:TEAM}' is outside policy.scope"
    says nothing the unset variable does not."""
    own = {id(p) for p in substituted}
    places = {(p.file, p.line, p.column) for p in substituted}
    return [p for p in problems if id(p) in own or (p.file, p.line, p.column) not in places]


def _merge(documents: list[ConfigDocument], problems: list[ConfigProblem]) -> _Merged:
    merged = _Merged()
    total = 0
    for document in documents:
        data = document.data
        if data is None:
            continue
        for name in _SETTINGS:
            if name not in data:
                continue
            here = data.key_source(name)
            if name in merged.settings:
                first = merged.settings[name][1]
                problems.append(here.problem(f"{name} is set twice (also at {first})"))
                continue
            merged.settings[name] = (data[name], here)
        for k in TOP_LEVEL_KINDS:
            items = data.get(k.name)
            if not isinstance(items, YamlList):
                if k.name in data:
                    merged.items.setdefault(k.name, [])
                continue
            entries = merged.items.setdefault(k.name, [])
            for index, item in enumerate(items):
                if isinstance(item, YamlMap):
                    entries.append((item, items.item_source(index)))
            total += len(items)
    merged.digest = _digest(documents)
    if total > MAX_OBJECTS:
        merged.too_many = True
        first_file = documents[0].path
        problems.append(
            ConfigProblem(
                first_file,
                1,
                1,
                f"configuration holds {total:,} objects; konvsync reads at most {MAX_OBJECTS:,}",
            )
        )
    return merged


def _prune_source(merged: _Merged) -> Source | None:
    """Where ``policy.prune`` is written, if it is."""
    policy = merged.settings.get("policy", (None, None))[0]
    if isinstance(policy, YamlMap) and "prune" in policy:
        return policy.value_source("prune")
    return None


def _digest(documents: list[ConfigDocument], sensitive: Collection[str] = ()) -> str:
    """The config's digest: its files and the values of the variables they
    use, but those of the ``sensitive`` variables (a sensitive field's
    ``${env:NAME}``): a plain digest of a short code is reversed by trying
    each, and a saved plan holds this one (it holds a salted digest of each
    sensitive value it sends)."""
    digest = hashlib.sha256()
    for document in documents:
        values = {
            name: None if name in sensitive else value for name, value in document.variables.items()
        }
        used = json.dumps(values, sort_keys=True)
        digest.update(f"{document.path}\0{document.digest}\0{used}\0".encode())
    return "sha256:" + digest.hexdigest()


def _build(
    merged: _Merged, files: list[str], problems: list[ConfigProblem], unreadable: bool = False
) -> DesiredState:
    version_value = merged.settings.get("konvsync")
    if version_value is None and not unreadable:
        first_file = files[0] if files else "<config>"
        problems.append(
            ConfigProblem(first_file, 1, 1, "missing format version: add 'konvsync: 1' to one file")
        )
    version = 1
    if version_value is not None and version_value[0] in SUPPORTED_VERSIONS:
        version = version_value[0]
    objects: dict[str, dict[ObjectKey, DesiredObject]] = {}
    owners: dict[str, set[str]] = {}
    for kind_name, entries in merged.items.items():
        k = kind(kind_name)
        bucket = objects.setdefault(kind_name, {})
        children = children_of(kind_name)
        for item, where in entries:
            key = k.key_of(item)
            if key is None or not isinstance(item.get(k.key_field), str):
                continue
            _add(bucket, DesiredObject(kind_name, key, item, where), problems)
            for child in children:
                if isinstance(item.get(child.name), YamlList):
                    owners.setdefault(child.name, set()).add(key)
                    _add_children(objects.setdefault(child.name, {}), child, key, item, problems)
    for kind_name in list(objects):
        for child in children_of(kind_name):
            objects.setdefault(child.name, {})
    policy_value: dict[str, Any] = merged.settings.get("policy", ({}, None))[0] or {}
    policy = _policy(policy_value)
    endpoint = merged.settings.get("endpoint", (None, None))[0]
    portal = merged.settings.get("portal", (None, None))[0]
    return DesiredState(
        version=version,
        endpoint=endpoint if isinstance(endpoint, str) else None,
        portal=portal if isinstance(portal, str) else None,
        policy=policy,
        objects=objects,
        files=files,
        digest=merged.digest,
        owners=owners,
    )


def _add_children(
    bucket: dict[ObjectKey, DesiredObject],
    child: Kind,
    parent_key: str,
    parent: YamlMap,
    problems: list[ConfigProblem],
) -> None:
    """The children listed in ``parent``, each filed under (its parent's key,
    its own key) and carrying its parent's key (``parent``) and its parent
    link field."""
    items: YamlList = parent[child.name]
    link = child.parent_field.name if child.parent_field else ""
    for index, item in enumerate(items):
        key = child.key_of(item) if isinstance(item, YamlMap) else None
        if key is not None and isinstance(item.get(child.key_field), str):
            data = {link: parent_key, **item}
            _add(
                bucket,
                DesiredObject(child.name, key, data, items.item_source(index), parent_key),
                problems,
            )


def _add(
    bucket: dict[ObjectKey, DesiredObject], obj: DesiredObject, problems: list[ConfigProblem]
) -> None:
    # Its filed key made once, and its kind's children looked up once per
    # kind (``_build``): building the objects of 10,000 users took 179
    # million instructions, now 153 million (0.4 % of a no-op plan's).
    filed = obj.filed_key
    first = bucket.get(filed)
    if first is not None:
        k = kind(obj.kind)
        problems.append(
            obj.source.problem(
                f"duplicate {k.singular} {obj.path!r} (first defined at {first.source})",
            )
        )
        return
    bucket[filed] = obj


def _policy(data: dict[str, Any]) -> Policy:
    def per_kind(name: str) -> dict[str, frozenset[str]]:
        value = data.get(name) or {}
        out: dict[str, frozenset[str]] = {}
        if not isinstance(value, dict):
            return out
        for kind_name, keys in value.items():
            if kind_name not in KINDS_BY_NAME or not isinstance(keys, list):
                continue  # the schema check has reported it
            k = kind(kind_name)
            if name == "protect":
                keys = [k.normalize_key(key) or "" for key in keys]
            out[kind_name] = frozenset(str(key) for key in keys or [])
        return out

    if not isinstance(data, dict):
        return Policy()
    prune = data.get("prune")
    percent = data.get("max_delete_percent", 25)
    return Policy(
        prune=frozenset(k for k in prune if isinstance(k, str) and k in KINDS_BY_NAME)
        if isinstance(prune, list)
        else frozenset(),
        protect=per_kind("protect"),
        ignore_changes=per_kind("ignore_changes"),
        max_delete_percent=float(percent) if isinstance(percent, int | float) else 25.0,
        send_welcome_email=data.get("send_welcome_email", True) is not False,
        max_welcome_emails=_number(data.get("max_welcome_emails"), 50),
        max_update_percent=_number(data.get("max_update_percent"), None),
        scope=parse_scope(data.get("scope")),
    )


def _number(value: Any, default: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else default


def _check_references(
    state: DesiredState,
    allow_external: bool,
    problems: list[ConfigProblem],
    unnamed: AbstractSet[Source] = frozenset(),
) -> None:
    """References to keys this config does not define, and custom field
    values (but for those whose key ``_check_map_keys`` reported: at
    ``unnamed``)."""
    state.external_references = []
    scope = state.policy.scope
    renames: dict[str, dict[str, DesiredObject]] = {}
    for kind_name, objects in state.objects.items():
        k = kind(kind_name)
        named = _named_keys(state, k)
        for obj in objects.values():
            if named and _names_defined(obj.data, named):
                continue
            for ref in references(k, obj.data, include_parent=False):
                if ref.key in state.objects.get(ref.target.name, {}):
                    continue
                if ref.target.name not in renames:
                    renames[ref.target.name] = renamed_away(state, ref.target.name)
                renamed = renamed_reference(ref.target, ref.key, renames[ref.target.name])
                if renamed is not None:
                    # Never in the portal once the plan renames it: an
                    # error with --allow-external-refs too.
                    problems.append(
                        reference_source(obj, ref).problem(
                            f"{k.singular} {obj.path!r}: {ref.field.name} refers to "
                            f"{ref.target.singular} {ref.written!r}, which {renamed}"
                        )
                    )
                    continue
                rule = scope.rule(ref.target.name)
                if (
                    allow_external
                    or ref.target.reference
                    or (rule is not None and rule.outside_by_key(ref.key))
                ):
                    # Reference kinds (LMS modules...) and objects outside
                    # the scope are only in the portal: the plan checks
                    # them, validate cannot.
                    state.external_references.append((obj, ref))
                    continue
                defined = state.objects.get(ref.target.name, {})
                known = [key for key in defined if isinstance(key, str)]
                problems.append(
                    reference_source(obj, ref).problem(
                        f"{k.singular} {obj.path!r}: {ref.field.name} refers to "
                        f"{ref.target.singular} {ref.written!r}, which the configuration does "
                        f"not define{did_you_mean(ref.key, known)} (--allow-external-refs if it "
                        "exists in the portal)",
                    )
                )
    _check_custom_fields(state, allow_external, problems, unnamed)


def _named_keys(state: DesiredState, k: Kind) -> tuple[tuple[str, Collection[Any]], ...]:
    """(field, the keys the configuration defines of its target) of each
    reference field of ``k`` but its parent link, when no target's keys are
    lowercased (``_names_defined``: a key then normalizes to itself); else
    none."""
    fields = [f for f in k.references if f is not k.parent_field]
    targets = [kind(f.ref or "") for f in fields]
    if any(target.key_lowercase for target in targets):
        return ()
    return tuple((f.name, state.objects.get(f.ref or "", {})) for f in fields)


def _names_defined(data: Mapping[str, Any], named: tuple[tuple[str, Collection[Any]], ...]) -> bool:
    """Whether every reference of ``data`` is a string the configuration
    defines as it is written (a key normalizes to itself), so that it needs
    no ``Reference`` of its own: nearly all of them. The references of
    10,000 users were checked in 209 million instructions, now 53 million
    (2.5 % of a no-op plan's)."""
    for name, keys in named:
        value = data.get(name)
        if type(value) is str:
            if value not in keys:
                return False
        elif isinstance(value, list):
            for item in value:
                if type(item) is not str or item not in keys:
                    return False
        elif value:
            return False
    return True


def _check_custom_fields(
    state: DesiredState,
    allow_external: bool,
    problems: list[ConfigProblem],
    unnamed: AbstractSet[Source],
) -> None:
    """Custom field values (a map field whose keys name objects of another
    kind, ``Field.keys_ref``) against the definitions the config holds."""
    for k, f, obj in _custom_field_maps(state):
        _check_values(state, k, f, obj, allow_external, problems, unnamed)


def _custom_field_maps(state: DesiredState) -> Iterator[tuple[Kind, Field, DesiredObject]]:
    """Each configured object with a map field whose keys name objects of
    another kind (``Field.keys_ref``: accounts' customFields), and that field."""
    for k in KINDS_BY_NAME.values():
        for f in k.fields:
            if f.keys_ref is not None:
                for obj in state.objects.get(k.name, {}).values():
                    yield k, f, obj


def _check_map_keys(state: DesiredState, problems: list[ConfigProblem]) -> set[Source]:
    """The keys of a custom field map name fields by their text, as it is
    sent. A key YAML read as a number whose own text is another (``010`` is
    8, ``0x1F`` 31, ``1_0`` 10), as a boolean (``yes``, ``true``: sent as
    ``True``) or as null would name another field, or none, without a word:
    each is refused at its place. So is a key that names the same field as
    one before it once both are text (``1:`` and ``"1":``), which would
    silently drop one of the two values. Returns where the refused keys
    stand, whose values are then not checked against a field."""
    refused: set[Source] = set()
    for k, f, obj in _custom_field_maps(state):
        values = obj.data.get(f.name)
        if not isinstance(values, YamlMap):
            continue
        what = f"{k.singular} {obj.path!r}"
        seen: dict[str, Source] = {}
        for key in values:
            where = values.key_source(key)
            text = state.retold.get(where)
            if key is None or isinstance(key, bool) or text is not None:
                written = text if text is not None else ("null" if key is None else value_text(key))
                if key is None:
                    read = "null"
                elif isinstance(key, bool):
                    read = f"the boolean {value_text(key)}"
                else:
                    read = f"the number {key}"
                problems.append(
                    where.problem(
                        f"{what}: custom field key is written {written}, which YAML reads as "
                        f"{read}: quote it ('{written}') to name the field {written}"
                    )
                )
                refused.add(values.value_source(key))
                continue
            name = str(key)
            first = seen.setdefault(name, where)
            if first != where:
                problems.append(
                    where.problem(
                        f"{what}: custom field {name!r} is given twice (first at {first})"
                    )
                )
                refused.add(values.value_source(key))
    return refused


def _check_retold_values(
    state: DesiredState, problems: list[ConfigProblem], unnamed: AbstractSet[Source]
) -> None:
    """Custom field values are sent as text: one that YAML read as a number
    or boolean of another text (``zip: 01234`` is octal 668, ``code: no`` is
    false, ``price: 1.50`` is 1.5) would reach the portal changed. Refused
    unless the field takes what YAML read: a BOOLEAN any boolean, a NUMBER
    the same number as the text in decimal (``1_000``, ``+5``, ``1.50``).
    A value whose key ``_check_map_keys`` refused (at ``unnamed``) names no
    field: it is left to that problem."""
    for k, f, obj in _custom_field_maps(state):
        values = obj.data.get(f.name)
        if not isinstance(values, dict):
            continue
        fields = state.objects.get(f.keys_ref or "", {})
        for key, value in values.items():
            if isinstance(value, str) or value is None:
                continue
            where = map_value_source(obj, f.name, key)
            if where in unnamed:
                continue  # its key is refused (_check_map_keys): it names no field
            text = state.retold.get(where)
            definition = fields.get(str(key))
            ftype = definition.data.get("type") if definition is not None else None
            if text is None:
                continue
            if definition is None and isinstance(value, bool) and text.lower() == value_text(value):
                # ``True`` for a field the portal defines: its type is known
                # to the plan (``plan.field_checks``), not here.
                continue
            problem = retold_value_problem(value, text, ftype)
            if problem is not None:
                problems.append(
                    where.problem(f"{k.singular} {obj.path!r}: custom field {key!r} {problem}")
                )


def _check_values(
    state: DesiredState,
    k: Kind,
    f: Field,
    obj: DesiredObject,
    allow_external: bool,
    problems: list[ConfigProblem],
    unnamed: AbstractSet[Source],
) -> None:
    values = obj.data.get(f.name)
    if not isinstance(values, dict):
        return
    fields = state.objects.get(f.keys_ref or "", {})
    rule = state.policy.scope.rule(f.keys_ref or "")
    ignored = state.policy.ignore_changes.get(f.keys_ref or "", frozenset())
    what = f"{k.singular} {obj.path!r}"
    for key, value in values.items():
        where = map_value_source(obj, f.name, key)
        if where in unnamed:
            continue
        definition = fields.get(str(key))
        if definition is None:
            renamed = f.keys_ref and renamed_reference(
                kind(f.keys_ref), str(key), renamed_away(state, f.keys_ref)
            )
            if renamed:
                problems.append(where.problem(f"{what}: custom field {key!r} is a key {renamed}"))
                continue
            # a field outside the scope can only be in the portal: the plan checks it
            outside = rule is not None and rule.outside_by_key(str(key))
            if not allow_external and not outside:
                known = [name for name in fields if isinstance(name, str)]
                problems.append(
                    where.problem(
                        f"{what}: custom field {key!r} is not defined in {f.keys_ref}"
                        + (in_a_key(str(key)) or did_you_mean(str(key), known))
                        + " (--allow-external-refs if it exists in the portal)"
                    )
                )
            continue
        if value is None:
            continue
        text = value_text(value)
        ftype = definition.data.get("type", "TEXT")
        written = None if isinstance(value, str) else state.retold.get(where)
        if written is not None and not taken_as_read(value, written, ftype):
            continue  # _check_retold_values names it as written
        if not checked_offline(definition.data, ignored):
            continue  # the portal's type or options hold: the plan checks it
        listed = definition.data.get("options")
        # Options that are not strings are the schema check's to report.
        options = [o for o in listed if isinstance(o, str)] if isinstance(listed, list) else []
        if not fits_as_sent(text, ftype, options):
            expected = (
                f"one of {', '.join(options) or 'its options (it has none)'}"
                f"{did_you_mean(text, options)}"
                if ftype == "SELECT"
                else ftype
            )
            problems.append(
                where.problem(f"{what}: custom field {key!r} value {value!r} is not {expected}")
            )
