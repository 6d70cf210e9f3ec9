"""The GraphQL documents konvsync sends. Every one lives in a ``.graphql``
file in the package (kinds' operations beside their modules, ``api/*.graphql``
for the rest); batches are built from them by aliasing, never by hand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    parse,
    print_ast,
)

from konvsync.kinds import children_of
from konvsync.kinds.base import Kind

_PACKAGE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Operation:
    file: str
    name: str
    text: str
    """The operation with the fragments it uses: a document on its own."""


def package_documents() -> list[Path]:
    return sorted(_PACKAGE.rglob("*.graphql"))


def package_operations() -> list[Operation]:
    """Every operation of every document konvsync sends."""
    out = []
    for path in package_documents():
        document = parse(path.read_text(encoding="utf-8"))
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                text = print_ast(
                    DocumentNode(definitions=(definition, *fragments_used(document, definition)))
                )
                out.append(Operation(str(path.relative_to(_PACKAGE)), definition.name.value, text))
    return out


Selection = tuple[tuple[str, frozenset[str]], ...]
"""For a query that selects only some fields of its objects: (kind name,
field names) for the kind read and, when wanted, its child kind (an
account's locations). The ID and the natural key are always selected; a
child kind not named is left out."""


@cache
def operation_text(kind: Kind, operation: str, selection: Selection | None = None) -> str:
    """One operation of a kind with the fragments it uses, as a document;
    with ``selection``, only those fields of its objects (fragments inlined)."""
    op = kind.operation(operation)
    if selection is not None:
        op = _selecting(kind, op, dict(selection))
    return print_ast(DocumentNode(definitions=(op, *fragments_used(kind.document, op))))


def root_field(kind: Kind, operation: str) -> str:
    """The root field of ``kind``'s ``operation`` (``createGroup``, ``users``):
    where its answer is."""
    selection = kind.operation(operation).selection_set.selections[0]
    assert isinstance(selection, FieldNode)
    return selection.name.value


@cache
def aliased_document(
    kind: Kind, operation: str, count: int, selection: Selection | None = None
) -> str:
    """The text of one document (a mutation, or a query such as ``GetUser``)
    holding ``count`` aliased copies of ``operation``'s single field; cached
    per shape. ``selection``: as for ``operation_text``."""
    op = kind.operation(operation)
    if selection is not None:
        op = _selecting(kind, op, dict(selection))
    field = op.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    definitions: list[VariableDefinitionNode] = []
    fields: list[FieldNode] = []
    for index in range(count):
        for definition in op.variable_definitions or ():
            definitions.append(
                VariableDefinitionNode(
                    variable=_variable(definition.variable, index),
                    type=definition.type,
                    default_value=definition.default_value,
                    directives=(),
                )
            )
        arguments = tuple(
            ArgumentNode(
                name=a.name,
                value=_variable(a.value, index) if isinstance(a.value, VariableNode) else a.value,
            )
            for a in field.arguments or ()
        )
        fields.append(
            FieldNode(
                alias=NameNode(value=f"m{index}"),
                name=field.name,
                arguments=arguments,
                directives=(),
                selection_set=field.selection_set,
            )
        )
    operation_node = OperationDefinitionNode(
        operation=op.operation,
        name=NameNode(value=f"{operation}Batch"),
        variable_definitions=tuple(definitions),
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(fields)),
    )
    fragments = fragments_used(kind.document, field)
    return print_ast(DocumentNode(definitions=(operation_node, *fragments)))


def _selecting(
    kind: Kind, op: OperationDefinitionNode, keep: dict[str, frozenset[str]]
) -> OperationDefinitionNode:
    """``op`` selecting only what ``keep`` names of its objects: those of a
    connection's ``nodes`` (a read), or the root field's own (a get)."""
    root = op.selection_set.selections[0]
    assert isinstance(root, FieldNode) and root.selection_set is not None
    if op.name is not None and op.name.value == kind.read_operation:
        selections = tuple(
            _with_selection(s, _object_fields(kind, s.selection_set, keep))
            if isinstance(s, FieldNode) and s.name.value == "nodes" and s.selection_set
            else s
            for s in root.selection_set.selections
        )
        inner = SelectionSetNode(selections=selections)
    else:
        inner = _object_fields(kind, root.selection_set, keep)
    return OperationDefinitionNode(
        operation=op.operation,
        name=op.name,
        variable_definitions=op.variable_definitions,
        directives=op.directives,
        selection_set=SelectionSetNode(selections=(_with_selection(root, inner),)),
    )


def _object_fields(
    kind: Kind, selection_set: SelectionSetNode, keep: dict[str, frozenset[str]]
) -> SelectionSetNode:
    names = {"id", kind.key_field, *keep.get(kind.name, ())}
    children = {c.name: c for c in children_of(kind.name)}
    out: list[FieldNode] = []
    for field in inlined_fields(selection_set, fragment_definitions(kind.document)):
        name = field.name.value
        child = children.get(name)
        if child is not None:
            if child.name in keep and field.selection_set is not None:
                out.append(_with_selection(field, _object_fields(child, field.selection_set, keep)))
        elif name in names:
            out.append(field)
    return SelectionSetNode(selections=tuple(out))


def fragment_definitions(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """``document``'s fragments by name."""
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def inlined_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields of ``selection_set``, in order, with its fragments (inline,
    or spread from ``fragments``) spread out."""
    out: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, FragmentSpreadNode):
            out.extend(inlined_fields(fragments[selection.name.value].selection_set, fragments))
        elif isinstance(selection, InlineFragmentNode):
            out.extend(inlined_fields(selection.selection_set, fragments))
    return out


def _with_selection(field: FieldNode, selection_set: SelectionSetNode) -> FieldNode:
    return FieldNode(
        alias=field.alias,
        name=field.name,
        arguments=field.arguments,
        directives=field.directives,
        selection_set=selection_set,
    )


def _variable(node: VariableNode, index: int) -> VariableNode:
    return VariableNode(name=NameNode(value=f"{node.name.value}_{index}"))


def fragments_used(document: DocumentNode, root: Node) -> list[FragmentDefinitionNode]:
    """Fragment definitions that ``root`` spreads, transitively."""
    available = fragment_definitions(document)
    needed: dict[str, FragmentDefinitionNode] = {}
    pending: list[Node] = [root]
    while pending:
        node = pending.pop()
        selection_set = getattr(node, "selection_set", None)
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in needed:
                    needed[name] = available[name]
                    pending.append(available[name])
            else:
                pending.append(selection)
    return list(needed.values())
