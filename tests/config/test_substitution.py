"""``${env:NAME}`` through the CLI: only listed variables, never credentials
or konvsync's settings, and nothing of a refused value anywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import SECRET, invoke

ATTEMPTS = """\
konvsync: 1
groups:
  - {externalId: leak, name: "x-${env:KONVERT_API_SECRET}"}
  - {externalId: setting, name: "${env:KONVSYNC_SANDBOX_API_SECRET:-d}"}
  - {externalId: other, name: "${env:PR_SECRET_TOKEN}"}
"""


def test_plan_refuses_credentials_settings_and_unlisted_variables(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(ATTEMPTS)
    plan_file = tmp_path / "leak.plan"
    env = {"KONVSYNC_SANDBOX_API_SECRET": "settings-value-123", "PR_SECRET_TOKEN": "tok-456"}
    result = invoke(
        ["--endpoint", sandbox.url, "plan", str(config), "--out", str(plan_file)], env=env
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert f"{config}:3:30: ${{env:KONVERT_API_SECRET}}: KONVERT_* and KONVSYNC_*" in lines[0]
    assert f"{config}:4:33: ${{env:KONVSYNC_SANDBOX_API_SECRET}}: KONVERT_*" in lines[1]
    assert f"{config}:5:31: ${{env:PR_SECRET_TOKEN}}: variable PR_SECRET_TOKEN is not " in lines[2]
    assert lines[-1] == "Error: configuration invalid: 3 problems"
    for value in (SECRET, "settings-value-123", "tok-456"):
        assert value not in result.output
    assert not plan_file.exists()
    assert sandbox.store.count("groups") == 0
    assert sandbox.state.requests["/api"] <= 2  # at most the read-ahead, never a mutation

    applied = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"], env=env)
    assert applied.exit_code == 1 and SECRET not in applied.output
    assert sandbox.store.count("groups") == 0


def test_listed_variables_are_substituted_in_any_file_of_the_config(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "portal"
    (config / "groups").mkdir(parents=True)
    (config / "konvsync.yaml").write_text("konvsync: 1\nvariables: [REGION]\n")
    (config / "groups" / "sales.yaml").write_text(
        'groups:\n  - {externalId: "sales-${env:REGION}", name: "Sales $${env:REGION}"}\n'
    )
    monkeypatch.setenv("REGION", "west")
    result = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert result.exit_code == 0, result.output
    groups = sandbox.store.page("groups", 100, None)["nodes"]
    assert [(g["externalId"], g["name"]) for g in groups] == [("sales-west", "Sales ${env:REGION}")]
    # The value is part of the config's digest: a saved plan made with another
    # value is a plan of another config.
    from konvsync.config.loader import load_config

    west = load_config(str(config)).digest
    monkeypatch.setenv("REGION", "east")
    assert load_config(str(config)).digest != west


def test_validate_never_echoes_a_refused_value(write_config: Callable[..., Path]) -> None:
    config = write_config("""\
        konvsync: 1
        users:
          - {email: "${env:KONVERT_API_SECRET}", firstName: A, lastName: B}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    assert SECRET not in result.output
    # the reference is refused, and nothing more is said of the text left as written
    assert result.stderr.splitlines() == [
        f"{config}:3:13: ${{env:KONVERT_API_SECRET}}: KONVERT_* and KONVSYNC_* variables hold "
        "credentials and konvsync's settings and are never substituted",
        "Error: configuration invalid: 1 problem",
    ]


