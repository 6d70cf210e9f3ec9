"""Every document konvsync sends (plan, apply, drift, export), built from
models of its operations that ``python -m konvsync.cli.generate`` writes
into ``operations.json`` from the kinds' ``.graphql`` files, the viewer
query and the contract.

An operation's model is what a document needs and nothing more: query or
mutation, its variables, its one root field with the variables it passes,
and the shape of that field's answer (``answers.Shape``: for each object,
the fields selected in order with their types, fragments spread out). The
shape *is* the selection set, so one structure gives the text, a variant
selecting fewer fields (``Selection``) and the answer's checker.

This lets every command run without graphql-core: importing it takes 55-60
ms, and building the contract's schema and parsing the documents 15 ms
more, at every run (python -X importtime; py-spy put 12 % of a cold apply's
CPU in graphql-core frames). Measured with benchmarks/sync_bench.py -n
10000 --repeat 1 --json --no-baseline (sandbox in another process, 20 ms),
15 pairs alternating (either first) with the code that built apply's
documents and checkers with graphql-core, on a shared 2-core machine (load
average 0.4-3): cold apply 124.0 -> 119.3 µs of konvsync's CPU per object
(median of the pairs' differences -6.1; lower in 12 pairs of 15), 10 %
change apply 87.9 -> 85.3 (-3.0; 11 of 15); plan, drift and export, whose
reads were generated before, unchanged (-1.2, +0.4, +0.2). Apply's input
check (``apply.checks.check_inputs``) imports graphql-core only for a portal
whose schema differs from the contract where it sends (``api.schema_facts``).

The file keeps the digest of its sources: when they differ (a document or
the contract edited without regenerating), every model is made from the
sources with graphql-core (``api.documents.kind_models``), so what is
sent always fits them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from konvsync.kinds import KINDS, children_of
from konvsync.kinds.base import Kind
from konvsync.support.files import read_generated
from konvsync.support.resources import konvert_sdl

Shape = list[Any]
"""An answer's shape (``answers.Shape``)."""

Selection = tuple[tuple[str, frozenset[str]], ...]
"""For a query that selects only some fields of its objects: (kind name,
field names) for the kind read and, when wanted, its child kind (an
account's locations). The ID and the natural key are always selected; a
child kind not named is left out."""

HERE = Path(__file__).resolve().parent
FILE = HERE / "operations.json"
VIEWER = HERE / "viewer.graphql"
VIEWER_OPERATION = "Viewer"


@dataclass(frozen=True, eq=False)
class OperationModel:
    """One operation of one root field, as ``operations.json`` holds it."""

    operation: str
    """``query`` or ``mutation``."""
    name: str
    variables: tuple[tuple[str, str], ...]
    """(name, type as written: ``UserInput!``), in order."""
    field: str
    """The root field (``createUser``, ``users``): where the answer is."""
    arguments: tuple[tuple[str, str], ...]
    """(argument, variable passed to it), in order."""
    shape: Shape
    """The root field's answer."""

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "variables": [list(v) for v in self.variables],
            "field": self.field,
            "arguments": [list(a) for a in self.arguments],
            "shape": self.shape,
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> OperationModel:
        return cls(
            operation=data["operation"],
            name=name,
            variables=tuple((n, t) for n, t in data["variables"]),
            field=data["field"],
            arguments=tuple((a, v) for a, v in data["arguments"]),
            shape=data["shape"],
        )


@dataclass(frozen=True, eq=False)
class Document:
    """A document's text with what its answer must be: ``count`` aliased
    copies (``m0`` ...) of ``model``'s field, or the field itself (None)."""

    text: str
    model: OperationModel
    """Its operation; with a ``Selection``, with the restricted shape."""
    count: int | None = None

    @property
    def operation(self) -> str:
        return self.model.operation

    @property
    def field(self) -> str:
        return self.model.field

    @property
    def keys(self) -> tuple[str, ...]:
        """The response keys of its root selection."""
        if self.count is None:
            return (self.model.field,)
        return tuple(f"m{index}" for index in range(self.count))


def has_operation(kind: Kind, name: str) -> bool:
    return name in _kind_models(kind)


def mutation_operations(kind: Kind) -> list[str]:
    """The create, update and delete operations ``kind``'s document has."""
    return [
        name
        for name in (kind.create_operation, kind.update_operation, kind.delete_operation)
        if has_operation(kind, name)
    ]


def operation_model(kind: Kind, operation: str) -> OperationModel:
    models = _kind_models(kind)
    if operation not in models:
        raise KeyError(f"{kind.operations_file} has no operation {operation}")
    return models[operation]


@cache
def operation_document(
    kind: Kind, operation: str, count: int | None = None, selection: Selection | None = None
) -> Document:
    """``kind``'s ``operation`` as a document; with ``count``, as that many
    aliased copies of its field (``m0: createUser(input: $input_0)``, one
    operation ``CreateUserBatch``); with ``selection``, only those fields of
    its objects (``Selection``). Cached per shape."""
    model = _selected_model(kind, operation, selection)
    return Document(printed(model, count), model, count)


@cache
def _selected_model(kind: Kind, operation: str, selection: Selection | None) -> OperationModel:
    """One model per selection, so that the documents of every batch size
    share its answer's checker (``answers.check_field``)."""
    model = operation_model(kind, operation)
    return model if selection is None else _selecting(kind, model, dict(selection))


def read_document(kind: Kind, selection: Selection | None = None) -> Document:
    """``kind``'s read query (with ``selection``: only those fields)."""
    return operation_document(kind, kind.read_operation, None, selection)


@cache
def viewer_document() -> Document:
    model = _viewer_model()
    return Document(printed(model), model)


