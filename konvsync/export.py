"""``konvsync export``: the portal's current state as konvsync YAML.

Objects are sorted by natural key, references are keys, server-only fields
and fields at their default are left out, and the output is stable (a
second export is byte-identical). Objects without a natural key cannot be
managed by key, and objects holding values konvsync would reject (an e-mail
with a space) cannot be applied: both are written as comments with a warning.
Every ``${`` in portal text is written as ``$${``, so applying an export never
substitutes a variable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from konvsync.api.client import PortalClient
from konvsync.api.documents import viewer_query
from konvsync.api.pagination import read_kinds
from konvsync.config.substitution import escape
from konvsync.errors import UsageError
from konvsync.kinds import KINDS, TOP_LEVEL_KINDS, kind
from konvsync.kinds.base import Kind
from konvsync.plan.remote import RemoteObject, RemoteState, normalize_nodes
from konvsync.redact import printable

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
    nodes = await read_kinds(client, [kind(n) for n in kind_names], on_page)
    state = normalize_nodes(nodes)
    state.portal_name = viewer["viewer"]["portalName"]
    return render_export(state, kind_names, endpoint_name)


def render_export(state: RemoteState, kind_names: list[str], endpoint_name: str) -> ExportResult:
    result = ExportResult(files={})
    header = {"konvsync": 1, "endpoint": endpoint_name, "portal": state.portal_name}
    result.files["konvsync.yaml"] = _dump(header)
    rejected: dict[str, set[str]] = {}
    for k in KINDS:
        if k.name not in kind_names:
            continue
        remote_kind = state.get(k.name)
        entries: list[dict[str, Any]] = []
        comments: list[str] = []
        for key, obj in sorted(remote_kind.objects.items()):
            entry = _entry(k, obj, state, result.warnings, rejected)
            problem = _schema_problem(k, entry)
            if problem is None:
                entries.append(entry)
                continue
            rejected.setdefault(k.name, set()).add(key)
            comments.append(_rejected_comment(k, obj, entry, problem, result.warnings))
        comments += [
            _keyless_comment(k, obj, result.warnings)
            for obj in sorted(remote_kind.keyless, key=lambda o: str(o.data.get("name")))
        ]
        result.counts[k.name] = len(entries)
        text = _dump({k.name: entries})
        if comments:
            text += "".join(comments)
        result.files[f"{k.name}.yaml"] = text
    result.warnings = [printable(warning) for warning in result.warnings]  # portal text
    return result


def _schema_problem(k: Kind, entry: dict[str, Any]) -> str | None:
    """Why konvsync would reject ``entry`` (the config schema's words), or None."""
    from konvsync.config.documents import schema_problem

    problem = schema_problem({k.name: [entry]})
    return None if problem is None else problem.replace(f"data.{k.name}[0]", k.singular, 1)


def _rejected_comment(
    k: Kind, obj: RemoteObject, entry: dict[str, Any], problem: str, warnings: list[str]
) -> str:
    warnings.append(
        f"{k.singular} {obj.key!r} holds a value konvsync would reject ({problem}): written "
        f"as a comment in {k.name}.yaml. Correct it in the portal, or uncomment and correct it "
        "in the YAML, to manage it"
    )
    lines = [f"# {k.singular} {obj.key!r} is not valid konvsync YAML as it is ({problem}):"]
    lines += [f"# {line}" for line in _dump([entry]).splitlines()]
    return "\n".join(lines) + "\n"


def _entry(
    k: Kind,
    obj: RemoteObject,
    state: RemoteState,
    warnings: list[str],
    rejected: dict[str, set[str]] | None = None,
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
            value = _known_refs(k, obj, f.name, value, warnings, rejected or {})
            if value in _EMPTY:
                continue
        out[f.name] = value
    fields = out.get("customFields")
    if isinstance(fields, dict) and rejected and rejected.get("accountFields"):
        left_out = sorted(rejected["accountFields"] & set(fields))
        for field_key in left_out:
            warnings.append(
                f"{k.singular} {obj.key!r}: account field {field_key!r} is written as a "
                "comment; its value is left out of the export"
            )
        kept = {name: value for name, value in fields.items() if name not in left_out}
        if kept:
            out["customFields"] = kept
        else:
            del out["customFields"]
    if k.name == "accounts":
        locations = [
            _location(loc)
            for key, loc in sorted(state.get("locations").objects.items())
            if loc.data.get("account") == obj.key
        ]
        if locations:
            out["locations"] = locations
    return out


def _location(loc: RemoteObject) -> dict[str, Any]:
    return {
        name: value for name, value in loc.data.items() if name != "account" and value not in _EMPTY
    }


def _known_refs(
    k: Kind,
    obj: RemoteObject,
    name: str,
    value: Any,
    warnings: list[str],
    rejected: dict[str, set[str]],
) -> Any:
    target = kind(k.field_map[name].ref or "")

    def known(ref: str) -> bool:
        if ref.startswith("<id "):
            warnings.append(
                f"{k.singular} {obj.key}: {name} refers to {target.singular} "
                f"{ref[4:-1]}, which has no natural key; left out of the export"
            )
            return False
        if ref in rejected.get(target.name, ()):
            warnings.append(
                f"{k.singular} {obj.key!r}: {name} refers to {target.singular} {ref!r}, "
                "which is written as a comment; left out of the export"
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


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Strings with characters that are not printable (controls, NEL, line
    separators) double-quoted, where YAML escapes them: PyYAML's other styles
    can let a NEL fold into a space when the file is read back."""
    style = None if value.isprintable() else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _escaped(value: Any) -> Any:
    """``value`` with every ``${`` in its strings written as ``$${``."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def _dump(data: Any) -> str:
    return yaml.dump(
        _escaped(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=120,
    )
