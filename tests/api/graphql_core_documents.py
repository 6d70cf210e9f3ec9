"""The documents as konvsync built them with graphql-core before
``api.operations`` (the aliasing and field selection of the old
``api.documents``, kept word for word): the reference its models are held
to."""

from __future__ import annotations

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    print_ast,
)

from konvsync.api.documents import fragment_definitions, fragments_used, inlined_fields
from konvsync.api.operations import Selection
from konvsync.kinds import children_of
from konvsync.kinds.base import Kind


def operation_text(kind: Kind, operation: str, selection: Selection | None = None) -> str:
    op = kind.operation(operation)
    if selection is not None:
        op = _selecting(kind, op, dict(selection))
    return print_ast(DocumentNode(definitions=(op, *fragments_used(kind.document, op))))


def aliased_document(
    kind: Kind, operation: str, count: int, selection: Selection | None = None
) -> str:
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
