"""The service connection's API key and secret: from ``KONVERT_API_KEY`` and
``KONVERT_API_SECRET`` or a credentials file; never from flags."""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from konvsync.errors import CredentialsError
from konvsync.support.environment import environment_text, not_utf8
from konvsync.support.files import UnreadableFile, read_bounded

log = logging.getLogger("konvsync.credentials")


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str = field(repr=False)


def load_credentials(credentials_file: str | None) -> Credentials:
    if credentials_file:
        return _from_file(Path(credentials_file))
    key = _variable("KONVERT_API_KEY")
    secret = _variable("KONVERT_API_SECRET")
    if key and secret:
        return Credentials(key, secret)
    missing = [n for n, v in (("KONVERT_API_KEY", key), ("KONVERT_API_SECRET", secret)) if not v]
    raise CredentialsError(
        f"no credentials: set {' and '.join(missing)} (or use --credentials-file FILE)"
    )


def _variable(name: str) -> str | None:
    """A credentials variable read as UTF-8 (as a credentials file is),
    whatever the locale; one that is not UTF-8 is refused without its text."""
    value = environment_text(name)
    if not_utf8(value):
        raise CredentialsError(f"{name} is not UTF-8 text; set it again")
    return value


MAX_CREDENTIALS_BYTES = 64 * 1024


class _KeyTwice(Exception):
    """A key given twice (no key or value in its text: either may be a secret)."""

    def __init__(self, line: int = 0) -> None:
        super().__init__(f"a key given twice (line {line})")
        self.line = line


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    if len({key for key, _value in pairs}) != len(pairs):
        raise _KeyTwice()
    return dict(pairs)


class _UniqueKeysLoader(yaml.SafeLoader):
    """``safe_load``, refusing a mapping that names a key twice (PyYAML takes
    the last), as konvsync's config loader does."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<``: merged by SafeLoader below, its keys under the file's own
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise _KeyTwice(key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _from_file(path: Path) -> Credentials:
    """Errors name the file and at most a line number: never the file's text,
    not even in the exception chain ``--traceback`` prints (``from None``)."""
    try:
        text = read_bounded(path, MAX_CREDENTIALS_BYTES, "credentials files").decode("utf-8")
        mode = path.stat().st_mode
    except UnreadableFile as exc:
        raise CredentialsError(f"{path}: cannot read credentials file: {exc}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{path}: cannot read credentials file: not UTF-8 text") from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read credentials file: {exc.strerror}") from None
    line: int | None = None
    try:
        data = (
            json.loads(text, object_pairs_hook=_unique_pairs)
            if path.suffix == ".json"
            else yaml.load(text, Loader=_UniqueKeysLoader)  # a SafeLoader
        )
    except _KeyTwice as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise CredentialsError(
            f"{where}: a key given twice in the credentials file (which one counts is a guess)"
        ) from None
    except json.JSONDecodeError as exc:
        line = exc.lineno
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
    except (ValueError, yaml.YAMLError, RecursionError):
        line = 0
    if line is not None:
        where = f"{path}:{line}" if line else str(path)
        raise CredentialsError(f"{where}: not valid YAML or JSON")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("api_key"), str)
        or not isinstance(data.get("api_secret"), str)
    ):
        raise CredentialsError(f"{path}: needs string fields api_key and api_secret")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by group or others; run: chmod 600 %s", path, path)
    return Credentials(data["api_key"], data["api_secret"])
