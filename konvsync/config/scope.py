"""``policy.scope``: which of the portal's objects a configuration owns.

Per top-level kind, shell-style globs (``*``, ``?``, ``[...]``) on the
kind's natural key (``accounts: ["dealer-*"]``), or a mapping of fields to
globs, where a field is the key or a single reference, matched on the key of
the object it names (``users: {account: ["dealer-*"]}``); every field of a
mapping must match, and ``exclude`` (globs on the key) removes matches. A
child kind (an account's locations) follows its parent's scope. A kind the
scope does not name is owned whole, as without a scope.

Globs compare as the key they match does: in one Unicode form (NFC),
without surrounding whitespace, case-insensitively for e-mail addresses,
exactly otherwise. A glob also
matches its own text (a key holding ``[`` copied into a glob as it is). An object
without a key (a group whose externalId is null) or without the referenced
object (a user without an account) matches nothing.

This module holds the rules; ``config.rules.check_scope`` checks that a
configuration lists only objects it owns, and ``plan.scope`` applies the
rules to the portal as read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from functools import cached_property
from typing import Any

from konvsync.kinds import KINDS, kind
from konvsync.kinds.address import RemoteRef
from konvsync.kinds.base import Field, Kind, fold_case

EXCLUDE = "exclude"
"""The mapping entry whose globs (on the key) remove matches."""


def scope_fields(k: Kind) -> tuple[Field, ...]:
    """The fields a scope of kind ``k`` may match on: its key, and each
    single (not listed) reference to a kind with keys of its own."""
    return tuple(
        f
        for f in k.fields
        if f.name == k.key_field
        or (f.ref is not None and f.shape == "scalar" and f is not k.parent_field)
    )


def scoped_kinds() -> tuple[Kind, ...]:
    """The kinds ``policy.scope`` may name: top-level kinds a config writes."""
    return tuple(k for k in KINDS if k.parent is None and not k.reference)


def _case_insensitive(k: Kind, field_name: str) -> bool:
    """Whether values of ``field_name`` compare as a case-insensitive key."""
    f = k.field_map[field_name]
    target = kind(f.ref) if f.ref is not None else k
    return target.key_lowercase


@dataclass(frozen=True)
class Miss:
    """Why an object is outside a rule: the field that does not match, and how."""

    field: str
    reason: str
    on_key: bool = False
    """Its key matches none of the key's globs (the rule alone says why)."""


def _matcher(globs: tuple[str, ...]) -> Callable[[str], Any]:
    """Whether a value matches one of ``globs`` (shell-style, as
    ``fnmatch.fnmatchcase``) or is one of them as written, as one compiled
    expression. Keys may hold ``[``: a key copied into a glob as it is names
    that key (``exclude: ["dealer-[eu]"]`` keeps ``dealer-[eu]`` out), where
    the shell's reading alone (a class: dealer-e, dealer-u) would miss it."""
    patterns = [translate(glob) for glob in globs]
    patterns += [re.escape(glob) + r"\Z" for glob in globs if "[" in glob]
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns)).match


