"""Each kind's part of the config schema: the top-level list of every kind
a config lists (a reference kind refused there), and the ``$defs`` object
of every kind konvsync writes (a child kind's listed in its parent's).

From the kind's declaration: key, references, shapes (a set unique and
unordered), maps, renames, sensitive, server-only and DateTime fields,
export defaults, descriptions, patterns, ``schema_rules``. From the contract
(``schemas/konvert.graphql``): which fields may be null, which a create must
give (non-null, no portal default), and enum values (the field's type in the
create mutation's input). A string that must hold a value (a key, a
reference, a non-null field) is never blank: konvsync sends blank as null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
)

from konvsync.config.documents import NOT_BLANK
from konvsync.kinds.base import Field, Kind

JSON_TYPES = {"String": "string", "ID": "string", "DateTime": "string", "Boolean": "boolean"}
JSON_TYPES |= {"Int": "integer", "Float": "number"}
CUSTOM_VALUE = {"type": ["string", "number", "boolean", "null"]}
"""A value of a map (a custom field's): a scalar, sent as its string; null clears it."""


class ContractMismatch(ValueError):
    """A kind declares what the contract does not have."""


def definition_name(k: Kind) -> str:
    """The ``$defs`` name of one object of ``k``: its singular in camelCase
    (``account field`` -> ``accountField``)."""
    first, *rest = k.singular.split()
    return first.lower() + "".join(capitalized(word) for word in rest)


def capitalized(text: str) -> str:
    """``text`` with its first letter upper case and the rest as it is
    (``locations`` -> ``Locations``, to start a sentence)."""
    return text[:1].upper() + text[1:]


def top_level(kinds: Sequence[Kind]) -> list[Kind]:
    """The kinds a config lists at its top level (no parent, not a reference)."""
    return [k for k in kinds if k.parent is None and not k.reference]


def kind_named(kinds: Sequence[Kind], name: str) -> Kind:
    """The kind of ``kinds`` called ``name``."""
    return next(k for k in kinds if k.name == name)


def kind_properties(kinds: Sequence[Kind], contract: GraphQLSchema) -> dict[str, Any]:
    """The config's top-level keys of the kinds: a list of each top-level
    kind's objects, then each reference kind, refused."""
    out: dict[str, Any] = {}
    for k in top_level(kinds):
        out[k.name] = {"description": k.description, **_list_of(k)}
    for k in kinds:
        if k.reference:
            out[k.name] = _refused_reference_kind(k, kinds)
    return out


def kind_definitions(kinds: Sequence[Kind], contract: GraphQLSchema) -> dict[str, Any]:
    """The ``$defs`` object of every kind konvsync writes."""
    return {definition_name(k): _definition(k, kinds, contract) for k in kinds if not k.reference}


def _list_of(k: Kind) -> dict[str, Any]:
    return {"type": "array", "items": {"$ref": f"#/$defs/{definition_name(k)}"}}


def _refused_reference_kind(k: Kind, kinds: Sequence[Kind]) -> dict[str, Any]:
    where = " or ".join(
        f"{_a(owner.singular)} {owner.singular}'s {f.name}"
        for owner in kinds
        for f in owner.fields
        if f.ref == k.name
    )
    plural = capitalized(_plural(k.singular))
    return {
        "description": f"Not configurable: {plural} are authored in the portal and read by "
        f"konvsync. Refer to them by {k.key_field} in {where}.",
        "not": {},
        "x-message": f"{plural} are read from the portal, not configured; refer to them by "
        f"{k.key_field} in {where} list",
    }


def _definition(k: Kind, kinds: Sequence[Kind], contract: GraphQLSchema) -> dict[str, Any]:
    read, sent = _object_type(contract, k), _input_type(contract, k)
    fields = [f for f in k.fields if f is not k.parent_field]
    configured = [f for f in fields if not f.server_only]
    properties = {f.name: _configured(k, f, kinds, read, sent) for f in configured}
    properties |= {child.name: _children(k, child) for child in kinds if child.parent == k.name}
    if k.rename_field is not None:
        properties[k.rename_field] = _renamed_from(k)
    properties |= {f.name: _made_by_the_portal(k, f, read) for f in fields if f.server_only}
    out = {
        "description": _what(k, kinds),
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in configured if _required(k, f, read)],
        "properties": properties,
    }
    if k.schema_rules:
        out["allOf"] = list(k.schema_rules)
    return out


