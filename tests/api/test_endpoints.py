"""``--endpoint`` and a config's ``endpoint`` through the CLI: a URL that
cannot be a base URL is one clear line (exit 1, before anything is sent),
and a password written into it is never shown."""

from __future__ import annotations

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
