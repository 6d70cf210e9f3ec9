"""``--target`` and ``--kinds`` are click parameter types: a bad value is a
usage error naming the option (exit 1) before the config is read or the
portal contacted; shell completion offers their values."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from konvsync.cli.params import export_kinds_help, export_target_help, plan_target_help
from konvsync.kinds import TOP_LEVEL_KINDS, WRITABLE_KINDS, Field, Kind
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET, invoke


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


def complete(words: str) -> list[str]:
    """What bash completion offers after ``words`` (as click's bash script
    asks: COMP_WORDS and COMP_CWORD), one ``type,value`` per line."""
    parts = words.split(" ")
    result = invoke(
        [],
        env={
            "_KONVSYNC_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1),
        },
    )
    assert result.exit_code == 0, result.output
    return [line for line in result.stdout.splitlines() if line]


def test_completion_offers_endpoints_kinds_and_the_configs_keys(tmp_path: Path) -> None:
    config = tmp_path / "portal"
    config.mkdir()
    (config / "konvsync.yaml").write_text(
        "konvsync: 1\nvariables: [UNSET_IN_TESTS]\n"
        "accounts:\n  - {externalId: acme, name: ACME, locations: [{name: HQ}]}\n"
        "  - {externalId: beta, name: Beta}\n"
        "inviteLinks:\n  - {title: Dealer sign-up, access: CODE, code: '${env:UNSET_IN_TESTS}'}\n"
    )
    assert complete("konvsync plan --endpoint st") == ["plain,staging"]
    assert complete("konvsync plan --target ") == [f"plain,{k.name}" for k in WRITABLE_KINDS]
    assert complete("konvsync drift --target us") == ["plain,users"]
    # keys from the config paths on the line, read offline (no variable needed)
    assert complete(f"konvsync plan {config} --target accounts/") == [
        "plain,accounts/acme",
        "plain,accounts/beta",
    ]
    assert complete(f"konvsync apply {config} --target locations/a") == ["plain,locations/acme/HQ"]
    assert complete(f"konvsync plan {config} --target inviteLinks/") == [
        "plain,inviteLinks/Dealer sign-up"
    ]
    # no config on the line, or one that cannot be read: kinds only, no error
    assert complete("konvsync plan --target accounts/") == []
    (config / "broken.yaml").write_text("groups: [\n")
    assert complete(f"konvsync plan {config} --target accounts/") == []
    assert complete("konvsync export --target gr") == ["nospace,groups/"]
    assert complete("konvsync export --kinds groups,u") == ["plain,groups,users"]


def test_completion_offers_no_key_an_unset_variable_leaves_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key written as ``${env:NAME}`` is the variable's value: offered when
    it is set, and not offered as the reference itself when it is not."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\nvariables: [TEAM_IN_TESTS]\n"
        "groups:\n  - {externalId: '${env:TEAM_IN_TESTS}-sales', name: Sales}\n"
        "  - {externalId: staff, name: Staff}\n"
    )
    monkeypatch.delenv("TEAM_IN_TESTS", raising=False)
    assert complete(f"konvsync plan {config} --target groups/") == ["plain,groups/staff"]
    monkeypatch.setenv("TEAM_IN_TESTS", "north")
    assert complete(f"konvsync plan {config} --target groups/") == [
        "plain,groups/north-sales",
        "plain,groups/staff",
    ]


def _option_help(command: str, option: str) -> str:
    """The help of one option of ``konvsync COMMAND --help``, on one line."""
    result = invoke([command, "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    text = text[text.index(" Options: ") :]  # not an example above them
    rest = text[text.index(f" {option} ") + len(option) + 2 :]
    end = rest.find(" --")  # the next option
    return rest if end < 0 else rest[:end]


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_target_help_names_every_writable_kind(command: str) -> None:
    assert _option_help(command, "--target").endswith(
        "KIND: " + ", ".join(k.name for k in WRITABLE_KINDS) + "."
    )


@pytest.mark.parametrize("option", ["--kinds", "--target"])
def test_export_help_names_every_top_level_kind(option: str) -> None:
    """Once the --kinds default named four kinds and left out inviteLinks."""
    names = ", ".join(k.name for k in TOP_LEVEL_KINDS)
    assert names in _option_help("export", option)
    assert "inviteLinks" in _option_help("export", option)


def test_help_texts_come_from_the_kinds() -> None:
    scratch = Kind("scratchPosts", "scratch post", "slug", (Field("slug"),), "s.graphql", "Post")
    assert plan_target_help((*WRITABLE_KINDS, scratch)).endswith(
        ", ".join(k.name for k in WRITABLE_KINDS) + ", scratchPosts."
    )
    assert f"{TOP_LEVEL_KINDS[-1].name}, scratchPosts (default: all; locations come with " in (
        export_kinds_help((*TOP_LEVEL_KINDS, scratch))
    )
    assert export_target_help((scratch,)).endswith("KIND: scratchPosts.")


@pytest.mark.parametrize(
    "args",
    [["plan", "{config}", "--out", ""], ["export", "--out", ""]],
    ids=["plan", "export"],
)
def test_an_empty_file_name_is_a_usage_error(args: list[str], tmp_path: Path) -> None:
    """`--out "$PLAN_FILE"` with the variable unset in CI: plan saved nothing
    and exited 0 (apply then found no plan), export printed to stdout."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    line = [arg.format(config=config) for arg in args]
    result = invoke(["--endpoint", "http://127.0.0.1:1", *line])
    assert result.exit_code == 1, result.output
    assert "'--out': the file name is empty" in result.stderr
    assert "cannot reach" not in result.output