def _required(k: Kind, f: Field, read: GraphQLObjectType) -> bool:
    """The key, and what a create must give: the contract's non-null
    fields but lists and those the portal has a default for."""
    if f.name == k.key_field:
        return True
    non_null = isinstance(_field_type(read, f, f.name, k), GraphQLNonNull)
    return non_null and f.shape == "scalar" and f.export_default is None


def _configured(
    k: Kind,
    f: Field,
    kinds: Sequence[Kind],
    read: GraphQLObjectType,
    sent: GraphQLInputObjectType,
) -> dict[str, Any]:
    """A field a config sets. Null clears a field the portal may hold
    null in, but never a key or a sensitive value (given or left out)."""
    output = _field_type(read, f, f.name, k)
    nullable = not isinstance(output, GraphQLNonNull)
    held = f.name != k.key_field and nullable and not f.sensitive
    value = _value(f, output, _field_type(sent, f, f.input_key, k), held)
    return {"description": _describe(k, f, kinds), **value}


def _children(k: Kind, child: Kind) -> dict[str, Any]:
    return {
        "description": f"The {k.singular}'s {child.name}. When given, this is the whole set: "
        f"other {child.name} of the {k.singular} are deleted. Leave it out to leave "
        f"{child.name} alone.",
        **_list_of(child),
    }


def _made_by_the_portal(k: Kind, f: Field, read: GraphQLObjectType) -> dict[str, Any]:
    """A server-only field, refused with why (rather than as an unknown key)."""
    _field_type(read, f, f.name, k)  # the portal answers it
    return {
        "description": "Not configurable: the portal makes it (read only; export shows it as a "
        f"comment). {f.description}".strip(),
        "not": {},
        "x-message": f"{f.name} is made by the portal (read only), not configured",
    }


def _value(f: Field, output: Any, sent: Any, nullable: bool) -> dict[str, Any]:
    """The JSON Schema of a configured value of ``f``: ``output`` is its type
    in the object the portal answers, ``sent`` in the create input."""
    if f.shape in ("set", "list"):
        item = _scalar(f, get_named_type(sent), nullable=False, blank=f.ref is None)
        unique = {"uniqueItems": True} if f.shape == "set" else {}
        return {"type": "array", **unique, "items": item}
    if f.shape == "map":
        return {"type": "object", "additionalProperties": CUSTOM_VALUE}
    if f.shape == "object":
        parts_read = get_named_type(output)
        parts_sent = get_named_type(sent)
        if not isinstance(parts_read, GraphQLObjectType) or not isinstance(
            parts_sent, GraphQLInputObjectType
        ):
            raise ContractMismatch(f"{f.name}: the contract's type is not an object")
        properties = {}
        for sub in f.subfields:
            part_nullable = not isinstance(_field_type(parts_read, sub, sub.name), GraphQLNonNull)
            part_sent = get_named_type(_field_type(parts_sent, sub, sub.name))
            part = _scalar(sub, part_sent, part_nullable, blank=part_nullable)
            properties[sub.name] = {"description": sub.description, **part}
        kind_of = ["object", "null"] if nullable else "object"
        return {"type": kind_of, "additionalProperties": False, "properties": properties}
    return _scalar(f, get_named_type(sent), nullable, blank=nullable)


def _scalar(f: Field, named: Any, nullable: bool, blank: bool) -> dict[str, Any]:
    """One scalar value: a reference is a key (a string), an enum one of the
    contract's values. ``blank``: a string may be blank (it is no value)."""
    if isinstance(named, GraphQLEnumType) and f.ref is None:
        values: list[Any] = list(named.values)
        return {"enum": [*values, None] if nullable else values}
    json_type = "string" if f.ref is not None else _json_type(named)
    out: dict[str, Any] = {"type": [json_type, "null"] if nullable else json_type}
    pattern = f.pattern or (None if blank or json_type != "string" else NOT_BLANK)
    if pattern is not None:
        out["pattern"] = pattern
    if f.pattern_message is not None:
        out["x-message"] = f.pattern_message
    return out


def _json_type(named: Any) -> str:
    if isinstance(named, GraphQLScalarType) and named.name in JSON_TYPES:
        return JSON_TYPES[named.name]
    raise ContractMismatch(f"no JSON type for the contract's {named}")


