"""``konvsync export``: the portal's current state as konvsync YAML.

Objects are sorted by natural key, references are keys, server-only fields
and fields at their default are left out, and the output is stable (a
second export is byte-identical). Objects without a natural key cannot be
managed by key: they are written as comments with a warning saying how to
adopt them.

The YAML is written by libyaml's emitter (``yaml.CSafeDumper``; the pure
Python one where libyaml is missing) in block style, one field a line, so it
diffs cleanly; export time grows linearly with the portal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from konvsync.api.client import PortalClient
from konvsync.api.documents import aliased_document, viewer_query
from konvsync.api.pagination import read_kinds
from konvsync.errors import NotFoundError, UsageError
from konvsync.kinds import KINDS, TOP_LEVEL_KINDS, kind
from konvsync.kinds.base import Kind
from konvsync.plan.remote import RemoteObject, RemoteState, RemoteStateBuilder, normalize_nodes

_DEFAULTS: dict[str, Any] = {"options": [], "required": False}
_EMPTY: tuple[Any, ...] = (None, [], {})


@dataclass
class ExportResult:
    files: dict[str, str]
    """File name -> YAML text, in write order (``konvsync.yaml`` first)."""
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def single_document(self) -> str:
        """Everything as one YAML document (for stdout)."""
        return "".join(self.files.values())


def parse_kinds(value: str | None) -> list[str]:
    if not value:
        return [k.name for k in TOP_LEVEL_KINDS]
    names = [part.strip() for part in value.split(",") if part.strip()]
    known = {k.name for k in TOP_LEVEL_KINDS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"--kinds: unknown kind(s) {', '.join(unknown)} "
            f"(choose from {', '.join(sorted(known))})"
        )
    return [k.name for k in TOP_LEVEL_KINDS if k.name in names]


async def export_portal(
    client: PortalClient,
    kind_names: list[str],
    endpoint_name: str,
    on_page: Callable[[str, int], None] | None = None,
) -> ExportResult:
    viewer = (await client.execute(viewer_query(), label="Viewer")).raise_for_errors("viewer")
    # Normalized page by page: the raw answers are not all held at once.
    builder = RemoteStateBuilder()
    await read_kinds(client, [kind(n) for n in kind_names], on_page, builder.add)
    state = builder.state()
    state.portal_name = viewer["viewer"]["portalName"]
    return render_export(state, kind_names, endpoint_name)


def parse_target(value: str) -> tuple[Kind, str]:
    """``KIND/KEY`` of ``export --target``."""
    kind_name, _, key = value.partition("/")
    names = [k.name for k in TOP_LEVEL_KINDS]
    if kind_name not in names or not key:
        raise UsageError(
            f"--target {value!r}: give KIND/KEY, KIND one of {', '.join(names)} "
            "(a location comes with its account)"
        )
    k = kind(kind_name)
    return k, key.lower() if k.field_map[k.key_field].lowercase else key


async def export_object(client: PortalClient, target: str) -> ExportResult:
    """One object's YAML (``export --target KIND/KEY``), fetched by its key."""
    k, key = parse_target(target)
    operation = k.get_operation
    document = aliased_document(k, operation, 1)
    response = await client.execute(document, {"id_0": None, "key_0": key}, label=operation)
    node = response.raise_for_errors(f"reading {k.singular} {key!r}").get("m0")
    if node is None:
        raise NotFoundError(f"--target {target!r}: the portal has no {k.singular} {key!r}")
    state = normalize_nodes({k.name: [node]})
    result = ExportResult(files={})
    entries = [
        _entry(k, obj, _locations_by_account(state), result.warnings)
        for obj in state.get(k.name).objects.values()
    ]
    result.files[f"{k.name}.yaml"] = _dump({k.name: entries})
    result.counts[k.name] = len(entries)
    return result


