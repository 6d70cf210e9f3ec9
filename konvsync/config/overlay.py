"""Environments: several config paths, later ones overriding earlier ones
(``konvsync plan base/ overlays/staging/``).

Each path is read as usual (a key twice inside one path is an error). Then,
path by path: an object whose natural key an earlier path defines is merged
into it field by field (mappings merged, lists replaced, ``null`` sets the
field to null, which clears it in the portal); an object with a new key is
added; ``endpoint`` and ``portal`` are replaced and ``policy`` is merged like
an object, but for two lists that add up, as safety rails should: a kind's
``protect`` and its scope's ``exclude`` (an overlay protects and excludes
more, never less). Files of a later path are checked against the schema as patches
(an object may name only the fields it changes); every object a later path
adds or changes is then checked whole against the config schema (required
fields, rules between fields) in ``config.documents.check_merged``. A merged
field keeps the file and line it came from, so problems point at the file
that set it.
"""

from __future__ import annotations

import copy
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from konvsync.config.model import Source
from konvsync.config.scope import EXCLUDE, scoped_kinds
from konvsync.config.yaml_loader import POSITIONS, YamlList, YamlMap, _unpack
from konvsync.errors import ConfigProblem
from konvsync.kinds import kind
from konvsync.support.resources import config_schema

Settings = dict[str, tuple[Any, Source]]
Items = dict[str, list[tuple[YamlMap, Source]]]


class OverlayMap(YamlMap):
    """A merged mapping whose entries come from several files."""

    __slots__ = ("files", "patched_at")
    files: list[str]
    patched_at: Source
    """Where the last path that changed it gives it (what a rule between its
    fields that this path broke points at)."""

    def key_source(self, key: Any) -> Source:
        index = self._index(key)
        return _source(self.files[index], self.positions[2 * index])

    def value_source(self, key: Any) -> Source:
        index = self._index(key)
        return _source(self.files[index], self.positions[2 * index + 1])


def _source(file: str, packed: int) -> Source:
    return Source(file, *_unpack(packed))


def _entries(data: YamlMap) -> list[tuple[Any, Any, int, int, str]]:
    files = data.files if isinstance(data, OverlayMap) else [data.file] * len(data)
    return [
        (key, value, data.positions[2 * i], data.positions[2 * i + 1], files[i])
        for i, (key, value) in enumerate(data.items())
    ]


def merge_maps(
    base: YamlMap,
    patch: YamlMap,
    adds_up: Callable[[tuple[str, ...]], bool] = lambda _path: False,
    path: tuple[str, ...] = (),
) -> OverlayMap:
    """``patch`` over ``base``: mappings merged, anything else replaced, but
    for the lists whose path below them ``adds_up``: those are joined."""
    merged = {entry[0]: entry for entry in _entries(base)}
    for key, value, key_at, value_at, file in _entries(patch):
        earlier = merged.get(key)
        if earlier is not None and isinstance(earlier[1], YamlMap) and isinstance(value, YamlMap):
            value = merge_maps(earlier[1], value, adds_up, (*path, key))
        elif (
            earlier is not None
            and isinstance(earlier[1], YamlList)
            and isinstance(value, YamlList)
            and adds_up((*path, key))
        ):
            value = _joined(earlier[1], value)
        if earlier is not None:
            key_at, file_of_key = earlier[2], earlier[4]
            if file_of_key != file:
                key_at = value_at  # the key's line in the file that set the value
        merged[key] = (key, value, key_at, value_at, file)
    result = OverlayMap()
    result.file, result.position = base.file, base.position
    result.patched_at = patch.source
    result.positions, result.files = array(POSITIONS), []
    for key, value, key_at, value_at, file in merged.values():
        result[key] = value
        result.positions.append(key_at)
        result.positions.append(value_at)
        result.files.append(file)
    return result


def overlay_settings(layers: Sequence[Settings]) -> Settings:
    out: Settings = {}
    for settings in layers:
        for name, (value, where) in settings.items():
            earlier = out.get(name)
            if (
                earlier is not None
                and isinstance(earlier[0], YamlMap)
                and isinstance(value, YamlMap)
            ):
                if name == "policy":
                    before = _scope_as_mappings(earlier[0])
                    value = merge_maps(before, _scope_as_mappings(value), _adds_up)
                else:
                    value = merge_maps(earlier[0], value)
            out[name] = (value, where)
    return out


def _scope_as_mappings(policy: YamlMap) -> YamlMap:
    """``policy`` with each kind's ``scope`` in its mapping form: the list
    form is the globs on the kind's key (``accounts: [dealer-*]`` is
    ``{externalId: [dealer-*]}``). So a path's scope of a kind merges into
    an earlier path's as every mapping does, whichever form each writes: an
    overlay adding ``{exclude: [...]}`` narrows the base's ``[dealer-*]``
    rather than replacing it with "everything but the excluded", which
    would own (and prune) every other team's objects."""
    scope = policy.get("scope")
    if not isinstance(scope, YamlMap):
        return policy
    key_fields = {k.name: k.key_field for k in scoped_kinds()}
    forms = {
        name: _as_mapping(key_fields[name], globs)
        for name, globs in scope.items()
        if name in key_fields and isinstance(globs, YamlList)
    }
    if not forms:
        return policy
    return _with_values(policy, {"scope": _with_values(scope, forms)})


