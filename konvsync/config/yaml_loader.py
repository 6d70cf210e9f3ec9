"""YAML loading that keeps positions and refuses duplicate keys.

``yaml.safe_load`` semantics (the safe tags only) with libyaml's parser when
available. Mappings load as ``YamlMap`` and sequences as ``YamlList``, which
remember where they and each of their entries stand; timestamps stay the
strings they were written as. Python objects are built straight from the
composed node graph (aliases stay shared), which is several times faster than
PyYAML's generic constructor on large files.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass
from typing import Any

import yaml

from konvsync.config.model import Source
from konvsync.errors import ConfigProblem
from konvsync.support.text import shortened

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
MAX_NUMBER_CHARACTERS = 100
"""Longer integers are refused before Python converts them (it refuses
4,300 digits and takes quadratic time below that)."""
_SAFE_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "binary")
)

Position = tuple[int, int]


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader with a lean tag resolver for plain scalars (SafeLoader
    has no path resolvers, so their general machinery is skipped)."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        return str(tag)
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


class YamlMap(dict[Any, Any]):
    """A mapping that knows its file and where each key and value stand.

    Positions are packed into one array per mapping (key and value of each
    entry, in the mapping's order) rather than a tuple per position: a
    10,000-user config holds 120,000 of them, and as objects they were a
    third of its memory and of the time to build and free it."""

    __slots__ = ("_position", "file", "positions")
    file: str
    _position: int
    positions: array[int]

    @property
    def position(self) -> Position:
        return _unpack(self._position)

    @position.setter
    def position(self, value: Position) -> None:
        self._position = (value[0] - 1) << _COLUMN_BITS | (value[1] - 1)

    @property
    def source(self) -> Source:
        return Source(self.file, *self.position)

    def key_source(self, key: Any) -> Source:
        return Source(self.file, *_unpack(self.positions[2 * self._index(key)]))

    def value_source(self, key: Any) -> Source:
        return Source(self.file, *_unpack(self.positions[2 * self._index(key) + 1]))

    def _index(self, key: Any) -> int:
        for index, candidate in enumerate(self):
            if candidate == key:
                return index
        raise KeyError(key)


class YamlList(list[Any]):
    """A sequence that knows its file and where each item stands."""

    __slots__ = ("_position", "file", "positions")
    file: str
    _position: int
    positions: array[int]

    @property
    def position(self) -> Position:
        return _unpack(self._position)

    @position.setter
    def position(self, value: Position) -> None:
        self._position = (value[0] - 1) << _COLUMN_BITS | (value[1] - 1)

    @property
    def source(self) -> Source:
        return Source(self.file, *self.position)

    def item_source(self, index: int) -> Source:
        return Source(self.file, *_unpack(self.positions[index]))


def empty_map(file: str) -> YamlMap:
    result = YamlMap()
    result.file, result.position, result.positions = file, (1, 1), array(POSITIONS)
    return result


POSITIONS = "L" if array("L").itemsize == 8 else "Q"
"""The array type that holds packed positions: 64 bits unsigned, "L" where
C's long has them (Linux, macOS), else "Q". A position over 2**30 (every
one past the first line) is stored in an "L" by a short loop and in a "Q"
by a general conversion to bytes: loading the 10,000-user benchmark config
(150,000 positions) took 2.6 % fewer instructions (1.93 -> 1.88 billion)."""
_COLUMN_BITS = 32
"""A position is one integer: its line above its column, both 0-based as
libyaml counts them (no line of a text Python holds reaches 2**32
characters). Packed inline in the builder's loops: 180,000 positions in a
10,000-user config, and a call each was 16 ms of its 175 ms load."""
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1
_MISSING = object()
_ScalarEvent = yaml.ScalarEvent
_SequenceStartEvent = yaml.SequenceStartEvent
_MappingStartEvent = yaml.MappingStartEvent


def _pack(event: yaml.Event) -> int:
    mark = event.start_mark
    return 0 if mark is None else mark.line << _COLUMN_BITS | mark.column


def _unpack(packed: int) -> Position:
    return (packed >> _COLUMN_BITS) + 1, (packed & _COLUMN_MASK) + 1


class YamlLoadError(Exception):
    def __init__(self, problem: ConfigProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


Pair = tuple[Any, Any, int, int]
"""Key, value and the packed positions of both."""


def _position(event: yaml.Event) -> Position:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _Builder:
    """Builds ``YamlMap``/``YamlList`` straight from libyaml's parser events,
    with ``safe_load`` semantics. PyYAML's composer would first build a node
    graph (a Python object and two marks per value: 168 MB for a 5 MB file)
    only for it to be thrown away."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.anchors: dict[str, Any] = {}
        self.aliased = False
        """Whether an alias was used: only then can the data be larger than the text."""
        self.plain: dict[str, Any] = {}
        """Plain scalar text -> its value (strings, numbers, booleans, null)."""
        self.retold: dict[Position, str] = {}
        """Where a plain scalar's value is a number or boolean whose own text
        is not the text written (``01234``: 668, ``no``: False) -> that text.
        Such texts are not kept in ``plain``: each place is recorded, and
        each alias of one (``retold_anchors``) where the alias stands."""
        self.retold_anchors: dict[str, str] = {}
        """Anchor -> the text of the retold scalar it names."""

    def problem(self, event: yaml.Event, message: str) -> YamlLoadError:
        return YamlLoadError(ConfigProblem(self.file, *_position(event), message))

    def document(self) -> Any:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # document start
        data = self.build(loader.get_event())
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            raise self.problem(
                loader.peek_event(),
                "invalid YAML: expected a single document in the file, found another",
            )
        return data

    def build(self, event: Any) -> Any:
        """The value of the node ``event`` starts (a libyaml event; ``Any``:
        its class is tested by identity, which mypy does not narrow)."""
        cls = type(event)
        if cls is yaml.ScalarEvent:
            value = self._scalar(event)
        elif cls is yaml.MappingStartEvent:
            self._check_collection_tag(event, _MAP)
            value = self._map(event)
        elif cls is yaml.SequenceStartEvent:
            self._check_collection_tag(event, _SEQ)
            value = self._list(event)
        elif cls is yaml.AliasEvent:
            if event.anchor not in self.anchors:
                raise self.problem(event, f"unknown or recursive alias *{event.anchor}")
            self.aliased = True
            text = self.retold_anchors.get(event.anchor)
            if text is not None:
                self.retold[_position(event)] = text
            return self.anchors[event.anchor]
        else:
            raise self.problem(event, "invalid YAML: unexpected event")
        if event.anchor is not None:
            self.anchors[event.anchor] = value
            text = self.retold.get(_position(event)) if cls is yaml.ScalarEvent else None
            if text is not None:
                self.retold_anchors[event.anchor] = text
            else:
                self.retold_anchors.pop(event.anchor, None)  # an anchor named again
        return value

    def _tag(self, event: yaml.ScalarEvent) -> str:
        if event.tag is None:
            return self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return _STR if event.tag == "!" else str(event.tag)

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        if event.tag is None:
            if not event.implicit[0]:
                return event.value  # quoted: always a string
            # Plain scalars repeat (every key of every user): resolve each text once.
            try:
                return self.plain[event.value]
            except KeyError:
                value = self._construct(event)
                if value.__class__ is not str and retells(value, event.value):
                    self.retold[_position(event)] = event.value
                else:
                    self.plain[event.value] = value
                return value
        return self._construct(event)

    def _construct(self, event: yaml.ScalarEvent) -> Any:
        tag = self._tag(event)
        if tag in (_STR, _TIMESTAMP):
            return event.value
        if tag not in _SAFE_SCALARS:
            raise self.problem(event, f"unsupported YAML tag {tag}")
        if tag == _INT and len(event.value) > MAX_NUMBER_CHARACTERS:
            raise self.problem(
                event,
                f"number with {len(event.value):,} characters; konvsync reads numbers of at "
                f"most {MAX_NUMBER_CHARACTERS} (quote it if it is text)",
            )
        node = yaml.ScalarNode(tag, event.value, style=event.style)
        try:
            value = self.loader.construct_object(node)
        except (ValueError, LookupError, TypeError, ArithmeticError) as exc:
            # a tag that does not fit the text: !!int word, !!bool maybe, !!float ""
            raise self.problem(event, f"invalid {tag.rsplit(':', 1)[-1]} value") from exc
        if isinstance(value, float) and not math.isfinite(value):
            raise self.problem(
                event,
                f"{shortened(event.value, 20)} is not a finite number; konvsync reads no NaN or "
                "infinity (quote it if it is text)",
            )
        return value

    def _check_collection_tag(self, event: yaml.CollectionStartEvent, expected: str) -> None:
        if event.tag not in (None, "!", expected):
            raise self.problem(event, f"unsupported YAML tag {event.tag}")

    def _map(self, start: yaml.MappingStartEvent) -> YamlMap:
        get_event = self.loader.get_event
        build = self.build
        plain = self.plain
        resolved = self.loader.yaml_implicit_resolvers
        result = YamlMap()
        positions = array(POSITIONS)
        append = positions.append
        bits = _COLUMN_BITS
        merged: dict[Any, Pair] | None = None
        # The hot loop of a load: positions packed and plain scalars seen
        # before (every key of every user) taken from ``plain`` inline, a
        # new one read as a string where no implicit tag's pattern takes it
        # (``First7``: ``build`` took five calls to say so), and a list
        # built without ``build``: YAML of the 10,000-user benchmark config
        # took 2.07 billion instructions, now 1.95 (libyaml's events 1.41).
        while True:
            key_event = get_event()
            cls = type(key_event)
            if cls is not _ScalarEvent:
                if cls is yaml.MappingEndEvent:
                    break
                raise self.problem(key_event, "mapping keys must be plain scalars")
            if key_event.tag is None and key_event.implicit[0]:
                if key_event.value == "<<":
                    merged = {} if merged is None else merged
                    for pair in self._merge_pairs(get_event()):
                        merged.setdefault(pair[0], pair)  # the first merged occurrence wins
                    continue
                key = plain.get(key_event.value, _MISSING)
                if key is _MISSING or key_event.anchor is not None:
                    key = build(key_event)
            else:
                key = build(key_event)
            if key in result:
                first = _unpack(positions[2 * list(result).index(key)])[0]
                raise self.problem(key_event, f"duplicate key {key!r} (first at line {first})")
            value_event = get_event()
            mark = key_event.start_mark
            append(mark.line << bits | mark.column)
            mark = value_event.start_mark
            append(mark.line << bits | mark.column)
            if (
                type(value_event) is _ScalarEvent
                and value_event.tag is None
                and value_event.anchor is None
            ):
                if not value_event.implicit[0]:
                    result[key] = value_event.value  # quoted: always a string
                    continue
                text = value_event.value
                value = plain.get(text, _MISSING)
                if value is _MISSING:
                    for _tag, regexp in resolved.get(text[:1], ()):
                        if regexp.match(text):
                            break  # a number, boolean, null...: ``build`` reads it
                    else:
                        value = plain[text] = text  # no implicit tag takes it: a string
                if value is not _MISSING:
                    result[key] = value
                    continue
            elif (
                type(value_event) is _SequenceStartEvent
                and value_event.tag is None
                and value_event.anchor is None
            ):
                result[key] = self._list(value_event)  # ``build``'s work, done inline
                continue
            result[key] = build(value_event)
        result.file = self.file
        result._position = _pack(start)
        result.positions = positions
        if merged:
            return self._with_merged(result, merged)
        return result

    @staticmethod
    def _with_merged(own: YamlMap, merged: dict[Any, Pair]) -> YamlMap:
        """As PyYAML: keys merged in by << come first, the mapping's own keys
        override their values and follow."""
        own_pairs = {
            key: (key, value, own.positions[2 * index], own.positions[2 * index + 1])
            for index, (key, value) in enumerate(own.items())
        }
        result = YamlMap()
        result.file, result.position, result.positions = own.file, own.position, array(POSITIONS)
        pairs = [own_pairs.get(pair[0], pair) for pair in merged.values()]
        pairs += [pair for key, pair in own_pairs.items() if key not in merged]
        for key, value, key_at, value_at in pairs:
            result[key] = value
            result.positions.append(key_at)
            result.positions.append(value_at)
        return result

    def _merge_pairs(self, event: yaml.Event) -> list[Pair]:
        """The pairs a ``<<`` value contributes, in order (a mapping, or a list
        of mappings of which the first to have a key wins)."""
        value = self.build(event)
        sources = list(value) if isinstance(value, YamlList) else [value]
        pairs: list[Pair] = []
        for source in sources:
            if not isinstance(source, YamlMap):
                raise self.problem(event, "<< must merge a mapping or a list of mappings")
            pairs.extend(
                (key, item, source.positions[2 * index], source.positions[2 * index + 1])
                for index, (key, item) in enumerate(source.items())
            )
        return pairs

    def _list(self, start: yaml.SequenceStartEvent) -> YamlList:
        get_event = self.loader.get_event
        build = self.build
        plain = self.plain
        resolved = self.loader.yaml_implicit_resolvers
        result = YamlList()
        positions = array(POSITIONS)
        append = positions.append
        bits = _COLUMN_BITS
        add = result.append
        while True:  # as in ``_map``
            event = get_event()
            if type(event) is _ScalarEvent and event.tag is None and event.anchor is None:
                mark: Any = event.start_mark  # a parser's event always has one
                append(mark.line << bits | mark.column)
                if not event.implicit[0]:
                    add(event.value)  # quoted: always a string
                    continue
                text = event.value
                value = plain.get(text, _MISSING)
                if value is _MISSING:
                    for _tag, regexp in resolved.get(text[:1], ()):
                        if regexp.match(text):
                            break
                    else:
                        value = plain[text] = text
                add(build(event) if value is _MISSING else value)
                continue
            if type(event) is yaml.SequenceEndEvent:
                break
            mark = event.start_mark
            append(mark.line << bits | mark.column)
            if type(event) is _MappingStartEvent and event.tag is None and event.anchor is None:
                add(self._map(event))  # ``build``'s work, done inline
            else:
                add(build(event))
        result.file = self.file
        result._position = _pack(start)
        result.positions = positions
        return result


