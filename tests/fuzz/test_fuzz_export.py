"""Whatever text the portal holds, ``export`` writes a config that validates
and plans as "No changes." against the same portal: ``${`` is escaped, and
what konvsync would reject is written as a comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from konvsync.sandbox.server import SandboxSettings, running_sandbox
from konvsync.sandbox.store import Store, StoreError
from tests.conftest import SECRET, invoke
from tests.fuzz.strategies import examples_for
from tests.fuzz.test_fuzz_validate import fuzz_settings, unfrozen

TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["${env:KONVERT_API_SECRET}", "$${env:HOME}", "${", "$", " lead", "trail ", "yes", "~"]
    ),
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
)
EMAIL = st.one_of(
    st.builds(lambda a, b: f"{a}@{b}", TEXT, TEXT), st.sampled_from(["space@example.com "])
)
PORTAL = st.fixed_dictionaries(
    {
        "groups": st.lists(st.tuples(st.one_of(st.none(), TEXT), TEXT), max_size=4),
        "fields": st.lists(
            st.tuples(TEXT, TEXT, st.sampled_from(["TEXT", "NUMBER", "SELECT"]), st.lists(TEXT)),
            max_size=3,
        ),
        "accounts": st.lists(st.tuples(st.one_of(st.none(), TEXT), TEXT, TEXT), max_size=3),
        "users": st.lists(st.tuples(EMAIL, TEXT, TEXT, st.one_of(st.none(), TEXT)), max_size=4),
    }
)


def _fill(store: Store, portal: dict[str, Any]) -> None:
    """Create what the sandbox accepts of ``portal`` (it refuses some, as a
    portal would: duplicates, empty names)."""
    group_ids: list[str] = []
    field_keys: list[str] = []

    def attempt(create: Any, *args: Any) -> dict[str, Any] | None:
        try:
            return create(*args)  # type: ignore[no-any-return]
        except StoreError:
            return None

    for external_id, name in portal["groups"]:
        group = attempt(store.create, "groups", {"externalId": external_id, "name": name})
        if group:
            group_ids.append(group["id"])
    for key, label, field_type, options in portal["fields"]:
        data = {"key": key, "label": label, "type": field_type, "options": options}
        if attempt(store.create, "accountFields", data):
            field_keys.append(key)
    for external_id, name, value in portal["accounts"]:
        custom = [{"key": key, "value": value} for key in field_keys[:1]]
        data = {"externalId": external_id, "name": name, "userGroupIds": group_ids[:1]}
        attempt(store.create, "accounts", {**data, "customFields": custom})
    for email, first, last, title in portal["users"]:
        data = {"email": email, "firstName": first, "lastName": last, "title": title}
        attempt(store.create, "users", {**data, "groupIds": group_ids[-1:]})


def test_any_portal_exports_to_a_config_that_plans_no_changes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("fuzz-export")
    runs: list[int] = []

    @fuzz_settings(0.05)
    @given(PORTAL)
    def run(portal: dict[str, Any]) -> None:
        out = root / f"export-{len(runs)}"
        with running_sandbox(SandboxSettings(port=0, db=":memory:")) as sandbox:
            _fill(sandbox.store, portal)
            exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
            assert exported.exit_code == 0, exported.output
            valid = invoke(["validate", str(out)])
            assert valid.exit_code == 0, (valid.output, _texts(out))
            args = ["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"]
            plan = invoke(args)
            assert plan.exit_code == 0, (plan.output, _texts(out))
            for result in (exported, valid, plan):
                assert SECRET not in result.output
        unfrozen()
        runs.append(1)

    run()
    assert len(runs) >= examples_for(0.05) * 0.9


def _texts(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.glob("*.yaml")))
