"""``konvsync validate`` on configs generated from the JSON Schema, on mutated
examples and on mangled YAML text: it exits 0 or 1, with one line per problem,
never an "unexpected" error or a traceback.

CI runs ``strategies.CI_EXAMPLES`` cases over this file and test_fuzz_plan.py,
from a fixed seed; ``KONVSYNC_FUZZ_EXAMPLES=100000`` runs more, at random (a
nightly run)."""

from __future__ import annotations

import gc
import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import SECRET, invoke
from tests.fuzz.strategies import examples_for, from_schema, texts, yaml_text

RANDOM = "KONVSYNC_FUZZ_EXAMPLES" in os.environ


def fuzz_settings(share: float) -> settings:
    return settings(
        max_examples=examples_for(share),
        derandomize=not RANDOM,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


_runs = itertools.count(1)


def unfrozen() -> None:
    """Undo the ``gc.freeze()`` each config load ends with: in one short CLI
    process it spares later collections, but over thousands of in-process
    runs it would keep every run's garbage (3 GB at 40,000 cases); and
    collect now and then (a full collection costs about 0.5 s here)."""
    gc.unfreeze()
    if next(_runs) % 500 == 0:
        gc.collect()


def check_validate(path: Path, text: str) -> int:
    path.write_text(text, encoding="utf-8")
    result = invoke(["validate", str(path)])
    unfrozen()
    assert result.exit_code in (0, 1), result.output
    assert "Error: unexpected" not in result.output, (text[:2000], result.output)
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    if result.exit_code == 1:
        assert result.stderr.splitlines()[-1].startswith("Error: "), result.output
    return result.exit_code


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "konvsync.yaml"


def test_validate_configs_generated_from_the_schema(scratch: Path) -> None:
    codes: list[int] = []

    @fuzz_settings(0.35)
    @given(from_schema())
    def run(document: object) -> None:
        codes.append(check_validate(scratch, yaml_text(document)))

    run()
    assert len(codes) >= examples_for(0.35) * 0.9
    assert 0 in codes and 1 in codes  # both outcomes were reached


def test_validate_mutated_configs_and_texts(scratch: Path) -> None:
    codes: list[int] = []

    @fuzz_settings(0.5)
    @given(texts())
    def run(text: str) -> None:
        codes.append(check_validate(scratch, text))

    run()
    assert len(codes) >= examples_for(0.5) * 0.9
    assert 1 in codes