def test_an_empty_report_name_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    result = invoke(["--endpoint", "http://127.0.0.1:1", "apply", str(config), "--report", ""])
    assert result.exit_code == 1, result.output
    assert "'--report': the file name is empty" in result.stderr


def test_an_empty_credentials_file_name_is_a_usage_error(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """``--credentials-file "$CREDS"`` with the variable unset: the empty name
    read as no file, and konvsync authenticated with the environment's
    KONVERT_API_KEY and KONVERT_API_SECRET (another service connection's,
    perhaps), exit 0 and no word, as an empty config path read the current
    folder."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    args = ["--credentials-file", "", "--endpoint", sandbox.url, "plan", str(config)]
    result = invoke(args)
    assert result.exit_code == 1, result.output
    assert "'--credentials-file': the file name is empty" in result.stderr, result.output
    assert "Plan:" not in result.stdout, result.output


def test_plan_out_never_replaces_an_input(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """``plan portal/users.yaml --out portal/users.yaml`` (a careless
    completion) wrote the plan over the config it had just read, exit 0."""
    portal = tmp_path / "portal"
    portal.mkdir()
    config = portal / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    credentials = tmp_path / "creds.yaml"
    credentials.write_text(f"api_key: {KEY}\napi_secret: {SECRET}\n")
    credentials.chmod(0o600)
    for paths, out, replaced in (
        ([str(config)], config, config),
        ([str(portal)], config, portal),
        ([str(portal)], credentials, credentials),
    ):
        before = out.read_bytes()
        result = invoke(
            [
                "--endpoint",
                sandbox.url,
                "--credentials-file",
                str(credentials),
                "plan",
                *paths,
                "--out",
                str(out),
            ]
        )
        assert result.exit_code == 1, result.output
        assert result.stderr == (
            f"Error: --out {out} would replace {replaced}, which this command reads; "
            "name another file\n"
        )
        assert out.read_bytes() == before
    saved = invoke(["--endpoint", sandbox.url, "plan", str(portal), "--out", str(tmp_path / "p")])
    assert saved.exit_code == 0, saved.output  # another file is fine


@pytest.mark.parametrize("option", ["--out", "--report"])
def test_an_output_that_is_not_a_regular_file_is_a_usage_error(tmp_path: Path, option: str) -> None:
    """``--report /dev/stdout`` or a FIFO: the file is replaced whole, so the
    FIFO became a regular file of that name (and, run as root, /dev/stdout)."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    command = "plan" if option == "--out" else "apply"
    result = invoke(["--endpoint", "http://127.0.0.1:1", command, str(config), option, str(fifo)])
    assert result.exit_code == 1, result.output
    assert f"{fifo} is not a regular file (konvsync replaces the file whole)" in result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
