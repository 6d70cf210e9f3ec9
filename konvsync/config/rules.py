"""Checks of a loaded config that follow from the kinds' declarations and
the contract's rules, beyond what the JSON Schema can say: DateTime values,
sensitive values (their source, and a warning when written literally), a
kind's at-most-one rule, references restricted to some targets, keys that
look like other keys (a warning naming the character), and objects inside
``policy.scope``; and what an object's values or references ask of the
objects they name (``unfit_problem``), for export and ``drift --write``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from konvsync.config.model import DesiredObject, DesiredState, Source
from konvsync.config.scope import reference_keys, scoped_kinds
from konvsync.config.substitution import literal_parts
from konvsync.config.yaml_loader import YamlList, YamlMap
from konvsync.errors import ConfigProblem
from konvsync.kinds import KINDS_BY_NAME, Reference, kind
from konvsync.kinds.base import Field, Kind, value_text
from konvsync.kinds.custom_values import fits_as_sent
from konvsync.kinds.datetimes import OutOfRange, now_utc, parse_utc
from konvsync.support import redact
from konvsync.support.lookalikes import Lookalike, lookalikes


def check_kind_rules(
    state: DesiredState, env_values: dict[Source, str], problems: list[ConfigProblem]
) -> None:
    for kind_name, objects in state.objects.items():
        k = kind(kind_name)
        checked = [f for f in k.managed_fields if f.timestamp or f.sensitive]
        for obj in objects.values() if checked else ():
            for f in checked:
                if obj.data.get(f.name) is None:
                    continue
                where = value_source(obj, f.name)
                if f.timestamp:
                    _check_timestamp(obj, f.name, where, problems)
                if f.sensitive:
                    for part in literal_parts(str(obj.data[f.name])):
                        redact.register(part)
                    name = env_values.get(where)
                    if name is not None:
                        state.sensitive_env[kind_name, obj.filed_key, f.name] = name
                    else:
                        state.warnings.append(
                            where.problem(
                                f"{k.singular} {obj.path!r}: {f.name} is sensitive but written "
                                f"in the file; use ${{env:NAME}} (a saved plan cannot hold it)"
                            )
                        )
        if k.at_most_one is not None:
            _check_at_most_one(state, kind_name, problems)
        names = (k.key_field, k.rename_field) if k.rename_field else (k.key_field,)
        for obj in objects.values():
            _warn_lookalike_keys(state, k, obj, names)
    _check_reference_targets(state, problems)


def _warn_lookalike_keys(
    state: DesiredState, k: Kind, obj: DesiredObject, names: tuple[str, ...]
) -> None:
    """A warning for each character of the object's key (and of the keys it
    says it had, ``names``: its key field and rename field) that makes it
    look like another key or hides part of it: two such keys look the same
    in a review and in the portal. (The names made once per kind, not two
    lists per object: the kinds' rules for 10,000 users took 108 million
    instructions, now 76 million, 0.5 % of a no-op plan's.)"""
    for name in names:
        value = obj.data.get(name)
        if value is None:
            continue  # most objects' rename field
        for written in value if isinstance(value, list) else (value,):
            if not isinstance(written, str):
                continue
            found = lookalikes(written, compatibility=True)
            if not found:
                continue
            where = value_source(obj, name)
            if isinstance(value, YamlList) and written in value:
                where = value.item_source(value.index(written))
            listed = "; ".join(_described(item, len(written)) for item in found)
            stripped = any(item.char == " " for item in found)
            # The object by its key; a key it had, by that key's own field.
            holder = (
                f"{k.singular} {written!r}: its {name}"
                if name == k.key_field
                else f"{k.singular} {obj.key!r}: its {name} {written!r}"
            )
            state.warnings.append(
                where.problem(
                    f"{holder} holds {listed}, which looks like "
                    "another character or like nothing: another key may look the same"
                    + (" (konvsync compares keys without surrounding spaces)" if stripped else "")
                )
            )


def check_scope(
    state: DesiredState,
    problems: list[ConfigProblem],
    prune_at: Source | None = None,
    unset: Collection[str] = (),
) -> None:
    """A configuration lists only what it owns: each object of a scoped kind
    must be inside its rule (references to objects outside stay allowed);
    and pruning a kind the scope leaves out while it names others deletes
    what other configurations own, so that is a warning. A rule with a glob
    that uses a variable of ``unset`` is unknown offline: not checked (the
    loader warns that the value was not)."""
    scope = state.policy.scope
    unknown = tuple(f"${{env:{name}}}".lower() for name in unset)  # e-mail globs are folded
    for rule in scope.rules:
        k = kind(rule.kind)
        globs = [glob.lower() for _name, globs in rule.fields for glob in globs]
        if any(ref in glob for glob in [*globs, *map(str.lower, rule.exclude)] for ref in unknown):
            continue
        for obj in state.objects.get(rule.kind, {}).values():
            miss = rule.outside(obj.key, reference_keys(k, rule, obj.data))
            if miss is None:
                continue
            shown = "" if miss.on_key else f" ({miss.reason})"
            problems.append(
                value_source(obj, miss.field).problem(
                    f"{rule.kind} {obj.path!r} is outside policy.scope.{rule.kind} "
                    f"{rule.describe()}{shown}: a configuration lists only what it owns"
                )
            )
    if not scope:
        return
    where = prune_at or Source(state.files[0] if state.files else "<config>", 1, 1)
    scopable = {k.name for k in scoped_kinds()}  # another kind in prune is a schema problem
    for kind_name in sorted(state.policy.prune, key=list(KINDS_BY_NAME).index):
        if kind_name in scopable and scope.rule(kind_name) is None:
            state.warnings.append(
                where.problem(
                    f"policy.prune names {kind_name} but policy.scope does not: every one "
                    f"of the portal's {kind_name} this configuration does not list is "
                    f"deleted, also those other configurations own (add "
                    f'policy.scope.{kind_name}; ["*"] owns them all)'
                )
            )


def _described(item: Lookalike, length: int) -> str:
    where = (
        "at its start"
        if item.index == 0
        else "at its end"
        if item.index == length - 1
        else f"at character {item.index + 1}"
    )
    return f"{item} {where}"


def value_source(obj: DesiredObject, name: str) -> Source:
    data: Any = obj.data
    if isinstance(data, YamlMap) and name in data:
        return data.value_source(name)
    return obj.source


def _check_timestamp(
    obj: DesiredObject, name: str, where: Source, problems: list[ConfigProblem]
) -> None:
    value = obj.data[name]
    if not isinstance(value, str):
        return  # the schema says so
    try:
        parse_utc(value)
    except OutOfRange:
        problems.append(
            where.problem(
                f"{kind(obj.kind).singular} {obj.path!r}: {name} {value!r} is out of range: "
                "in UTC it falls outside the years 1 to 9999"
            )
        )
    except ValueError:
        problems.append(
            where.problem(
                f"{kind(obj.kind).singular} {obj.path!r}: {name} {value!r} is not a date "
                "(2027-06-30) or an ISO date-time with an offset (2027-06-30T12:00:00Z)"
            )
        )


def _check_at_most_one(state: DesiredState, kind_name: str, problems: list[ConfigProblem]) -> None:
    k = kind(kind_name)
    rule = k.at_most_one
    assert rule is not None
    now = now_utc()
    holding = [
        obj
        for obj in state.objects[kind_name].values()
        if rule.holds({**k.defaults, **obj.data}, now)  # omitted: the portal's default
    ]
    if len(holding) > 1:
        first = holding[0]
        for other in holding[1:]:
            problems.append(
                other.source.problem(
                    f"{k.singular} {other.path!r} and {k.singular} {first.path!r} (at "
                    f"{first.source}) would both be an {rule.what}; the portal allows one at "
                    "a time (set active: false, or an expiresAt in the past, on one)"
                )
            )


def _check_reference_targets(state: DesiredState, problems: list[ConfigProblem]) -> None:
    """References whose field allows only some targets (``Field.ref_only``),
    where the config defines the target."""
    for kind_name, objects in state.objects.items():
        k = kind(kind_name)
        for f in k.references:
            if f.ref_only is None:
                continue
            targets = state.objects.get(f.ref or "", {})
            for obj in objects.values():
                target = targets.get(str(obj.data.get(f.name)))
                if target is None:
                    continue
                problem = ref_only_problem(k, obj.key, f, target.data)
                if problem:
                    problems.append(value_source(obj, f.name).problem(problem))


def ref_only_problem(k: Kind, key: str, f: Field, target: Mapping[str, Any]) -> str | None:
    """Why ``target`` (normalized or config data) may not be referred to by
    field ``f`` of ``k``'s object ``key``, or None."""
    assert f.ref_only is not None
    attribute, allowed = f.ref_only
    value = target.get(attribute)
    if value is None or value in allowed:
        return None
    return (
        f"{k.singular} {key!r}: {f.name} refers to {kind(f.ref or '').singular} "
        f"{target.get(kind(f.ref or '').key_field)!r}, whose {attribute} is {value}; "
        f"it must be {', '.join(allowed)}"
    )


Named = Callable[[str, str], Mapping[str, Any] | None]
"""(kind name, key) -> the object of that kind as a check takes it (an
account field as it stands), or None: not checked."""


def unfit_problem(k: Kind, entry: Mapping[str, Any], named: Named) -> str | None:
    """What konvsync would reject in ``entry`` (config data of kind ``k``)
    given the objects it names as ``named`` gives them (a field retyped, or
    its options narrowed, after the entry was written: the portal checks
    values when they are written, not later): a reference its field allows
    only to some targets (``Field.ref_only``: an invite link's
    accountMatchField), or a value of a map field (``customFields``) its
    definition does not take."""
    for f in k.references:
        target = entry.get(f.name)
        if f.ref_only is None or not isinstance(target, str):
            continue
        held = named(f.ref or "", target)
        problem = (
            None if held is None else ref_only_problem(k, str(entry.get(k.key_field)), f, held)
        )
        if problem:
            return problem
    for f in k.fields:
        values = entry.get(f.name)
        if f.keys_ref is None or not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            definition = named(f.keys_ref, str(key))
            if definition is None or value is None:
                continue
            ftype = str(definition.get("type") or "TEXT")
            options = [str(o) for o in definition.get("options") or []]
            if not fits_as_sent(value_text(value), ftype, options):
                return f"{f.name} {key!r}: {value!r} does not fit its {ftype} field"
    return None


def taken_as_read(value: Any, text: str, ftype: Any) -> bool:
    """Whether a field of type ``ftype`` takes ``value``, a number or boolean
    YAML read from the plain scalar ``text`` whose own text is another
    (``1_000``, ``yes``): a BOOLEAN any boolean, a NUMBER the same number,
    exactly (a float YAML rounded, ``1234567890123456.78``, is another one:
    konvsync would send the rounded number)."""
    if isinstance(value, bool):
        return bool(ftype == "BOOLEAN")
    if ftype != "NUMBER":
        return False
    try:
        return bool(Decimal(text) == Decimal(value_text(value)))
    except InvalidOperation:
        return False


def retold_value_problem(value: Any, text: str, ftype: Any) -> str | None:
    """Why a custom field value YAML read as a number or boolean from the
    plain scalar ``text`` whose own text is another cannot be sent for a
    field of type ``ftype`` (None: the field takes it, ``taken_as_read``)."""
    if taken_as_read(value, text, ftype):
        return None
    sent = value_text(value)
    return (
        f"is written {text}, which YAML reads as {_as_read(value)} (sent as {sent!r}): quote "
        f"it ('{text}') to send the text as written, or write {sent}"
    )


def _as_read(value: Any) -> str:
    """What YAML read a retold scalar as: ``true``, ``the number 668``."""
    return value_text(value) if isinstance(value, bool) else f"the number {value}"


def retold_problem(
    k: Kind, obj: DesiredObject, named: Named, retold: Mapping[Source, str]
) -> str | None:
    """What konvsync would reject in ``obj`` given the objects it names as
    ``named`` gives them: a map field's value written as a number or
    boolean of another text (``retold``: ``DesiredState.retold``) that its
    field then does not take as YAML read it (``taken_as_read``: ``1_000``
    in a field retyped from NUMBER to TEXT)."""
    for f in k.fields:
        values = obj.data.get(f.name)
        if f.keys_ref is None or not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            if isinstance(value, str) or value is None:
                continue
            text = retold.get(map_value_source(obj, f.name, key))
            definition = named(f.keys_ref, str(key))
            if text is None or definition is None:
                continue
            ftype = str(definition.get("type") or "TEXT")
            if not taken_as_read(value, text, ftype):
                return (
                    f"{f.name} {key!r}: written {text}, which YAML reads as {_as_read(value)}: "
                    f"a {ftype} field takes it only quoted"
                )
    return None


def reference_source(obj: DesiredObject, ref: Reference) -> Source:
    """Where ``ref`` is written in ``obj`` (the object's place when unknown)."""
    value = obj.data.get(ref.field.name)
    try:
        if isinstance(value, YamlList):
            return value.item_source(value.index(ref.written))
        if isinstance(obj.data, YamlMap) and ref.field.name in obj.data:
            return obj.data.value_source(ref.field.name)
    except (KeyError, ValueError):
        pass
    return obj.source


def map_value_source(obj: DesiredObject, name: str, key: Any) -> Source:
    """Where the value of ``key`` in the map field ``name`` is written (the
    field's, or the object's, place when unknown)."""
    value = obj.data.get(name)
    if isinstance(value, YamlMap) and key in value:
        return value.value_source(key)
    return value_source(obj, name)