@dataclass(frozen=True)
class ScopeRule:
    """What a configuration owns of one kind (``policy.scope.<kind>``)."""

    kind: str
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(field, globs): the field's value (a reference's key) must match one
    of its globs; every field listed must match."""
    exclude: tuple[str, ...] = ()
    """Globs on the key: an object whose key matches one is not owned."""

    @cached_property
    def _key_field(self) -> str:
        return kind(self.kind).key_field

    @cached_property
    def _matchers(self) -> tuple[tuple[str, Callable[[str], Any]], ...]:
        return tuple((name, _matcher(globs)) for name, globs in self.fields)

    @cached_property
    def _excluded(self) -> Callable[[str], Any] | None:
        return _matcher(self.exclude) if self.exclude else None

    def owns(self, key: str | None, values: Mapping[str, Any]) -> bool:
        """Whether the object with natural ``key`` is owned. ``values``: for
        each reference field of the rule, the key of the object it names
        (None: none; a ``RemoteRef``: one without a key), normalized as that
        key compares. (Run for every object read: ``outside`` says why.)"""
        if key is None:
            return False
        key_field = self._key_field
        for name, matches in self._matchers:
            value = key if name == key_field else values.get(name)
            if not isinstance(value, str) or isinstance(value, RemoteRef) or not matches(value):
                return False
        excluded = self._excluded
        return excluded is None or not excluded(key)

    def outside(self, key: str | None, values: Mapping[str, Any]) -> Miss | None:
        """Why the object is not owned (as ``owns``), or None when it is."""
        key_field = self._key_field
        if key is None:
            return Miss(key_field, f"it has no {key_field}")
        for (name, globs), (_, matches) in zip(self.fields, self._matchers, strict=True):
            value = key if name == key_field else values.get(name)
            if value is None:
                return Miss(name, f"it has no {name}")
            if isinstance(value, RemoteRef) or not isinstance(value, str):
                return Miss(name, f"its {name} has no key")
            if not matches(value):
                what = "key" if name == key_field else name
                return Miss(
                    name, f"its {what} {value!r} matches none of {list(globs)}", name == key_field
                )
        excluded = self._excluded
        if excluded is not None and excluded(key):
            glob = next(g for g in self.exclude if _matcher((g,))(key))
            return Miss(key_field, f"its {key_field} matches exclude {glob!r}")
        return None

    def outside_by_key(self, key: str) -> bool:
        """Whether an object with ``key`` (as keys compare) is outside the
        rule whatever its other fields: its key matches none of the key's
        globs, or an ``exclude``. (Such an object can only be in the portal:
        a configuration lists only what it owns.)"""
        excluded = self._excluded
        if excluded is not None and excluded(key):
            return True
        key_field = self._key_field
        return any(name == key_field and not matches(key) for name, matches in self._matchers)

    def excludes_matching_none(self, keys: Iterable[str]) -> list[str]:
        """The ``exclude`` globs that match none of ``keys`` (as keys compare)."""
        unmatched = dict.fromkeys(self.exclude)
        matchers = {glob: _matcher((glob,)) for glob in unmatched}
        for key in keys:
            for glob in [g for g in unmatched if matchers[g](key)]:
                del unmatched[glob]
            if not unmatched:
                break
        return list(unmatched)

    def describe(self) -> str:
        """As a message shows it: ``['dealer-*']`` for globs on the key alone,
        else ``{account: ['dealer-*'], exclude: ['x']}``."""
        globs = self._key_globs_only
        if globs is not None:
            return str(globs)
        parts = [f"{name}: {list(globs)}" for name, globs in self.fields]
        if self.exclude:
            parts.append(f"{EXCLUDE}: {list(self.exclude)}")
        return "{" + ", ".join(parts) + "}"

    def to_data(self) -> dict[str, list[str]]:
        """The mapping form (the same for both ways of writing it)."""
        data = {name: list(globs) for name, globs in self.fields}
        if self.exclude:
            data[EXCLUDE] = list(self.exclude)
        return data

    def to_config(self) -> list[str] | dict[str, list[str]]:
        """As a configuration writes it: the short list form for globs on the
        key alone, else the mapping."""
        globs = self._key_globs_only
        return globs if globs is not None else self.to_data()

    @property
    def _key_globs_only(self) -> list[str] | None:
        """The globs when the rule is globs on the key alone (the short list
        form), else None."""
        if not self.exclude and len(self.fields) == 1 and self.fields[0][0] == self._key_field:
            return list(self.fields[0][1])
        return None


@dataclass(frozen=True)
class Scope:
    """``policy.scope``: a rule per scoped kind; empty: everything is owned."""

    rules: tuple[ScopeRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    @cached_property
    def _by_kind(self) -> dict[str, ScopeRule]:
        return {r.kind: r for r in self.rules}

    def rule(self, kind_name: str) -> ScopeRule | None:
        return self._by_kind.get(kind_name)

    def governs(self, kind_name: str) -> bool:
        """Whether ``kind_name``'s objects are owned only in part: it, or for
        a child kind its parent, has a rule."""
        k = kind(kind_name)
        return self.rule(k.parent if k.parent is not None else kind_name) is not None

    def to_data(self) -> dict[str, dict[str, list[str]]]:
        """Kind -> its rule as a mapping (plans and plan files hold this)."""
        return {r.kind: r.to_data() for r in self.rules}

    def to_config(self) -> dict[str, Any]:
        """As ``policy.scope`` is written in a konvsync.yaml (``export --scope``)."""
        return {r.kind: r.to_config() for r in self.rules}

    def describe(self) -> str:
        """One line: ``accounts ['dealer-*']; users {account: ['dealer-*']}``."""
        return "; ".join(f"{r.kind} {r.describe()}" for r in self.rules)


NO_SCOPE = Scope()
"""No ``policy.scope``: the configuration owns every object of its kinds."""


def parse_scope(value: Any) -> Scope:
    """The ``Scope`` of a ``policy.scope`` value (or of ``Scope.to_data()``)
    that the schema accepts; parts it does not are left out (the schema
    check reports them)."""
    if not isinstance(value, Mapping):
        return NO_SCOPE
    rules: list[ScopeRule] = []
    for k in scoped_kinds():
        written = value.get(k.name)
        if isinstance(written, list):
            written = {k.key_field: written}
        if not isinstance(written, Mapping):
            continue
        matched = ((f.name, _globs(k, f.name, written.get(f.name))) for f in scope_fields(k))
        fields = tuple((name, globs) for name, globs in matched if globs)
        exclude = _globs(k, k.key_field, written.get(EXCLUDE))
        if fields or exclude:
            rules.append(ScopeRule(k.name, fields, exclude))
    return Scope(tuple(rules))


def _globs(k: Kind, field_name: str, value: Any) -> tuple[str, ...]:
    """The globs as the keys they match compare: in Unicode form NFC (a
    decomposed "é" is the composed one), without surrounding whitespace
    (``"hq "`` copied from a portal that stores it so names the key ``hq``;
    a glob of spaces alone stays as written and matches no key), folded as
    e-mail addresses are (``fold_case``: lowercased, an ``xn--`` domain
    label in Unicode form)."""
    if not isinstance(value, list):
        return ()
    fold = _case_insensitive(k, field_name)
    written = (
        unicodedata.normalize("NFC", glob).strip() or glob
        for glob in value
        if isinstance(glob, str)
    )
    return tuple(dict.fromkeys(fold_case(glob) if fold else glob for glob in written if glob))


def reference_keys(k: Kind, rule: ScopeRule, data: Mapping[str, Any]) -> dict[str, Any]:
    """For each reference field of ``rule``, the key ``data`` (config-shaped)
    names, normalized as the target kind compares keys (NFC, without
    surrounding whitespace, folded for e-mail addresses), as the portal's
    side and the object's own key are."""
    out: dict[str, Any] = {}
    for name, _ in rule.fields:
        f = k.field_map[name]
        if f.ref is None:
            continue
        value = data.get(name)
        if value is None or isinstance(value, RemoteRef):
            out[name] = value
            continue
        out[name] = kind(f.ref).normalize_key(value)
    return out