def _adds_up(path: tuple[str, ...]) -> bool:
    """The policy lists a later path adds to rather than replaces, as safety
    rails should (an overlay protects and excludes more, never less): a
    kind's ``protect`` list and its scope's ``exclude`` (scopes in mapping
    form). Replaced, an overlay protecting one more object un-protected the
    base's, and one excluding one more took what the base excludes (another
    team's objects) into the scope: a pruning config deleted them."""
    return (len(path) == 2 and path[0] == "protect") or (
        len(path) == 3 and path[0] == "scope" and path[2] == EXCLUDE
    )


def _joined(first: YamlList, then: YamlList) -> YamlList:
    """``first``'s items and those of ``then`` it does not hold, placed where
    ``then`` stands (each item keeps its own position)."""
    out = YamlList(first)
    out.file, out.position = then.file, then.position
    out.positions = array(POSITIONS, first.positions)
    for index, item in enumerate(then):
        if item not in out:
            out.append(item)
            out.positions.append(then.positions[index])
    return out


def _as_mapping(key_field: str, globs: YamlList) -> YamlMap:
    """``{key_field: globs}``, placed where ``globs`` stands."""
    out = YamlMap({key_field: globs})
    out.file, out.position = globs.file, globs.position
    packed = globs._position
    out.positions = array(POSITIONS, [packed, packed])
    return out


def _with_values(data: YamlMap, values: dict[str, Any]) -> YamlMap:
    """A copy of ``data`` (positions and files kept) with ``values`` in place
    of the values of those keys."""
    out = copy.copy(data)  # slots too: file, positions (and an OverlayMap's files)
    out.update(values)
    return out


def overlay_items(layers: Sequence[Items], problems: list[ConfigProblem]) -> Items:
    """The objects of every layer, later ones merged into earlier ones by key."""
    out: Items = {name: list(entries) for name, entries in layers[0].items()}
    for items in layers[1:]:
        for kind_name, entries in items.items():
            k = kind(kind_name)
            merged = out.setdefault(kind_name, [])
            index: dict[str, int] = {}
            for position, (item, _where) in enumerate(merged):
                key = k.key_of(item)
                if key is not None:
                    index.setdefault(key, position)
            seen: dict[str, Source] = {}
            for item, where in entries:
                key = k.key_of(item)
                if key is None:
                    merged.append((item, where))  # the schema check reported it
                    continue
                if key in seen:
                    problems.append(
                        where.problem(
                            f"duplicate {k.singular} {key!r} (first defined at {seen[key]})"
                        )
                    )
                    continue
                seen[key] = where
                if key in index:
                    base, base_where = merged[index[key]]
                    merged[index[key]] = (merge_maps(base, item), base_where)
                else:
                    index[key] = len(merged)
                    merged.append((item, where))
    return out


def object_definition(kind_name: str) -> dict[str, Any]:
    """The config schema's definition of one object of ``kind_name``: under
    the top-level key, or for a child kind under its parent's."""
    schema = config_schema()
    parent = kind(kind_name).parent
    owner = schema if parent is None else object_definition(parent)
    items: dict[str, Any] = owner.get("properties", {}).get(kind_name, {}).get("items", {})
    reference = items.get("$ref", "")
    if not reference:
        return items
    found: dict[str, Any] = schema.get("$defs", {}).get(reference.rsplit("/", 1)[-1], {})
    return found


OVERLAY_SCHEMA_FILE = "konvsync.overlay.schema.json"


def overlay_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of an overlay path's files, made from the config schema
    ``schema`` (modified in place and returned): the same, except that no
    object needs its required fields, since an overlay may set one field of
    an object an earlier path defines, and no rule between an object's fields
    holds for one file (an overlay may switch a link to CODE and its base
    give the code): every object a later path touches is checked whole after
    merging (``config.documents.check_merged``); ``konvsync schema --overlay``."""
    for definition in schema.get("$defs", {}).values():
        definition.pop("required", None)
        definition.pop("allOf", None)  # rules between fields hold for the merged object
    schema["$id"] = str(schema.get("$id", "")).rsplit("/", 1)[0] + "/" + OVERLAY_SCHEMA_FILE
    schema["title"] = f"{schema.get('title', 'konvsync configuration')} (overlay)"
    schema["description"] = (
        "A file of an overlay path (konvsync plan base/ overlays/staging/): the same format "
        "as a configuration file, but an object may give only its key and the fields it "
        "changes; objects the overlay adds must be complete, which konvsync checks after "
        "merging. " + str(schema.get("description", ""))
    )
    return schema
