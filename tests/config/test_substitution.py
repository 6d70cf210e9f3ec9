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
    assert "does not match" in result.stderr  # the literal text was checked, not the secret


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
