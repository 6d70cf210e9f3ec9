"""``konvsync export``: the portal's current state as konvsync YAML.

Objects are sorted by natural key, references are keys, server-only fields
are comments, sensitive values are ``${env:...}`` placeholders, fields at
their default are left out, and the output is stable (a
second export is byte-identical). Objects without a natural key cannot be
managed by key, and objects holding values konvsync would reject (an e-mail
with a space) cannot be applied: both are written as comments with a warning.
So are objects konvsync cannot tell apart (``RemoteKind.twins``: two invite
links with one title); a parent holding such children (an account with two
locations named HQ) is written without its list of them, which leaves them
all alone, with a warning.
Every ``${`` in portal text is written as ``$${``, so applying an export never
substitutes a variable.

The YAML text is made by ``config.yaml_dump``; export time grows linearly with
the portal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from konvsync.api.client import PortalClient
from konvsync.api.operations import has_operation, operation_document, viewer_document
from konvsync.api.pagination import read_all, read_kinds
from konvsync.config.documents import item_problem
from konvsync.config.rules import unfit_problem
from konvsync.config.scope import NO_SCOPE, Scope
from konvsync.config.yaml_dump import EnvReference
from konvsync.config.yaml_dump import dump as _dump
from konvsync.config.yaml_dump import dump_list as _dump_list
from konvsync.errors import NotFoundError
from konvsync.export.targets import parse_target
from konvsync.kinds import KINDS, children_of, kind
from konvsync.kinds.address import RemoteRef
from konvsync.kinds.base import Field, Kind, normalize_text, value_text
from konvsync.plan.remote import (
    RemoteObject,
    RemoteScope,
    RemoteState,
    RemoteStateBuilder,
    normalize_nodes,
)
from konvsync.plan.value_types import in_portal_types, typed_kinds, typing_kinds
from konvsync.support.redact import printable, redact_echo
from konvsync.support.resources import PUBLISHED_SCHEMAS, config_schema

_EMPTY: tuple[Any, ...] = (None, [], {})
SCHEMA_HINT = f"# yaml-language-server: $schema={PUBLISHED_SCHEMAS}konvsync.schema.json\n"
"""The first line of every file export writes: editors that read it (VS Code's
YAML extension, yaml-language-server) check the file against the schema."""


@dataclass
class ExportResult:
    files: dict[str, str]
    """File name -> YAML text, in write order (``konvsync.yaml`` first)."""
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def single_document(self) -> str:
        """Everything as one YAML document (for stdout), with one schema hint."""
        texts = [text.removeprefix(SCHEMA_HINT) for text in self.files.values()]
        hint = SCHEMA_HINT if any(t.startswith(SCHEMA_HINT) for t in self.files.values()) else ""
        return hint + "".join(texts)


async def read_portal(
    client: PortalClient,
    kind_names: list[str],
    on_page: Callable[[str, int], None] | None = None,
    scope: Scope = NO_SCOPE,
) -> RemoteState:
    """What ``render_export`` writes: the portal's name and ``kind_names``
    read whole (with ``scope``: what is outside it set apart)."""
    viewer = (await client.execute(viewer_document(), label="Viewer")).raise_for_errors("viewer")
    # Normalized page by page: the raw answers are not all held at once. The
    # kinds are read whole with a scope too (the contract has no filter);
    # what is outside it is set apart as the pages arrive.
    builder = RemoteStateBuilder(scope=RemoteScope(scope) if scope else None)
    # With the kinds that type the values they hold (accounts' fields), not written.
    read = [*kind_names, *typing_kinds(kind_names)]
    await read_kinds(client, [kind(n) for n in read], on_page, builder.add)
    state = builder.state()
    state.portal_name = viewer["viewer"]["portalName"]
    return state


async def export_object(client: PortalClient, target: str) -> ExportResult:
    """One object's YAML (``export --target KIND/KEY``), fetched by its key
    (read with its whole kind where the API has no query by key)."""
    k, key = parse_target(target)
    if has_operation(k, k.get_operation):
        response = await client.execute(
            operation_document(k, k.get_operation, 1),
            {"key_0": key},  # the key alone: an ID given as null is an argument too
            label=k.get_operation,
        )
        node = response.found(f"reading {k.singular} {key!r}").get("m0")
        nodes = [node] if node is not None else []
    else:
        nodes = await read_all(client, k)
    read = {k.name: nodes}
    for f in k.fields:  # the types of the values it files under their keys
        if nodes and f.keys_ref in typed_kinds():
            read[f.keys_ref] = await read_all(client, kind(f.keys_ref))
    state = in_portal_types(normalize_nodes(read))
    obj = state.get(k.name).objects.get(key)
    if obj is None:
        raise NotFoundError(f"--target {target!r}: the portal has no {k.singular} {key!r}")
    result = ExportResult(files={})
    placeholders = Placeholders()
    entry = placeholders.fill(k, obj, object_entry(k, obj, state, result.warnings))
    result.files[f"{k.name}.yaml"] = _dump({k.name: [entry]})
    result.warnings += [
        f"sensitive values are not exported: ${{env:{name}}} stands for the "
        f"{placeholders.names[name]}; list {name} under 'variables' and set it to the "
        "portal's value before planning"
        for name in sorted(placeholders.names)
    ]
    result.counts[k.name] = 1
    result.warnings = [printable(warning) for warning in result.warnings]
    return result


def render_export(
    state: RemoteState, kind_names: list[str], endpoint_name: str, scope: Scope = NO_SCOPE
) -> ExportResult:
    state = in_portal_types(state)  # the config's true/false, YYYY-MM-DD
    result = ExportResult(files={})
    header: dict[str, Any] = {
        "konvsync": 1,
        "endpoint": endpoint_name,
        "portal": state.portal_name,
    }
    if scope:
        header["policy"] = {"scope": scope.to_config()}
    result.files["konvsync.yaml"] = ""
    placeholders = Placeholders()
    rejected: dict[str, set[str]] = {}
    children = _children_by_parent(state)
    written: dict[str, list[dict[str, Any]]] = {}
    for k in KINDS:
        if k.name not in kind_names:
            continue
        remote_kind = state.get(k.name)
        objects: list[RemoteObject] = []
        entries: list[dict[str, Any]] = []
        comments: list[str] = []
        for _key, obj in sorted(remote_kind.objects.items()):
            entry = placeholders.fill(k, obj, _entry(k, obj, children, result.warnings, rejected))
            problem = item_problem(k.name, entry) or _unfit(k, entry, state)
            if problem is None:
                objects.append(obj)
                entries.append(entry)
                continue
            rejected.setdefault(k.name, set()).add(obj.key or "")
            comments.append(_rejected_comment(k, obj, entry, problem, result.warnings))
        result.counts[k.name] = len(entries)
        written[k.name] = entries
        comments += [
            _keyless_comment(k, obj, result.warnings)
            for obj in sorted(remote_kind.keyless, key=lambda o: str(o.data.get("name")))
        ]
        if k.parent is None:
            comments += [
                _twins_comment(k, twins, result.warnings)
                for _key, twins in sorted(remote_kind.twins.items())
            ]
        if any(f.server_only or f.sensitive for f in k.fields):
            text = _annotated(k, objects, entries, placeholders)
        else:
            text = _dump_list(k.name, entries)
        result.files[f"{k.name}.yaml"] = text + "".join(comments)
    result.files["konvsync.yaml"] = _header(header, placeholders, result.warnings)
    result.files = {name: SCHEMA_HINT + text for name, text in result.files.items()}
    result.warnings += _references_left_out(written)
    result.warnings = [printable(warning) for warning in result.warnings]  # portal text
    return result


def _references_left_out(written: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A warning when what was exported refers to kinds the export leaves
    out (``--kinds users``): ``plan`` finds them in the portal, an offline
    ``validate`` cannot."""
    referring: set[str] = set()
    targets: set[str] = set()
    for name, entries in written.items():
        k = kind(name)
        for f in k.references:
            target = kind(f.ref or "")
            if target.name in written or target.reference or f is k.parent_field:
                continue
            if any(entry.get(f.name) for entry in entries):
                referring.add(name)
                targets.add(target.name)
    if not targets:
        return []
    return [
        f"the exported {_and(referring)} refer to {_and(targets)}, which this export leaves "
        "out: validate it with --allow-external-refs (plan checks them against the portal), "
        "or export those kinds too"
    ]


