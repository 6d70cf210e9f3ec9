"""The GraphQL documents konvsync sends. Every one lives in a ``.graphql``
file in the package (kinds' operations beside their modules, ``api/*.graphql``
for the rest); batches are built from them by aliasing, never by hand."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    parse,
    print_ast,
)

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


@cache
def viewer_query() -> str:
    return (Path(__file__).parent / "viewer.graphql").read_text(encoding="utf-8")


@cache
def operation_text(kind: Kind, operation: str) -> str:
    """One operation of a kind with the fragments it uses, as a document."""
    op = kind.operation(operation)
    return print_ast(DocumentNode(definitions=(op, *fragments_used(kind.document, op))))


@cache
def aliased_document(kind: Kind, operation: str, count: int) -> str:
    """The text of one document (a mutation, or a query such as ``GetUser``)
    holding ``count`` aliased copies of ``operation``'s single field; cached
    per shape."""
    op = kind.operation(operation)
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


def _variable(node: VariableNode, index: int) -> VariableNode:
    return VariableNode(name=NameNode(value=f"{node.name.value}_{index}"))


def fragments_used(document: DocumentNode, root: Node) -> list[FragmentDefinitionNode]:
    """Fragment definitions that ``root`` spreads, transitively."""
    available = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
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