def test_a_sensitive_fields_reference_is_named_not_masked(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invite code written ``${env:BAR}`` with BAR not listed was reported
    as "***: variable BAR is not listed": the reference's own text was
    masked as if it were the code."""
    monkeypatch.delenv("BAR", raising=False)
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: A, access: CODE, code: "${env:BAR}"}
          - {title: B, access: CODE, code: "lit3ral-c0de-${env:BAR}"}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    for line in (3, 4):
        assert f"{config}:{line}:36: ${{env:BAR}}: variable BAR is not listed" in result.stderr
    assert "***" not in result.stderr and "lit3ral-c0de-" not in result.output


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("$${env:REGION}", "${env:REGION}"),
        ("$$${env:REGION}", "$${env:REGION}"),  # "$" and an escaped "${"
        ("$$$${env:REGION}", "$$${env:REGION}"),
        ("${env:UNSET_OF_THE_TESTS:-$${x}}", "${x}"),
        ("a$b $ {env:REGION} ${REGION}", "a$b $ {env:REGION} ${REGION}"),
        ("${env:REGION}-${env:REGION:-east}", "west-west"),
    ],
)
def test_escapes_and_defaults(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, written: str, meant: str
) -> None:
    from konvsync.config.loader import load_config
    from konvsync.config.substitution import escape

    monkeypatch.setenv("REGION", "west")
    monkeypatch.delenv("UNSET_OF_THE_TESTS", raising=False)
    config = write_config(f"""\
        konvsync: 1
        variables: [REGION, UNSET_OF_THE_TESTS]
        groups: [{{externalId: a, name: "{written}"}}, {{externalId: b, name: "{escape(meant)}"}}]
        """)
    groups = load_config(str(config)).objects["groups"]
    assert groups["a"].data["name"] == meant
    assert groups["b"].data["name"] == meant  # escape() is the inverse of loading


UNSET_EVERYWHERE = """\
konvsync: 1
variables: [TEAM, PERMISSION, FIELD_TYPE, ACCOUNT, EXPIRES]
policy:
  scope: {groups: ["team-*"]}
groups:
  - {externalId: "${env:TEAM}", name: Team, permissions: ["${env:PERMISSION}"]}
accountFields:
  - {key: num, label: Number, type: "${env:FIELD_TYPE}"}
users:
  - {email: a@x.example, firstName: A, lastName: B, account: "${env:ACCOUNT}"}
inviteLinks:
  - {title: Spring, access: OPEN, expiresAt: "${env:EXPIRES}"}
"""


def test_an_unset_variable_is_the_one_problem_at_its_place(
    sandbox: RunningSandbox, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan needs every value: an unset variable in a key, in a value with a
    pattern or an enum, in a reference and in a date is an error at its
    place, and nothing else is said there about the reference left as
    written ("groups '${env:TEAM}' is outside policy.scope", "'${env:PERMISSION}'
    is not one of ...")."""
    config = write_config(UNSET_EVERYWHERE)
    for name in ("TEAM", "PERMISSION", "FIELD_TYPE", "ACCOUNT", "EXPIRES"):
        monkeypatch.delenv(name, raising=False)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{config}:6:18: environment variable TEAM is not set (write ${{env:TEAM:-default}} "
        "for a default)",
        f"{config}:6:59: environment variable PERMISSION is not set (write "
        "${env:PERMISSION:-default} for a default)",
        f"{config}:8:37: environment variable FIELD_TYPE is not set (write "
        "${env:FIELD_TYPE:-default} for a default)",
        f"{config}:10:62: environment variable ACCOUNT is not set (write "
        "${env:ACCOUNT:-default} for a default)",
        f"{config}:12:46: environment variable EXPIRES is not set (write "
        "${env:EXPIRES:-default} for a default)",
        "Error: configuration invalid: 5 problems",
    ]
    # offline, the same values are only said to be unchecked
    offline = invoke(["validate", str(config)])
    assert offline.exit_code == 0, offline.output


def test_a_variable_that_is_not_utf8_text_is_a_problem_at_its_place(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    """A value that is not UTF-8 (bytes 0xff 0xfe, which Python holds as the
    lone surrogates \\udcff \\udcfe) was substituted, shown as "\\udcff" and
    sent: the portal stored a name that is not text. Now it is a problem
    naming the variable (never its value); nothing is sent."""
    config = write_config(
        'konvsync: 1\nvariables: [REGION]\ngroups:\n  - {externalId: a, name: "A ${env:REGION}"}\n'
    )
    env = {"REGION": b"\xff\xfe".decode("utf-8", "surrogateescape")}
    for args in (["validate", str(config)], ["--endpoint", sandbox.url, "plan", str(config)]):
        result = invoke(args, env=env)
        assert result.exit_code == 1, result.output
        assert f"{config}:4:27: environment variable REGION is not UTF-8 text" in result.stderr
        assert "udcff" not in result.output
    assert sandbox.store.count("groups") == 0
