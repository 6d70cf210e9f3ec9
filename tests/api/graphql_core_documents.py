"""The documents as konvsync built them with graphql-core before
``api.operations`` (the aliasing and field selection of the old
``api.documents``, and the answers' shapes of the old ``api.answers``,
kept word for word): the reference its models are held to."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    parse,
    print_ast,
)

from konvsync.api.documents import fragment_definitions, fragments_used
from konvsync.api.operations import Selection, Shape
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


def document_shapes(document_text: str, schema: GraphQLSchema) -> dict[str, Shape]:
    """The shape of each root field of a document of one operation, from
    ``schema``."""
    document = parse(document_text)
    fragments = fragment_definitions(document)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    root = schema.get_root_type(operation.operation)
    assert root is not None, f"the contract has no {operation.operation.value} type"
    return field_shapes(root, operation.selection_set, fragments)


def field_shapes(
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> dict[str, Shape]:
    out: dict[str, Shape] = {}
    for field in inlined_fields(selection_set, fragments):
        key = field.alias.value if field.alias else field.name.value
        if field.name.value == "__typename":
            out[key] = ["typename", parent.name]
            continue
        out[key] = _shape(parent.fields[field.name.value].type, field.selection_set, fragments)
    return out


def _shape(
    output_type: GraphQLOutputType,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Shape:
    expected = str(output_type)
    if isinstance(output_type, GraphQLNonNull):
        return ["non_null", expected, _shape(output_type.of_type, selection_set, fragments)]
    if isinstance(output_type, GraphQLList):
        return ["list", expected, _shape(output_type.of_type, selection_set, fragments)]
    if isinstance(output_type, GraphQLObjectType):
        assert selection_set is not None
        fields = field_shapes(output_type, selection_set, fragments)
        return ["object", expected, [[key, shape] for key, shape in fields.items()]]
    if isinstance(output_type, GraphQLEnumType):
        return ["enum", expected, list(output_type.values)]
    return ["scalar", expected, output_type.name]