def retells(value: Any, text: str) -> bool:
    """Whether YAML read the plain scalar ``text`` as a number or boolean
    whose own text is another (``01234`` octal: 668, ``0x1F``: 31, ``12:30``:
    750, ``1.50``: 1.5, ``yes`` and ``True``: True, sent as ``true``);
    ``true``, ``42`` and ``2.5`` are their own text."""
    if isinstance(value, bool):
        return text not in ("true", "false")
    if isinstance(value, int | float):
        return str(value) != text
    return False


@dataclass
class LoadedYaml:
    data: Any
    aliased: bool
    retold: dict[Position, str]
    """``_Builder.retold``: (line, column) -> the text written there."""


def _indenting_tab(text: str, line: int, column: int) -> int | None:
    """The column of the tab that broke line ``line`` (1-based), if a tab is
    what the parser stopped at or is in the line's indentation (spaces and
    ``-`` of block sequences), else None."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    source = lines[line - 1]
    if source[column - 1 : column] == "\t":
        return column
    indentation = len(source) - len(source.lstrip(" \t-"))
    tab = source.find("\t", 0, indentation)
    return tab + 1 if tab >= 0 else None


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What YAML 1.1 (and libyaml) counts as a line break."""


def _place_of(text: str, character: str) -> tuple[int, int]:
    """The line and column (1-based) of the first ``character`` in ``text``:
    the one the reader stopped at (it stops at the first it does not take;
    its own offset counts bytes in libyaml, characters in PyYAML)."""
    index = text.find(character)
    if index < 0:
        return 1, 1
    breaks = list(_BREAK.finditer(text, 0, index))
    start = breaks[-1].end() if breaks else int(text.startswith("\ufeff"))
    return len(breaks) + 1, index - start + 1