@cache
def viewer_query() -> str:
    """The viewer query as written in its file."""
    return VIEWER.read_text(encoding="utf-8")


def printed(model: OperationModel, count: int | None = None) -> str:
    """The text of ``model`` (``count``: as ``operation_document``), in graphql-core's
    printed layout. The aliased copies of a field that selects an object
    spread one fragment of that selection (``...CreateUserSelection``), as
    the kinds' documents do, so that a batch of 50 is not 50 selections for
    the portal to read; other fragments are spread out."""
    copies = (
        [(model.field, "")]
        if count is None
        else [(f"m{i}: {model.field}", f"_{i}") for i in range(count)]
    )
    variables = [
        f"${name}{suffix}: {type_}" for _, suffix in copies for name, type_ in model.variables
    ]
    name = model.name if count is None else f"{model.name}Batch"
    head = f"{model.operation} {name}" + (f"({', '.join(variables)})" if variables else "")
    selected = _object(model.shape)
    fragment = f"{model.name}Selection" if count is not None and selected is not None else None
    lines = [head + " {"]
    for field, suffix in copies:
        arguments = ", ".join(f"{a}: ${v}{suffix}" for a, v in model.arguments)
        lines.append(f"  {field}" + (f"({arguments})" if arguments else ""))
        if fragment is not None:
            lines += [lines.pop() + " {", f"    ...{fragment}", "  }"]
        else:
            _print_selection(model.shape, "  ", lines)
    lines.append("}")
    if fragment is not None and selected is not None:
        lines += ["", f"fragment {fragment} on {selected[1]}"]
        _print_selection(selected, "", lines)
    return "\n".join(lines) + "\n"


def _print_selection(shape: Shape, indent: str, lines: list[str]) -> None:
    """Close the field just written in ``lines`` with its selection set."""
    fields = _object(shape)
    if fields is None:
        return
    lines[-1] += " {"
    for key, inner in fields[2]:
        lines.append(f"{indent}  {key}")
        _print_selection(inner, indent + "  ", lines)
    lines.append(f"{indent}}}")


def _object(shape: Shape) -> Shape | None:
    """The object shape inside ``shape``'s non-null and list wrappers."""
    while shape[0] in ("non_null", "list"):
        shape = shape[2]
    return shape if shape[0] == "object" else None


def _rewrapped(shape: Shape, inner: Shape) -> Shape:
    """``shape`` with the object inside its wrappers replaced by ``inner``."""
    if shape[0] in ("non_null", "list"):
        return [shape[0], shape[1], _rewrapped(shape[2], inner)]
    return inner


def _selecting(
    kind: Kind, model: OperationModel, keep: dict[str, frozenset[str]]
) -> OperationModel:
    """``model`` selecting only what ``keep`` names of its objects: those of
    a connection's ``nodes`` (a read), or the root field's own (a get)."""
    if model.name != kind.read_operation:
        return replace(model, shape=_object_fields(kind, model.shape, keep))
    connection = _object(model.shape)
    assert connection is not None, f"{model.name} selects no object"
    fields = [
        [key, _object_fields(kind, inner, keep) if key == "nodes" else inner]
        for key, inner in connection[2]
    ]
    return replace(model, shape=_rewrapped(model.shape, ["object", connection[1], fields]))


def _object_fields(kind: Kind, shape: Shape, keep: dict[str, frozenset[str]]) -> Shape:
    """``shape`` (an object in its wrappers) with the fields ``keep`` asks of
    ``kind``: the ID and natural key always, child kinds only when named."""
    names = {"id", kind.key_field, *keep.get(kind.name, ())}
    children = {c.name: c for c in children_of(kind.name)}
    found = _object(shape)
    assert found is not None
    fields: list[list[Any]] = []
    for key, inner in found[2]:
        child = children.get(key)
        if child is not None:
            if child.name in keep and _object(inner) is not None:
                fields.append([key, _object_fields(child, inner, keep)])
        elif key in names:
            fields.append([key, inner])
    return _rewrapped(shape, ["object", found[1], fields])


@cache
def _kind_models(kind: Kind) -> dict[str, OperationModel]:
    known = _generated().get("kinds", {}).get(kind.name)
    if known is not None:
        return {name: OperationModel.from_json(name, data) for name, data in known.items()}
    # graphql-core: only when the generated models do not fit (see above)
    from konvsync.api.documents import kind_models

    return kind_models(kind)


def _viewer_model() -> OperationModel:
    known = _generated().get("viewer")
    if known is not None:
        return OperationModel.from_json(VIEWER_OPERATION, known)
    from konvsync.api.documents import viewer_model  # graphql-core, as in _kind_models

    return viewer_model()


@cache
def _generated() -> dict[str, Any]:
    return fitting(read_generated(FILE))


def fitting(generated: dict[str, Any]) -> dict[str, Any]:
    """``generated`` if it was made from the sources in use, else nothing."""
    return generated if generated.get("sources") == sources_digest(KINDS) else {}


def documented_kinds(kinds: Sequence[Kind]) -> list[Kind]:
    """The kinds whose document is in the package (a kind a test declares
    has none)."""
    documents = HERE.parent / "kinds"
    return [k for k in kinds if (documents / k.operations_file).exists()]


def sources_digest(kinds: Sequence[Kind], contract: str | None = None) -> str:
    """A digest of the contract (``schemas/konvert.graphql`` by default),
    the viewer query and the kinds' documents."""
    digest = hashlib.sha256()
    documents = [k.document_text for k in documented_kinds(kinds)]
    texts = (contract or konvert_sdl(), viewer_query(), *documents)
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()
