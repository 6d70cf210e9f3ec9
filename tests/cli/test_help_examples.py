"""The examples at the end of each command's ``--help``: every one names the
command it documents and parses as the command line parses it."""

from __future__ import annotations

import shlex

import click
import pytest
from click.testing import CliRunner

from konvsync.cli.main import cli

DOCUMENTED = ["validate", "plan", "apply", "drift", "show", "export", "doctor"]


def examples(name: str) -> list[list[str]]:
    """The command lines under ``Examples:`` in ``name``'s help (a line ending
    with a backslash goes on in the next), each split as a shell splits it."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.help is not None
    _, found, text = command.help.partition("Examples:")
    assert found, f"konvsync {name} --help has no examples"
    joined = text.replace("\b", "").replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_example_is_a_command_line_konvsync_takes(name: str) -> None:
    """An option renamed or removed (or a value a Choice no longer has, where
    the parser sees it) makes its example fail here rather than mislead a
    reader: ``--help`` after the example's arguments parses them first."""
    lines = examples(name)
    assert lines
    for argv in lines:
        assert argv[:2] == ["konvsync", name], argv
        result = CliRunner().invoke(cli, [*argv[1:], "--help"])
        assert result.exit_code == 0, (argv, result.output)
        assert result.output.startswith(f"Usage: konvsync {name} "), result.output


def test_a_wrong_option_in_an_example_would_fail() -> None:
    """The check above can fail: an option the command does not have."""
    result = CliRunner().invoke(cli, ["plan", "portal/", "--no-such-option", "--help"])
    assert result.exit_code == 1  # konvsync's exit for a usage error
    assert "No such option '--no-such-option'" in result.output


@pytest.mark.parametrize("name", DOCUMENTED)
def test_an_example_over_two_lines_shows_as_two_lines(name: str) -> None:
    """A backslash at the end of a docstring's line joins the lines in
    Python's source, not in the shell: ``export --help`` showed one line
    with a gap of nine spaces where the example went on in the next line."""
    result = CliRunner().invoke(cli, [name, "--help"])
    _, _, shown = result.output.partition("Examples:")
    for line in shown.partition("Options:")[0].splitlines():
        assert "   " not in line.strip(), line
