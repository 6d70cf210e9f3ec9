"""``${env:NAME}`` substitution in config string values, and its escape.

Only variables the configuration lists under ``variables:`` (in any of its
files) are substituted; ``KONVERT_*`` and ``KONVSYNC_*`` (credentials and
konvsync's own settings) never are, even when listed. ``$${`` writes a
literal ``${``; ``escape`` is its inverse, used by ``export`` so that text
from the portal is never read as a substitution. Problems name the variable,
never its value.

Offline (``validate``), a listed variable that is not set is not an error:
the reference stays as written and its place is recorded (``unset``), so
that the checks of that value (a URL's form, a custom field's type) can be
left out and said to be left out. ``plan`` and ``apply`` need every value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from konvsync.config.model import Source
from konvsync.config.yaml_loader import YamlList, YamlMap
from konvsync.errors import ConfigProblem
from konvsync.support.environment import environment_text, not_utf8

RESERVED_PREFIXES = ("KONVERT_", "KONVSYNC_")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"\$\$\{|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{\s*(?i:env)\s*:")
"""An escaped ``$${``, a well-formed reference, or the start of a malformed
one: also ``${ env:NAME }`` or ``${ENV:NAME}``, which read as text would send
the reference itself (an invite code everyone can guess) to the portal."""
_WHOLE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
"""A value that is one reference without a default."""


def in_a_key(key: str) -> str:
    """What a message about key ``key`` adds when it holds a reference:
    substitution is done in values, never in keys."""
    return " (${env:...} is substituted in values, not in keys)" if "${" in key else ""


def literal_parts(value: str) -> list[str]:
    """``value`` without the ``${env:NAME}`` references left in it as written
    (a variable not listed, or not set where that is allowed): the text that
    may be a secret. The reference's own text is not, and masking it would
    hide which variable a message is about."""
    return _WHOLE.split(value)[::2]  # the odd items are the references' names


def is_reserved(name: str) -> bool:
    """Credentials and konvsync's settings (compared case-insensitively, as
    Windows compares variable names)."""
    return name.upper().startswith(RESERVED_PREFIXES)


def escape(text: str) -> str:
    """``text`` as a config string value that loads back as exactly ``text``."""
    return text.replace("${", "$${")


@dataclass
class Substitution:
    """One config's substitution: the variables it may read and those it did."""

    allowed: frozenset[str]
    problems: list[ConfigProblem]
    used: dict[str, str | None] = field(default_factory=dict)
    """Name -> value (None: unset) of each allowed variable read."""
    whole: dict[Source, str] = field(default_factory=dict)
    """Places whose value was one ``${env:NAME}`` and nothing else -> NAME."""
    offline: bool = False
    """Leave a listed but unset variable's reference as written (``unset``)."""
    unset: dict[Source, list[str]] = field(default_factory=dict)
    """Offline: places whose value uses listed variables that are not set."""

    def apply(self, data: YamlMap, skip_top_level: tuple[str, ...] = ("variables",)) -> None:
        """Substitute in every string value of ``data``, in place."""
        done: set[int] = set()
        for key, item in data.items():
            if key in skip_top_level:
                continue
            if isinstance(item, str):
                if "${" in item:  # only then is its position worth looking up
                    data[key] = self.expand(item, data.value_source(key))
            else:
                self._walk(item, done)

    def _walk(self, value: Any, done: set[int]) -> None:
        if id(value) in done:  # aliases share one object: substitute it once
            return
        done.add(id(value))
        if isinstance(value, YamlMap):
            for key, item in value.items():
                if isinstance(item, str):
                    if "${" in item:
                        value[key] = self.expand(item, value.value_source(key))
                else:
                    self._walk(item, done)
        elif isinstance(value, YamlList):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    if "${" in item:
                        value[index] = self.expand(item, value.item_source(index))
                else:
                    self._walk(item, done)

    def expand(self, text: str, where: Source) -> str:
        if "${" not in text:
            return text
        whole = _WHOLE.fullmatch(text.strip())
        if whole is not None:
            self.whole[where] = whole.group(1)
        return _TOKEN.sub(lambda match: self._replace(match, where), text)

    def _replace(self, match: re.Match[str], where: Source) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if default is not None:
            if "${" in default.replace("$${", ""):
                self.problems.append(
                    where.problem(
                        f"${{env:{name}:-...}}: a default cannot hold ${{...}} (no nested "
                        "substitution); write $${ for a literal ${"
                    )
                )
                return token
            default = default.replace("$${", "${")
        if name is None:
            self.problems.append(
                where.problem(
                    "malformed ${env:...}: write ${env:NAME} or ${env:NAME:-default}, "
                    "or $${ for a literal ${"
                )
            )
            return token
        if is_reserved(name):
            self.problems.append(
                where.problem(
                    f"${{env:{name}}}: KONVERT_* and KONVSYNC_* variables hold credentials "
                    "and konvsync's settings and are never substituted"
                )
            )
            return token
        if name not in self.allowed:
            self.problems.append(
                where.problem(
                    f"${{env:{name}}}: variable {name} is not listed in 'variables:'; "
                    f"add it there (variables: [{name}]) to substitute it"
                )
            )
            return token
        value = environment_text(name)
        if not_utf8(value):
            self.problems.append(
                where.problem(f"environment variable {name} is not UTF-8 text; set it again")
            )
            return token
        self.used[name] = value
        if value is not None:
            return value
        if default is not None:
            return default
        if self.offline:
            self.unset.setdefault(where, []).append(name)
            return token
        self.problems.append(
            where.problem(
                f"environment variable {name} is not set "
                f"(write ${{env:{name}:-default}} for a default)"
            )
        )
        return token


def declared_variables(documents: list[YamlMap]) -> frozenset[str]:
    """The names every file's ``variables:`` lists (the schema check reports
    entries that are not names; reserved names are never allowed)."""
    names: set[str] = set()
    for data in documents:
        listed = data.get("variables")
        if not isinstance(listed, list):
            continue
        names.update(
            name
            for name in listed
            if isinstance(name, str) and VARIABLE_NAME.fullmatch(name) and not is_reserved(name)
        )
    return frozenset(names)