def _and(names: set[str]) -> str:
    ordered = sorted(names)
    return ", ".join(ordered[:-1]) + (" and " if len(ordered) > 1 else "") + ordered[-1]


class Placeholders:
    """``${env:INVITE_CODE_1}`` in place of each sensitive value: export
    never writes one. Numbered in the export's (sorted) order, so a second
    export is identical."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        """Variable -> what it stands for (``code of invite link 'X'``)."""
        self.by_object: dict[tuple[str, str], dict[str, str]] = {}

    def fill(self, k: Kind, obj: RemoteObject, entry: dict[str, Any]) -> dict[str, Any]:
        for f in k.fields:
            if not f.sensitive or f.name not in entry:
                continue
            stem = f"{k.singular.split()[0]}_{f.name}".upper()
            count = sum(1 for name in self.names if name.rsplit("_", 1)[0] == stem)
            variable = f"{stem}_{count + 1}"
            self.names[variable] = f"{f.name} of {k.singular} {obj.key!r}"
            self.by_object.setdefault((k.name, obj.key or ""), {})[f.name] = variable
            entry[f.name] = EnvReference(f"${{env:{variable}}}")
        return entry


def _header(header: dict[str, Any], placeholders: Placeholders, warnings: list[str]) -> str:
    if not placeholders.names:
        return _dump(header)
    names = sorted(placeholders.names)
    warnings.append(
        f"sensitive values are not exported: set {', '.join(names)} to them before "
        "planning (see the comments in the export)"
    )
    lines = [
        "# Sensitive values are not exported: the configuration reads them from these",
        "# environment variables; set each to the portal's current value.",
        *(f"#   {name}: {placeholders.names[name]}" for name in names),
    ]
    if "variables" in config_schema().get("properties", {}):
        header["variables"] = names
    return "\n".join(lines) + "\n" + _dump(header)


def _annotated(
    k: Kind, objects: list[RemoteObject], entries: list[dict[str, Any]], placeholders: Placeholders
) -> str:
    """The kind's file with each object's server-only values as comments
    above it and a comment beside each sensitive placeholder."""
    if not entries:
        return _dump({k.name: entries})
    out = [f"{k.name}:"]
    for obj, entry in zip(objects, entries, strict=True):
        for name, value in obj.server.items():
            if value is not None:
                # The portal's text: it may echo a code (a URL that fills it in).
                shown = printable(redact_echo(value_text(value)))
                out.append(f"  # {name}: {shown} (set by the portal)")
        variables = placeholders.by_object.get((k.name, obj.key or ""), {})
        for line in _dump([entry]).splitlines():
            field_name = line.strip().lstrip("- ").split(":", 1)[0]
            if field_name in variables:
                line += f"  # sensitive: set {variables[field_name]}; never exported"
            out.append("  " + line)
    return "\n".join(out) + "\n"


def _unfit(k: Kind, entry: dict[str, Any], state: RemoteState) -> str | None:
    """What konvsync would reject in ``entry`` given the objects it refers
    to as the portal holds them (``unfit_problem``)."""

    def named(kind_name: str, key: str) -> dict[str, Any] | None:
        held = state.get(kind_name).objects.get(key)
        return None if held is None else held.data

    return unfit_problem(k, entry, named)


def _rejected_comment(
    k: Kind, obj: RemoteObject, entry: dict[str, Any], problem: str, warnings: list[str]
) -> str:
    warnings.append(
        f"{k.singular} {obj.key!r} holds a value konvsync would reject ({problem}): written "
        f"as a comment in {k.name}.yaml. Correct it in the portal, or uncomment and correct it "
        "in the YAML, to manage it"
    )
    return _commented(
        f"{k.singular} {obj.key!r} is not valid konvsync YAML as it is ({problem}):", entry
    )


def _commented(header: str, *entries: dict[str, Any]) -> str:
    """``header`` as a comment line, then each entry's YAML commented out."""
    lines = [f"# {header}"]
    for entry in entries:
        lines += [f"# {line}" for line in _dump([entry]).splitlines()]
    return "\n".join(lines) + "\n"


