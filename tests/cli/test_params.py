"""``--target`` and ``--kinds`` are click parameter types: a bad value is a
usage error naming the option (exit 1) before the config is read or the
portal contacted."""

from __future__ import annotations

import pytest

from konvsync.kinds import WRITABLE_KINDS
from tests.conftest import invoke


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_a_bad_target_is_refused_before_anything_is_read(command: str) -> None:
    result = invoke([command, "no-such-config", "--target", "widgets/x"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: Invalid value for '--target': unknown kind 'widgets' (one of "
        + ", ".join(k.name for k in WRITABLE_KINDS)
        + ")"
    )


def test_a_target_key_may_hold_slashes() -> None:
    result = invoke(["plan", "no-such-config", "--target", "accounts/dealers/east"])
    assert result.exit_code == 1
    assert "Invalid value" not in result.stderr  # the config, not the target, is missing


def test_export_kinds_and_target() -> None:
    kinds = invoke(["export", "--kinds", "groups,widgets"])
    assert kinds.exit_code == 1
    assert kinds.stderr.startswith("Error: Invalid value for '--kinds': unknown kind(s) widgets")
    target = invoke(["export", "--target", "groups"])
    assert target.exit_code == 1
    assert target.stderr.startswith("Error: Invalid value for '--target': give KIND/KEY")
