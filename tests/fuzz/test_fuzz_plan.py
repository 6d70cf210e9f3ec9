"""``konvsync plan`` against one in-process sandbox, on generated and mutated
configs (one file, or split over a directory): it exits 0, 1, 2 or 3, never
with an "unexpected" error, a traceback or the secret, and never writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from konvsync.sandbox.server import SandboxSettings, running_sandbox
from tests.conftest import SECRET, invoke
from tests.fuzz.strategies import examples_for, plannable, yaml_text
from tests.fuzz.test_fuzz_validate import fuzz_settings, unfrozen


def _seed(store: object) -> dict[str, int]:
    from konvsync.sandbox.store import Store

    assert isinstance(store, Store)
    for index in range(12):  # enough for the mass-delete guard to refuse (exit 3)
        store.create("groups", {"externalId": f"g{index}", "name": f"G{index}"})
    store.create("groups", {"externalId": "sales", "name": "Sales"})
    store.create("groups", {"name": "keyless"})
    store.create(
        "accountFields",
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
    )
    account = store.create("accounts", {"externalId": "acme", "name": "ACME"})
    store.create("locations", {"name": "HQ"}, parent_id=account["id"])
    store.create("users", {"email": "x@y.example", "firstName": "X", "lastName": "Y"})
    return {table: store.count(table) for table in ("groups", "accounts", "locations", "users")}


def _write(directory: Path, document: object, split: bool) -> Path:
    for old in directory.glob("*.yaml"):
        old.unlink()
    if split and isinstance(document, dict) and len(document) > 1:
        keys = list(document)
        half = len(keys) // 2
        (directory / "a.yaml").write_text(yaml_text({k: document[k] for k in keys[:half]}))
        (directory / "b.yaml").write_text(yaml_text({k: document[k] for k in keys[half:]}))
        return directory
    path = directory / "konvsync.yaml"
    path.write_text(yaml_text(document))
    return path


def test_plan_against_the_sandbox_never_fails_unexpectedly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("fuzz-plan")
    codes: list[int] = []
    with running_sandbox(SandboxSettings(port=0, db=":memory:")) as sandbox:
        counts = _seed(sandbox.store)

        @fuzz_settings(0.15)
        @given(plannable(), st.booleans(), st.sampled_from(["text", "markdown", "json"]))
        def run(document: object, split: bool, fmt: str) -> None:
            path = _write(directory, document, split)
            args = ["--endpoint", sandbox.url, "plan", str(path), "--detailed-exitcode"]
            result = invoke([*args, "--format", fmt])
            unfrozen()
            assert result.exit_code in (0, 1, 2, 3), result.output
            assert "Error: unexpected" not in result.output, (yaml_text(document), result.output)
            assert "Traceback" not in result.output
            assert SECRET not in result.output
            codes.append(result.exit_code)

        run()
        after = {t: sandbox.store.count(t) for t in ("groups", "accounts", "locations", "users")}
    assert after == counts  # plan never writes
    assert len(codes) >= examples_for(0.15) * 0.9
    assert {1, 2} <= set(codes)
