"""Checking an answer against the contract before anything uses it.

konvsync knows every document it sends, so it knows the shape of every
answer: each selected field present, non-null where the schema says ``!``,
lists as lists without ``null`` in a ``[T!]`` list, enums among their values,
IDs and strings as strings, a DateTime konvsync compares (an invite link's
``expiresAt``) as a date-time with a UTC offset, integers as 32-bit
integers. A checker is compiled once per document from that shape, made
from the schema (``schemas/konvert.graphql``) and the document's selections
(generated beforehand with each operation's model, ``api.operations``);
nothing here is written per field.

graphql-core has no "validate a result" function: executing the document
over the answer with default resolvers would coerce instead of check (an
``id`` of 5 becomes ``"5"``, a string passes for ``[Permission!]``), which is
exactly what must not happen here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from typing import Any

from konvsync.api.operations import Document, OperationModel
from konvsync.kinds import KINDS
from konvsync.kinds.datetimes import parse_utc
from konvsync.support.text import brief

Path = tuple[str | int, ...]


class Misfit(Exception):
    """Where an answer leaves the contract, and how."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{format_path(path)} {problem}")


Checker = Callable[[Any, Path], None]
"""Raises ``Misfit`` when the value at ``path`` does not fit."""

_INT_RANGE = range(-(2**31), 2**31)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def describe(value: Any, hidden: bool = False) -> str:
    """A short, safe rendering of a value from the portal; ``hidden``: of
    its type alone (a sensitive field's value)."""
    if value is None:
        return "null"
    if hidden:
        return _TYPES.get(type(value), "a value")
    if isinstance(value, bool):
        return f"{json.dumps(value)} (a boolean)"
    if isinstance(value, int | float):
        return f"{brief(value, 60)} (a number)"
    if isinstance(value, str):
        return f"{brief(value, 60)} (a string)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_TYPES: dict[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}
"""What ``describe`` says of a value it does not show."""


Shape = list[Any]
"""What an answer must be, as plain data (JSON), made from the schema and a
document's selections (``api.documents``, with graphql-core, by the
generator) and compiled into checkers:

- ``["non_null", "String!", inner]``
- ``["list", "[Permission!]", item]``
- ``["object", "Group", [[key, shape], ...]]``
- ``["enum", "Permission!", [value, ...]]``
- ``["scalar", "DateTime", scalar name]``
- ``["typename", "Group"]``"""


@cache
def _field_checker(model: OperationModel) -> Checker:
    """The checker of ``model``'s root field: one per operation (and
    selection), whatever the number of aliased copies a document holds
    (compiling one per aliased document cost 0.1 s of CPU in a cold apply
    of 10,000 users)."""
    return _compiled(model.shape)


@cache
def _field_fits(model: OperationModel) -> Callable[[Any], bool]:
    """The quick check of ``model``'s root field (``_quick``)."""
    return _quick(model.shape)


def check_field(document: Document, key: str, value: Any) -> None:
    """Raise ``Misfit`` unless ``value`` fits the root field ``key`` (its
    own field's name, or an alias) of ``document``."""
    model = document.model
    if not _field_fits(model)(value):
        _field_checker(model)(value, (key,))  # says where and how (or finds it fits)


def check_data(document: Document, data: Any) -> None:
    """Raise ``Misfit`` unless ``data`` fits the whole selection."""
    if not isinstance(data, dict):
        raise Misfit(("data",), f"is {describe(data)}, the contract says an object")
    model = document.model
    fits = _field_fits(model)
    for key in document.keys:
        if key not in data:
            raise Misfit((key,), "is missing")
        if not fits(data[key]):
            _field_checker(model)(data[key], (key,))


def _quick(shape: Shape) -> Callable[[Any], bool]:
    """Whether a value fits ``shape``, as one function of Python code
    generated from it (``_quick_lines``): every nested object and list
    checked inline, without a call or a path per level. It says only
    whether the value fits; the checker of ``_compiled`` runs only on a
    value it refuses, for the message, and the two take the same values
    (tests/api/test_answers.py holds them to each other). The 12,100
    answers of a 10,000-user cold apply were checked in 242 million
    instructions, now in 165 million."""
    names: dict[str, Any] = {}
    lines = ["def fits(v0):"]
    _quick_lines(shape, "v0", 1, lines, names)
    lines.append("    return True")
    exec(compile("\n".join(lines), f"<answer check {shape[1]}>", "exec"), names)
    fits: Callable[[Any], bool] = names["fits"]
    return fits


