"""A credentials file written with a YAML merge key (``<<``, shared from an
anchor): PyYAML's safe loader resolves it, and the refusal of a key given
twice (``api.credentials``) is of keys the file writes twice, not of the
merge key itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET, invoke


def test_a_credentials_file_with_a_merge_key_is_read(
    sandbox: RunningSandbox, tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """Once read as 'not valid YAML or JSON': the unique-keys loader built
    the ``<<`` key as an object, which has no constructor."""
    path = tmp_path / "creds.yaml"
    path.write_text(
        f"shared: &shared {{api_key: {KEY}}}\n<<: *shared\napi_secret: {SECRET}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    config = write_config("konvsync: 1\ngroups: []\n")
    args = ["--credentials-file", str(path), "--endpoint", sandbox.url, "plan", str(config)]
    result = invoke(args, env={"KONVERT_API_KEY": "", "KONVERT_API_SECRET": ""})
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout, result.output
    assert SECRET not in result.output
