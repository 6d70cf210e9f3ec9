"""YAML loading that keeps positions and refuses duplicate keys.

``yaml.safe_load`` semantics (the safe tags only) with libyaml's parser when
available. Mappings load as ``YamlMap`` and sequences as ``YamlList``, which
remember where they and each of their entries stand; timestamps stay the
strings they were written as. Python objects are built straight from the
composed node graph (aliases stay shared), which is several times faster than
PyYAML's generic constructor on large files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from konvsync.config.model import Source
from konvsync.errors import ConfigProblem

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

Position = tuple[int, int]


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader with a lean tag resolver: SafeLoader has no path
    resolvers, so the general machinery libyaml calls per node is skipped."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        return str(tag)
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class YamlMap(dict[Any, Any]):
    """A mapping that knows its file and where each key and value stand."""

    file: str
    position: Position
    key_positions: dict[Any, Position]
    value_positions: dict[Any, Position]

    @property
    def source(self) -> Source:
        return Source(self.file, *self.position)

    def key_source(self, key: Any) -> Source:
        return Source(self.file, *self.key_positions[key])

    def value_source(self, key: Any) -> Source:
        return Source(self.file, *self.value_positions[key])


class YamlList(list[Any]):
    """A sequence that knows its file and where each item stands."""

    file: str
    position: Position
    item_positions: list[Position]

    @property
    def source(self) -> Source:
        return Source(self.file, *self.position)

    def item_source(self, index: int) -> Source:
        return Source(self.file, *self.item_positions[index])


def empty_map(file: str) -> YamlMap:
    result = YamlMap()
    result.file, result.position, result.key_positions, result.value_positions = (
        file,
        (1, 1),
        {},
        {},
    )
    return result


class YamlLoadError(Exception):
    def __init__(self, problem: ConfigProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.done: dict[int, Any] = {}
        self.aliased = False
        """Whether a node was reached twice (a YAML alias): only then can the
        loaded data be larger than the text."""

    def build(self, node: yaml.Node) -> Any:
        ident = id(node)
        if ident in self.done:
            self.aliased = True
            return self.done[ident]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR or node.tag == _TIMESTAMP:
                return node.value
            return self.loader.construct_object(node)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self._unsafe(node)
            return self._map(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self._unsafe(node)
            return self._list(node)
        self._unsafe(node)
        return None

    def _unsafe(self, node: yaml.Node) -> None:
        mark = node.start_mark
        raise YamlLoadError(
            ConfigProblem(
                self.file, mark.line + 1, mark.column + 1, f"unsupported YAML tag {node.tag}"
            )
        )

    def _map(self, node: yaml.MappingNode) -> YamlMap:
        own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        self.loader.flatten_mapping(node)
        # flatten_mapping puts the pairs merged in by ``<<`` first.
        merged = len(node.value) - own
        result = YamlMap()
        self.done[id(node)] = result
        mark = node.start_mark
        result.file = self.file
        result.position = (mark.line + 1, mark.column + 1)
        keys: dict[Any, Position] = {}
        values: dict[Any, Position] = {}
        own_keys: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            kmark = key_node.start_mark
            here = (kmark.line + 1, kmark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlLoadError(
                    ConfigProblem(self.file, *here, "mapping keys must be plain scalars")
                )
            key = key_node.value if key_node.tag == _STR else self.build(key_node)
            if index < merged:
                pass  # merged in by <<: the mapping's own keys may override it
            elif key in own_keys:
                raise YamlLoadError(
                    ConfigProblem(
                        self.file, *here, f"duplicate key {key!r} (first at line {keys[key][0]})"
                    )
                )
            else:
                own_keys.add(key)
            if value_node.tag == _STR and type(value_node) is yaml.ScalarNode:
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node)
            keys[key] = here
            vmark = value_node.start_mark
            values[key] = (vmark.line + 1, vmark.column + 1)
        result.key_positions = keys
        result.value_positions = values
        return result

    def _list(self, node: yaml.SequenceNode) -> YamlList:
        result = YamlList()
        self.done[id(node)] = result
        mark = node.start_mark
        result.file = self.file
        result.position = (mark.line + 1, mark.column + 1)
        result.extend(self.build(child) for child in node.value)
        result.item_positions = [
            (c.start_mark.line + 1, c.start_mark.column + 1) for c in node.value
        ]
        return result


@dataclass
class LoadedYaml:
    data: Any
    aliased: bool


def load_yaml(text: str, file_name: str) -> LoadedYaml:
    """Parse one YAML document; raise ``YamlLoadError`` with its position."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return LoadedYaml(None, False)
        builder = _Builder(loader, file_name)
        return LoadedYaml(builder.build(node), builder.aliased)
    except YamlLoadError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        raise YamlLoadError(
            ConfigProblem(file_name, line, column, f"invalid YAML: {message}")
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlLoadError(ConfigProblem(file_name, 1, 1, f"invalid YAML: {exc}")) from exc
    except RecursionError as exc:
        raise YamlLoadError(ConfigProblem(file_name, 1, 1, "YAML nested too deeply")) from exc
    finally:
        loader.dispose()
