"""``--endpoint`` and a config's ``endpoint`` through the CLI: a URL that
cannot be a base URL is one clear line (exit 1, before anything is sent),
and a password written into it is never shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import invoke


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://[::1", "endpoint 'http://[::1' is not a URL (Invalid IPv6 URL)"),
        ("https://127.0.0.1:99999", "endpoint 'https://127.0.0.1:99999' is not a URL "),
        (
            "https://127.0.0.1:1/?tenant=acme",
            "endpoint 'https://127.0.0.1:1/': a base URL has no ?query or #fragment "
            "(konvsync adds /api and /oauth/token to it)",
        ),
        (
            "https://127.0.0.1:1#api",
            "endpoint 'https://127.0.0.1:1': a base URL has no ?query or #fragment",
        ),
        (
            "https://admin:hunter2-secret@127.0.0.1:1",
            "endpoint 'https://127.0.0.1:1': a URL holding a user name or password is "
            "refused (credentials come from KONVERT_API_KEY and KONVERT_API_SECRET or "
            "--credentials-file, never from the endpoint)",
        ),
    ],
)
def test_an_endpoint_that_is_no_base_url_is_one_line(
    endpoint: str, message: str, tmp_path: Path
) -> None:
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    for args, env in (
        (["--endpoint", endpoint, "plan", str(config)], {}),
        (["plan", str(config)], {"KONVSYNC_ENDPOINT": endpoint}),
    ):
        result = invoke(args, env=env)
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), result.stderr
        assert "unexpected" not in result.output
        assert "hunter2" not in result.output
        assert "tenant" not in result.output


@pytest.mark.parametrize(
    "args",
    [["--endpoint", "", "plan"], ["plan", "--endpoint", " "]],
    ids=["before the command", "after it"],
)
def test_an_empty_endpoint_is_a_usage_error(
    write_config: Callable[..., Path], args: list[str]
) -> None:
    """``--endpoint "$STAGING_URL"`` with the variable unset must not fall
    back to the config's endpoint (which may be production)."""
    config = write_config("konvsync: 1\nendpoint: sandbox\ngroups: [{externalId: g, name: G}]\n")
    command = args.index("plan")
    result = invoke([*args[: command + 1], str(config), *args[command + 1 :]])
    assert result.exit_code == 1, result.output
    assert "the endpoint is empty" in result.stderr
    assert not (config.parent / ".konvsync").exists()  # no sandbox was started


def test_an_empty_endpoint_variable_is_a_usage_error(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """KONVSYNC_ENDPOINT set but empty (a pipeline's missing value): click
    reads it as unset, and the config's endpoint would be used. Offline
    commands do not mind."""
    config = write_config("konvsync: 1\nendpoint: sandbox\ngroups: [{externalId: g, name: G}]\n")
    monkeypatch.setenv("KONVSYNC_ENDPOINT", "")
    result = invoke(["plan", str(config)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: KONVSYNC_ENDPOINT is set but empty")
    assert invoke(["validate", str(config)]).exit_code == 0


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://admin:hunter2-secret@127.0.0.1:99999",
        "htps://admin:hunter2-secret@127.0.0.1:1",
        "admin:hunter2-secret@127.0.0.1:1",
        "https://admin:hunter2-secret@",
        "https://admin:hunter2#secret@127.0.0.1:1",
        "https://admin:hunter2?secret@127.0.0.1:1",
        "https://admin:2024/hunter2-secret@127.0.0.1:1",
        "https://127.0.0.1:99999/?token=hunter2-secret",
    ],
)
def test_an_endpoint_holding_a_password_never_shows_it(endpoint: str, tmp_path: Path) -> None:
    """An endpoint URL holding a password (or a token in its query) that
    was no URL otherwise (a port out of range, a scheme mistyped, a ``#``
    or ``?`` in the password) was quoted whole in the error; one whose
    password starts with digits and holds a ``/`` parsed as host ``admin``
    and port 2024, and its requests and errors carried the rest."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    for args, env in (
        (["--endpoint", endpoint, "--max-retries", "0", "plan", str(config)], {}),
        (["--max-retries", "0", "doctor"], {"KONVSYNC_ENDPOINT": endpoint}),
    ):
        result = invoke(args, env=env)
        assert result.exit_code == 1, result.output
        assert "hunter2" not in result.output, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: endpoint '"), result.output


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://admin:hunter2-secret@127.0.0.1:1", "https://admin:hunter2#secret@127.0.0.1:1"],
)
def test_a_configs_endpoint_holding_a_password_never_shows_it(
    endpoint: str, write_config: Callable[..., Path]
) -> None:
    """The config's ``endpoint`` too: the schema's message quoted it whole
    (``endpoint: 'ftp://admin:...@...' is not one of ...``), in validate and
    at file:line in plan."""
    config = write_config(f"konvsync: 1\nendpoint: '{endpoint}'\ngroups: []\n")
    for args in (["validate", str(config)], ["plan", str(config)]):
        result = invoke(args)
        schema_error = endpoint.startswith("ftp")  # validate is offline: it resolves none
        assert result.exit_code == (1 if schema_error or args[0] == "plan" else 0), result.output
        assert "hunter2" not in result.output, result.output


@pytest.mark.parametrize(
    "endpoint", ["https://127.0.0.1:1/tenants/@acme", "https://admin:2024/hunter2@127.0.0.1:1"]
)
def test_an_at_sign_after_the_host_is_named_for_what_it_may_be(
    endpoint: str, tmp_path: Path
) -> None:
    """An ``@`` that stands after the host as written (in a path, legal in a
    URL, or ending a password that holds a ``/``) is refused, as the two
    cannot be told apart; the error said the URL held a user name or
    password and named the host as what follows the ``@`` ('https://acme'),
    a URL the user never wrote, with no way out. It marks what it leaves
    out, and says how to write an ``@`` of a path."""
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    result = invoke(["--endpoint", endpoint, "plan", str(config)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    after = endpoint.rpartition("@")[2]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: endpoint 'https://***@{after}': an @ after the host"), (
        result.stderr
    )
    assert "write an @ of its path as %40" in lines[0], result.stderr
    assert "hunter2" not in result.output and "2024" not in result.output
