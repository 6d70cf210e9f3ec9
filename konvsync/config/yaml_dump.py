"""The YAML text of an export: libyaml's emitter (``yaml.CSafeDumper``; the
pure Python one where libyaml is missing) in block style, one field a line,
so it diffs cleanly; strings that are not printable double-quoted; every
``${`` in portal text written as ``$${`` except export's own placeholders."""

from __future__ import annotations

from typing import Any

import yaml

from konvsync.config.substitution import escape


class EnvReference(str):
    """A ``${env:NAME}`` that export writes on purpose (a sensitive value's
    placeholder): the one string that is not escaped."""


_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_CHUNK = 1000
"""Entries represented at a time: PyYAML builds a node per value before it
emits, so a whole kind at once would hold a node graph of the portal."""


def dump_list(name: str, entries: list[dict[str, Any]]) -> str:
    """``dump({name: entries})``, built chunk by chunk (block sequences
    concatenate)."""
    if not entries:
        return dump({name: entries})
    parts = [f"{name}:\n"]
    parts += [dump(entries[i : i + _CHUNK]) for i in range(0, len(entries), _CHUNK)]
    return "".join(parts)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Strings with characters that are not printable (controls, NEL, line
    separators) double-quoted, where YAML escapes them: PyYAML's other styles
    can let a NEL fold into a space when the file is read back."""
    style = None if value.isprintable() else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _escaped(value: Any) -> Any:
    """``value`` with every ``${`` in its strings written as ``$${``."""
    if isinstance(value, EnvReference):
        return str(value)
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def dump(data: Any) -> str:
    return yaml.dump(
        _escaped(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=120,
    )