def load_yaml(text: str, file_name: str) -> LoadedYaml:
    """Parse one YAML document; raise ``YamlLoadError`` with its position."""
    loader = _Loader(text)
    try:
        builder = _Builder(loader, file_name)
        data = builder.document()
        return LoadedYaml(data, builder.aliased, builder.retold)
    except YamlLoadError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        tab = _indenting_tab(text, line, column)
        if tab is not None:
            raise YamlLoadError(
                ConfigProblem(
                    file_name,
                    line,
                    tab,
                    "invalid YAML: a tab indents this line; YAML indents with spaces only",
                )
            ) from exc
        message = exc.problem or exc.context or "invalid YAML"
        raise YamlLoadError(
            ConfigProblem(file_name, line, column, f"invalid YAML: {message}")
        ) from exc
    except yaml.reader.ReaderError as exc:
        line, column = _place_of(text, chr(exc.character))
        message = f"invalid YAML: {exc.reason} (U+{exc.character:04X})"
        raise YamlLoadError(ConfigProblem(file_name, line, column, message)) from exc
    except yaml.YAMLError as exc:
        raise YamlLoadError(ConfigProblem(file_name, 1, 1, f"invalid YAML: {exc}")) from exc
    except RecursionError as exc:
        raise YamlLoadError(ConfigProblem(file_name, 1, 1, "YAML nested too deeply")) from exc
    finally:
        loader.dispose()