def _describe(k: Kind, f: Field, kinds: Sequence[Kind]) -> str:
    """The field's declared description with what follows from the declaration."""
    text = f.description
    if f.name == k.key_field:
        parent = kind_named(kinds, k.parent).singular if k.parent is not None else None
        text = f"Natural key{f' within the {parent}' if parent else ''}: {text}"
    if f.sensitive:
        text = (
            f"Sensitive: {text} Write ${{env:NAME}}: konvsync shows it as (sensitive) and "
            "never writes it to a file."
        )
    if f.timestamp:
        text += (
            " A date (midnight UTC) or an ISO 8601 date-time with an offset; compared in UTC "
            "to the second."
        )
    if f.shape == "set":
        text += " Order does not matter."
    if f.export_default is not None and f.shape == "scalar":
        shown = str(f.export_default).lower() if isinstance(f.export_default, bool) else None
        text += f" Default {shown or f.export_default}."
    return text


def _what(k: Kind, kinds: Sequence[Kind]) -> str:
    """What one object of ``k`` is: ``A group, identified by externalId.``"""
    a = _a(k.singular).capitalize()
    if k.parent is not None:
        parent = kind_named(kinds, k.parent).singular
        return f"{a} {k.singular} of {_a(parent)} {parent}, identified by {k.key_field} within it."
    notes = []
    if k.key_lowercase:
        notes.append("compared case-insensitively")
    if not k.unique_key:
        notes.append("unique in the configuration; the portal does not keep it unique")
    shown = f" ({'; '.join(notes)})" if notes else ""
    return f"{a} {k.singular}, identified by {k.key_field}{shown}."


def _renamed_from(k: Kind) -> dict[str, Any]:
    key, one = k.key_field, k.singular
    which = "one of them" if k.rename_many else f"that {key}"
    notice = " (nothing is created, so no welcome e-mail is sent)" if k.create_notice else ""
    description = (
        f"The {key}{'s' if k.rename_many else ''} this {one} had before. When the portal has "
        f"{_a(one)} {one} with {which} and none with the new one, the plan changes the "
        f"{key} of that same {one} in place{notice} instead of deleting it and creating "
        "another. May stay after the rename; it then does nothing."
    )
    # Blank says nothing: it was taken for no rename at all, without a word.
    key_text = {"type": "string", "pattern": r"\S"}
    if k.rename_many:
        return {"description": description, "type": "array", "items": key_text}
    return {"description": description, **key_text}


def _object_type(contract: GraphQLSchema, k: Kind) -> GraphQLObjectType:
    found = contract.get_type(k.type_name)
    if not isinstance(found, GraphQLObjectType):
        raise ContractMismatch(f"kind {k.name}: the contract has no type {k.type_name}")
    return found


def _input_type(contract: GraphQLSchema, k: Kind) -> GraphQLInputObjectType:
    """The input type of ``k``'s create mutation (``createGroup(input: GroupInput!)``)."""
    name = k.create_operation[:1].lower() + k.create_operation[1:]
    mutation = contract.mutation_type.fields.get(name) if contract.mutation_type else None
    argument = mutation.args.get("input") if mutation is not None else None
    found = get_named_type(argument.type) if argument is not None else None
    if not isinstance(found, GraphQLInputObjectType):
        raise ContractMismatch(f"kind {k.name}: the contract has no mutation {name}(input: ...)")
    return found


def _field_type(
    owner: GraphQLObjectType | GraphQLInputObjectType, f: Field, name: str, k: Kind | None = None
) -> Any:
    found = owner.fields.get(name)
    if found is None:
        where = f"kind {k.name}: " if k is not None else ""
        raise ContractMismatch(f"{where}the contract's {owner.name} has no field {name}")
    if f.shape in ("set", "list") and not isinstance(get_nullable_type(found.type), GraphQLList):
        raise ContractMismatch(f"{owner.name}.{name} is not a list in the contract")
    return found.type


def _plural(singular: str) -> str:
    """``DAM category`` -> ``DAM categories``, ``LMS module`` -> ``LMS modules``."""
    if singular.endswith("y") and singular[-2:-1] not in tuple("aeiou"):
        return singular[:-1] + "ies"
    return singular + ("es" if singular.endswith(("s", "x", "ch", "sh")) else "s")


def _a(word: str) -> str:
    """The article before ``word``: ``an account``, ``a user``."""
    return "an" if word[:1].lower() in "aeio" else "a"
