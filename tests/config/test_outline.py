"""The outline of a config read from its text: what ``plan`` starts reading
before the config is loaded. It may miss things, but it never names an
endpoint the config does not plainly write."""

from __future__ import annotations

from pathlib import Path

import pytest

from konvsync.config.outline import outline_config


def outline_of(tmp_path: Path, text: str) -> object:
    path = tmp_path / "konvsync.yaml"
    path.write_text(text)
    return outline_config(str(path))


def test_block_style_keys_endpoint_and_flow_prune(tmp_path: Path) -> None:
    outline = outline_of(
        tmp_path,
        "konvsync: 1\nendpoint: 'https://api.example.com'  # prod\n"
        "policy:\n  prune: [users, groups]\nusers:\n  - {email: a@b.c}\n",
    )
    assert outline is not None
    assert outline.endpoint == "https://api.example.com"  # type: ignore[attr-defined]
    assert {"konvsync", "endpoint", "policy", "users"} <= outline.keys  # type: ignore[attr-defined]
    assert outline.prune == {"users", "groups"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "endpoint: ${env:PORTAL}\nusers: []\n",  # only the loader knows the value
        "endpoint: https://a.example\n  /api\nusers: []\n",  # a continued plain scalar
        "endpoint: https://a.example\n\n   more\nusers: []\n",
        "endpoint: *url\n",
        "endpoint: !!str https://a.example\n",
        "{konvsync: 1, endpoint: staging}\n",  # flow style: no guess at all
        "",
    ],
)
def test_no_endpoint_guess_unless_written_plainly(tmp_path: Path, text: str) -> None:
    outline = outline_of(tmp_path, text)
    assert outline is None or outline.endpoint is None  # type: ignore[attr-defined]


def test_two_files_naming_different_endpoints_give_no_guess(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("endpoint: staging\n")
    (tmp_path / "b.yaml").write_text("endpoint: production\n")
    assert outline_config(str(tmp_path)) is None


def test_unreadable_paths_give_no_guess(tmp_path: Path) -> None:
    assert outline_config(str(tmp_path / "missing.yaml")) is None
    (tmp_path / "latin1.yaml").write_bytes("endpoint: caf\xe9\n".encode("latin-1"))
    assert outline_config(str(tmp_path / "latin1.yaml")) is None