def render_export(state: RemoteState, kind_names: list[str], endpoint_name: str) -> ExportResult:
    result = ExportResult(files={})
    header = {"konvsync": 1, "endpoint": endpoint_name, "portal": state.portal_name}
    result.files["konvsync.yaml"] = _dump(header)
    locations = _locations_by_account(state)
    for k in KINDS:
        if k.name not in kind_names:
            continue
        remote_kind = state.get(k.name)
        entries = [
            _entry(k, obj, locations, result.warnings)
            for _key, obj in sorted(remote_kind.objects.items())
        ]
        comments = [
            _keyless_comment(k, obj, result.warnings)
            for obj in sorted(remote_kind.keyless, key=lambda o: str(o.data.get("name")))
        ]
        result.counts[k.name] = len(entries)
        text = _dump_list(k.name, entries)
        if comments:
            text += "".join(comments)
        result.files[f"{k.name}.yaml"] = text
    return result


def _locations_by_account(state: RemoteState) -> dict[str | None, list[RemoteObject]]:
    """Each account's locations, sorted by key: one pass instead of one scan
    of every location per account."""
    index: dict[str | None, list[RemoteObject]] = {}
    for _key, loc in sorted(state.get("locations").objects.items()):
        index.setdefault(loc.data.get("account"), []).append(loc)
    return index


def _entry(
    k: Kind,
    obj: RemoteObject,
    locations_of: dict[str | None, list[RemoteObject]],
    warnings: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in k.fields:
        value = obj.data.get(f.name)
        if f.name == k.key_field:
            out[f.name] = obj.written_key or value
            continue
        if value in _EMPTY or _DEFAULTS.get(f.name, object()) == value:
            continue
        if f.ref is not None:
            value = _known_refs(k, obj, f.name, value, warnings)
            if value in _EMPTY:
                continue
        out[f.name] = value
    if k.name == "accounts":
        locations = [_location(loc) for loc in locations_of.get(obj.key, ())]
        if locations:
            out["locations"] = locations
    return out


def _location(loc: RemoteObject) -> dict[str, Any]:
    return {
        name: value for name, value in loc.data.items() if name != "account" and value not in _EMPTY
    }


def _known_refs(k: Kind, obj: RemoteObject, name: str, value: Any, warnings: list[str]) -> Any:
    target = kind(k.field_map[name].ref or "")

    def known(ref: str) -> bool:
        if ref.startswith("<id "):
            warnings.append(
                f"{k.singular} {obj.key}: {name} refers to {target.singular} "
                f"{ref[4:-1]}, which has no natural key; left out of the export"
            )
            return False
        return True

    if isinstance(value, list):
        return [ref for ref in value if known(ref)]
    return value if known(value) else None


def _keyless_comment(k: Kind, obj: RemoteObject, warnings: list[str]) -> str:
    name = obj.data.get("name")
    warnings.append(
        f"{k.singular} {obj.id} ({name!r}) has no {k.key_field}: written as a "
        f"comment in {k.name}.yaml. To manage it, uncomment it and give it an "
        f"{k.key_field}; konvsync then adopts it by name instead of creating another"
    )
    body = {
        name_: value
        for name_, value in obj.data.items()
        if value not in _EMPTY and name_ != k.key_field
    }
    lines = [f"# {k.singular} {obj.id} has no {k.key_field}; to adopt it, add it above with one:"]
    dumped = _dump([{k.key_field: "CHOOSE-A-KEY", **body}])
    lines += [f"# {line}" for line in dumped.splitlines()]
    return "\n".join(lines) + "\n"


_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_CHUNK = 1000
"""Entries represented at a time: PyYAML builds a node per value before it
emits, so a whole kind at once would hold a node graph of the portal."""


def _dump_list(name: str, entries: list[dict[str, Any]]) -> str:
    """``_dump({name: entries})``, built chunk by chunk (block sequences
    concatenate)."""
    if not entries:
        return _dump({name: entries})
    parts = [f"{name}:\n"]
    parts += [_dump(entries[i : i + _CHUNK]) for i in range(0, len(entries), _CHUNK)]
    return "".join(parts)


def _dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=120,
    )