def _quick_lines(
    shape: Shape,
    var: str,
    depth: int,
    lines: list[str],
    names: dict[str, Any],
    compared: bool = False,
    non_null: bool = False,
) -> None:
    """Append the lines that return False unless the value in ``var`` fits
    ``shape`` (as ``_compiled``'s checker of it would pass it; ``compared``
    as there), indented ``depth`` levels; ``names``: the values they use.
    ``non_null``: ``var`` is known not to be null."""
    pad = "    " * depth
    what = shape[0]
    if what == "typename":
        lines.append(f"{pad}if {var} != {shape[1]!r}: return False")
        return
    if what == "non_null":
        if _accepts(shape[2], compared) is not _is_string:  # (``isinstance`` refuses null)
            lines.append(f"{pad}if {var} is None: return False")
        _quick_lines(shape[2], var, depth, lines, names, compared, non_null=True)
        return
    if what in ("list", "object"):
        if not non_null:
            lines.append(f"{pad}if {var} is not None:")
            depth += 1
            pad += "    "
        if what == "list":
            item = f"v{len(lines)}"
            lines.append(f"{pad}if not isinstance({var}, list): return False")
            lines.append(f"{pad}for {item} in {var}:")
            _quick_lines(shape[2], item, depth + 1, lines, names)
            return
        lines.append(f"{pad}if not isinstance({var}, dict): return False")
        fields: dict[str, Shape] = dict(shape[2])
        for key, field in fields.items():
            value = f"v{len(lines)}"
            lines.append(f"{pad}if {key!r} not in {var}: return False")
            lines.append(f"{pad}{value} = {var}[{key!r}]")
            _quick_lines(field, value, depth, lines, names, compared=key in _TIMESTAMPS)
        return
    test = f"{var} is not None and " if not non_null else ""
    if what == "enum":
        allowed = f"n{len(names)}"
        names[allowed] = frozenset(shape[2])
        lines.append(
            f"{pad}if {test}not (isinstance({var}, str) and {var} in {allowed}): return False"
        )
        return
    assert what == "scalar", shape
    accepts = _accepts(shape, compared)
    if accepts is _is_string:
        lines.append(f"{pad}if {test}not isinstance({var}, str): return False")
        return
    name = f"n{len(names)}"
    names[name] = accepts
    lines.append(f"{pad}if {test}not {name}({var}): return False")


def _compiled(
    shape: Shape,
    shown: str | None = None,
    compared: bool = False,
    hidden: bool = False,
    required: bool = False,
) -> Checker:
    """The checker of ``shape``. ``shown``: the type as a message names it
    (``String!`` for the String inside a non-null); ``compared``: it is the
    shape of a field konvsync compares as an instant (``_TIMESTAMPS``);
    ``hidden``: of a sensitive field, whose value a message never shows;
    ``required``: a list's or an object's inside a non-null, which refuses
    null itself (a call less per node and list: the 113 pages of the
    10,000-user benchmark's read checked in 226 instead of 248 million
    instructions)."""
    what = shape[0]
    if what == "typename":
        return _typename(shape[1])
    if what == "non_null":
        expected = shape[1]
        if shape[2][0] in ("list", "object"):
            return _compiled(shape[2], expected, compared, hidden, required=True)
        inner = _compiled(shape[2], expected, compared, hidden)

        def non_null(value: Any, path: Path) -> None:
            if value is None:
                raise Misfit(path, f"is null, the schema says {expected}")
            inner(value, path)

        return non_null
    expected = shown or shape[1]
    if what == "list":
        item = _compiled(shape[2], hidden=hidden)

        def listed(value: Any, path: Path) -> None:
            if value is None:
                if required:
                    raise Misfit(path, f"is null, the schema says {expected}")
                return
            if not isinstance(value, list):
                raise Misfit(path, f"is {describe(value, hidden)}, the schema says {expected}")
            for index, element in enumerate(value):
                item(element, (*path, index))

        return listed
    if what == "object":
        fields: dict[str, Shape] = dict(shape[2])

        def obj(value: Any, path: Path) -> None:
            if value is None:
                if required:
                    raise Misfit(path, f"is null, the schema says {expected}")
                return
            if not isinstance(value, dict):
                raise Misfit(path, f"is {describe(value)}, the schema says {expected}")
            for key, checker, nullable in plan:
                if key not in value:
                    raise Misfit((*path, key), "is missing")
                item = value[key]
                if nullable is not None and (type(item) is str or (nullable and item is None)):
                    continue  # a string where one is due: the common case, without a call
                checker(item, (*path, key))

        plan = [
            (
                key,
                _compiled(field, compared=key in _TIMESTAMPS, hidden=key in _SENSITIVE),
                _string_field(field, key),
            )
            for key, field in fields.items()
        ]
        return obj
    if what == "enum":
        allowed = frozenset(shape[2])

        name = expected.rstrip("!")

        def enum(value: Any, path: Path) -> None:
            if value is None or (isinstance(value, str) and value in allowed):
                return  # (a list or an object is not hashable: asked first)
            if isinstance(value, str):  # a value the portal added after the contract, or junk
                raise Misfit(
                    path,
                    f"is {brief(value, 60)}, a value of enum {name} the contract does not list "
                    "(is the portal newer than this konvsync?): konvsync does not act on an "
                    "answer it cannot read whole",
                )
            raise Misfit(path, f"is {describe(value, hidden)}, not a value of enum {expected}")

        return enum
    assert what == "scalar", shape
    accepts = (
        _is_datetime if compared and shape[2] == "DateTime" else _SCALARS.get(shape[2], _is_string)
    )
    if accepts is _is_datetime:

        def datetime(value: Any, path: Path) -> None:
            if value is not None and not accepts(value):
                raise Misfit(
                    path,
                    f"is {describe(value, hidden)}, not a DateTime (an ISO date-time with Z or "
                    "another UTC offset)",
                )

        return datetime

    def scalar(value: Any, path: Path) -> None:
        if value is not None and not accepts(value):
            raise Misfit(path, f"is {describe(value, hidden)}, the schema says {expected}")

    return scalar


