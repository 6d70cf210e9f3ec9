"""The global options, declared once: the group takes them before the
command, and every command that connects takes them after it too, with the
same help, listed after the command's own options."""

from __future__ import annotations

import re
from pathlib import Path

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


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "soon"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_timeout_is_a_positive_number_of_seconds(value: str, where: str, tmp_path: Path) -> None:
    """inf was an "unexpected OverflowError"; nan, -1 and 0 waited for ever
    (aiohttp takes them for no timeout): each is a usage error, exit 1,
    before anything is read or sent."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    plan = ["plan", str(config)]
    args = [*plan, "--timeout", value] if where == "after" else ["--timeout", value, *plan]
    result = invoke(["--endpoint", "http://127.0.0.1:1", *args])
    assert result.exit_code == 1, result.output
    assert "unexpected" not in result.output
    assert "--timeout" in result.stderr and "cannot reach" not in result.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_validate_takes_the_output_options_after_the_command_too(
    where: str, tmp_path: Path
) -> None:
    """``konvsync validate portal/ -v`` was "No such option '-v'", though -v
    is how validate lists the files it read."""
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "users.YAML").write_text(
        "konvsync: 1\ngroups: [{externalId: g, name: G}]\n"
    )
    validate = ["validate", str(tmp_path / "portal")]
    result = invoke([*validate, "-v"] if where == "after" else ["-v", *validate])
    assert result.exit_code == 0, result.output
    assert "users.YAML" in result.stderr  # the file listed
    quiet = invoke([*validate, "-q"] if where == "after" else ["-q", *validate])
    assert quiet.exit_code == 0 and "users.YAML" not in quiet.stderr


def test_offline_commands_list_only_the_output_options() -> None:
    for command in ("validate", "show"):
        names = option_names(invoke([command, "--help"]).stdout)
        assert names[-5:] == ["--verbose", "--quiet", "--no-color", "--traceback", "--help"]
        assert "--endpoint" not in names


@pytest.mark.parametrize(("typed", "meant"), [("plann", "plan"), ("aply", "apply")])
def test_a_misspelt_command_gets_a_did_you_mean(typed: str, meant: str) -> None:
    result = invoke([typed, "portal/"])
    assert result.exit_code == 1, result.output
    assert f"Error: No such command '{typed}'; did you mean '{meant}'?" in result.stderr


def test_an_unknown_command_far_from_any_is_named_alone() -> None:
    result = invoke(["frobnicate"])
    assert result.exit_code == 1, result.output
    assert "Error: No such command 'frobnicate'." in result.stderr
    assert "did you mean" not in result.stderr


def described_options(help_text: str) -> dict[str, str]:
    """Each option a --help lists, with its description (what follows its
    names and metavar; click starts it after two spaces or on the next line),
    without the [default: ...] and [range] notes click adds."""
    section = help_text.split("\nOptions:\n", 1)[1]
    entries = re.split(r"\n(?=  -)", section.strip("\n"))
    out: dict[str, str] = {}
    for entry in entries:
        first, _, rest = entry.partition("\n")
        names, _, text = first.strip().partition("  ")
        described = re.sub(r"\[[^\]]*\]", "", " ".join([text, rest]))
        out[re.findall(r"--[\w-]+", names)[0]] = " ".join(described.split())
    return out


@pytest.mark.parametrize(
    "command",
    ["validate", "schema", "plan", "apply", "drift", "show", "export", "doctor", "sandbox"],
)
def test_every_option_of_every_command_says_what_it_does(command: str) -> None:
    """``konvsync sandbox --help`` listed --port with nothing but its
    default and range."""
    for args in (["--help"], [command, "--help"]):
        result = invoke(args)
        assert result.exit_code == 0, result.output
        options = described_options(result.stdout)
        assert "--help" in options
        assert [name for name, text in options.items() if not text] == [], args


@pytest.mark.parametrize(
    ("command", "codes"),
    [
        ("validate", "Exit 0 valid, 1 invalid."),
        ("schema", "Exit 0."),
        ("export", "Exit 0 written; 1 error."),
        ("show", "Exit 0; 1 when PLANFILE is not a konvsync plan file, or a damaged one; 3"),
        ("doctor", "Exit 0 when all is well, 1 otherwise."),
        ("sandbox", "Exit 0 when stopped (Ctrl-C or SIGTERM); 1 when it cannot start"),
    ],
)
def test_every_command_says_its_exit_codes(command: str, codes: str) -> None:
    """export, schema and sandbox said none, show left out a damaged plan
    file (1)."""
    result = invoke([command, "--help"])
    assert result.exit_code == 0, result.output
    assert codes in " ".join(result.stdout.split())


def test_the_groups_exit_codes_name_every_refusal() -> None:
    """apply's refusal of input the portal's schema does not take (exit 3)
    was missing from the group's list."""
    flat = " ".join(invoke(["--help"]).stdout.split())
    assert "3 refused (an unsafe or stale plan, a portal guard mismatch, input the" in flat