Children = dict[str, dict[str, list[RemoteObject]]]
"""Child kind -> parent's key -> its children, sorted by key."""


def _children_by_parent(state: RemoteState) -> Children:
    """Each parent's children (an account's locations), sorted by key: one
    pass instead of one scan of every child per parent. A parent holding
    children konvsync cannot tell apart is filed under ``_TWINS``."""
    index: Children = {}
    for child in (c for c in KINDS if c.parent is not None):
        by_parent = index.setdefault(child.name, {})
        twins = index.setdefault(_TWINS + child.name, {})
        for _key, obj in sorted(state.get(child.name).objects.items()):
            if obj.parent is not None:
                by_parent.setdefault(obj.parent, []).append(obj)
        for _key, same in sorted(state.get(child.name).twins.items()):
            twins.setdefault(same[0].parent or "", []).extend(same)
    return index


_TWINS = "twins of "


def object_entry(
    k: Kind, obj: RemoteObject, state: RemoteState, warnings: list[str]
) -> dict[str, Any]:
    """One object as export writes it (sensitive values as they are: the
    caller replaces them)."""
    return _entry(k, obj, _children_by_parent(state), warnings)


def _entry(
    k: Kind,
    obj: RemoteObject,
    children: Children,
    warnings: list[str],
    rejected: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in k.fields:
        value = obj.data.get(f.name)
        if f.name == k.key_field:
            # As the portal spells it (an e-mail's case), as konvsync compares it.
            out[f.name] = normalize_text(obj.written_key or "") or value
            continue
        if f is k.parent_field or value in _EMPTY:
            continue  # a child is written inside its parent
        if f.export_default is not None and value == f.export_default:
            continue
        if f.ref is not None:
            value = _known_refs(k, obj, f.name, value, warnings, rejected or {})
            if value in _EMPTY:
                continue
        out[f.name] = value
    for f in k.fields:
        if f.keys_ref is not None and rejected and rejected.get(f.keys_ref):
            _leave_out_rejected_keys(k, obj, f, out, rejected[f.keys_ref], warnings)
    for child in children_of(k.name):
        twins = children.get(_TWINS + child.name, {}).get(obj.key or "")
        if twins:
            names = sorted({str(twin.key) for twin in twins})
            warnings.append(
                f"{k.singular} {obj.key!r} holds {child.name} konvsync cannot tell apart "
                f"({', '.join(f'{name!r}' for name in names)} more than once; IDs "
                f"{', '.join(twin.id for twin in twins)}): its {child.name} are left out of "
                f"the export, so that a config made from it leaves them all alone; rename or "
                f"delete the extra ones in the portal to manage them"
            )
            continue
        listed = children.get(child.name, {}).get(obj.key or "", ())
        entries = [_entry(child, item, children, warnings) for item in listed]
        if entries:
            out[child.name] = entries
    return out


def _leave_out_rejected_keys(
    k: Kind,
    obj: RemoteObject,
    f: Field,
    out: dict[str, Any],
    rejected: set[str],
    warnings: list[str],
) -> None:
    """A map field (``customFields``) holding a value whose key names an
    object written as a comment is left out whole, with a warning for each
    such key: the map is the object's whole set, so a config that lists
    only the other values would have the plan clear that one (as a list
    holding such a reference is left out whole, ``_known_refs``)."""
    values = out.get(f.name)
    if not isinstance(values, dict):
        return
    left_out = sorted(rejected & set(values))
    definition = kind(f.keys_ref or "").singular
    for field_key in left_out:
        warnings.append(
            f"{k.singular} {obj.key!r}: {definition} {field_key!r} is written as a "
            f"comment; its {f.name} are left out of the export (a config made from it "
            "leaves them alone)"
        )
    if left_out:
        del out[f.name]


def _known_refs(
    k: Kind,
    obj: RemoteObject,
    name: str,
    value: Any,
    warnings: list[str],
    rejected: dict[str, set[str]],
) -> Any:
    """``value`` (a reference or a list of them), or None where it names an
    object export does not write: a scalar is left out, and so is a list
    whole, since a config that lists only some of its items would have the
    plan take the others away (a user's keyless group)."""
    target = kind(k.field_map[name].ref or "")
    left_out = (
        "its {name} are left out of the export (a config made from it leaves them alone)"
        if isinstance(value, list)
        else "left out of the export"
    ).format(name=name)

    def known(ref: str) -> bool:
        if isinstance(ref, RemoteRef):
            warnings.append(
                f"{k.singular} {obj.key}: {name} refers to {target.singular} "
                f"{ref.remote_id}, which has no natural key; {left_out}"
            )
            return False
        if ref in rejected.get(target.name, ()):
            warnings.append(
                f"{k.singular} {obj.key!r}: {name} refers to {target.singular} {ref!r}, "
                f"which is written as a comment; {left_out}"
            )
            return False
        return True

    if isinstance(value, list):
        unknown = [ref for ref in value if not known(ref)]  # a warning for each
        return None if unknown else value
    return value if known(value) else None


def _twins_comment(k: Kind, twins: list[RemoteObject], warnings: list[str]) -> str:
    key = twins[0].key
    ids = ", ".join(twin.id for twin in twins)
    warnings.append(
        f"the portal has {len(twins)} {k.name} with the {k.key_field} {key!r} (IDs {ids}): "
        f"konvsync cannot tell them apart, so they are written as comments in {k.name}.yaml; "
        "rename or delete all but one in the portal to manage it"
    )
    bodies = []
    for twin in twins:
        body = {name: value for name, value in twin.data.items() if value not in _EMPTY}
        body = {k.key_field: twin.written_key or key, **body}
        for f in k.fields:
            if f.sensitive and f.name in body:
                body[f.name] = "(sensitive)"
        bodies.append(body)
    header = (
        f"{len(twins)} {k.name} have the {k.key_field} {key!r}; konvsync cannot tell them apart:"
    )
    return _commented(header, *bodies)


def _keyless_comment(k: Kind, obj: RemoteObject, warnings: list[str]) -> str:
    adoptable = "name" in k.field_map  # the plan adopts a keyless object by name
    named = f" ({obj.data.get('name')!r})" if adoptable else ""
    manage = (
        f"uncomment it and give it an {k.key_field}; konvsync then adopts it by name instead "
        "of creating another"
        if adoptable
        else f"give it a {k.key_field} in the portal"
    )
    warnings.append(
        f"{k.singular} {obj.id}{named} has no {k.key_field}: written as a comment under "
        f"{k.name}; to manage it, {manage}"
    )
    body = {
        name_: "(sensitive)" if name_ in k.sensitive_names else value
        for name_, value in obj.data.items()
        if value not in _EMPTY and name_ != k.key_field
    }
    header = (
        f"{k.singular} {obj.id} has no {k.key_field}; to adopt it, add it above with one:"
        if adoptable
        else f"{k.singular} {obj.id} has no {k.key_field}; give it one in the portal to manage it:"
    )
    return _commented(header, {k.key_field: "CHOOSE-A-KEY", **body} if adoptable else body)