def _accepts(shape: Shape, compared: bool) -> Callable[[Any], bool] | None:
    """What takes a value of scalar ``shape`` (``compared`` as in
    ``_compiled``) other than null; None for any other shape."""
    if shape[0] != "scalar":
        return None
    if compared and shape[2] == "DateTime":
        return _is_datetime
    accepts: Callable[[Any], bool] = _SCALARS.get(shape[2], _is_string)
    return accepts


def _string_field(shape: Shape, name: str = "") -> bool | None:
    """For a string scalar (ID, String, a DateTime other than
    ``_TIMESTAMPS``) of field ``name``, whether it takes null
    (True; False inside a non-null); None for any other shape. An object's
    checker tests such fields for a ``str`` itself and calls their checker
    only when that fails, for the message: three calls fewer per field, and
    a page of users checked in 1.4 instead of 2.7 µs per user."""
    if shape[0] == "scalar":
        if shape[2] == "DateTime" and name in _TIMESTAMPS:
            return None
        return True if _SCALARS.get(shape[2], _is_string) is _is_string else None
    if shape[0] == "non_null" and _string_field(shape[2], name) is not None:
        return False
    return None


def _typename(name: str) -> Checker:
    def typename(value: Any, path: Path) -> None:
        if value != name:
            raise Misfit(path, f"is {describe(value)}, the schema says {name!r}")

    return typename


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


_SENSITIVE = frozenset(f.name for k in KINDS for f in k.fields if f.sensitive)
"""The fields whose values no message shows (an invite link's ``code``)."""
_TIMESTAMPS = frozenset(f.name for k in KINDS for f in k.fields if f.timestamp)
"""The DateTime fields konvsync compares as instants (an invite link's
``expiresAt``): their answers must be ones (``_is_datetime``). Another
DateTime (``updatedAt``) is only shown: any string is taken, as a portal
may write it in its own form, and it is checked as a string is, without
a call per object (15,000 calls per read of 10,000 users)."""


def _is_datetime(value: Any) -> bool:
    """A DateTime as the contract answers one: an ISO date-time with "Z" or
    another UTC offset, with or without fractional seconds (an instant
    konvsync compares in UTC). One without an offset names no instant, and
    compared as text it would be planned as a change on every run."""
    if not isinstance(value, str) or len(value.strip()) <= len("2027-06-30"):
        return False  # a date alone is no date-time
    try:
        parse_utc(value)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in _INT_RANGE


def _is_float(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


_SCALARS: dict[str, Callable[[Any], bool]] = {
    "ID": _is_string,
    "String": _is_string,
    "Int": _is_int,
    "Float": _is_float,
    "Boolean": lambda value: isinstance(value, bool),
}
"""Other custom scalars are strings (DateTime too, but for ``_TIMESTAMPS``)."""
