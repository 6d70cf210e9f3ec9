"""The global options, declared once: the group takes them before the
command, and every command that connects takes them after it too, with the
same help, listed after the command's own options."""

from __future__ import annotations

import re

import pytest

from tests.conftest import invoke


def option_names(help_text: str) -> list[str]:
    """The options a --help lists, in order (each one's long name)."""
    section = help_text.split("\nOptions:\n", 1)[1]
    return re.findall(r"^  (?:-\w, )?(--[\w-]+)", section, flags=re.M)


@pytest.mark.parametrize(
    ("command", "own"),
    [
        ("plan", "--out"),
        ("apply", "--auto-approve"),
        ("drift", "--write"),
        ("export", "--out"),
        ("doctor", "--config"),
    ],
)
def test_a_commands_help_lists_its_own_options_first(command: str, own: str) -> None:
    group = invoke(["--help"])
    shown = invoke([command, "--help"])
    assert shown.exit_code == 0
    names = option_names(shown.stdout)
    shared = [n for n in option_names(group.stdout) if n not in ("--version", "--help")]
    assert names.index(own) < names.index("--endpoint")
    assert names[-len(shared) - 1 : -1] == shared  # then the shared ones, --help last
    assert "As before the command" not in shown.stdout
    # the same words as the group's help
    flat = " ".join(shown.stdout.split())
    assert "production, staging, sandbox or a base URL (env KONVSYNC_ENDPOINT;" in flat
