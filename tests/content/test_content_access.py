"""Groups' LMS modules and DAM categories (reference kinds, by slug) through
the CLI against the sandbox: gain and lose, unknown slugs, what validate and
doctor say, what is read and when."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from konvsync.sandbox.server import RunningSandbox
from konvsync.sandbox.store import Store
from tests.conftest import CliRun, invoke

ConfigWriter = Callable[..., Path]

GROUP = """\
konvsync: 1
groups:
  - externalId: dealers
    name: Dealers
    lmsModules: [{modules}]
    damCategories: [{categories}]
"""


def run(sandbox: RunningSandbox, *args: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, *args])


def test_groups_gain_and_lose_modules_and_categories_by_slug(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(GROUP.format(modules="onboarding, sales-training", categories=""))
    first = run(sandbox, "apply", str(config), "--auto-approve")
    assert first.exit_code == 0, first.output
    assert '+ lmsModules    = ["onboarding", "sales-training"]' in first.stdout
    group = sandbox.store.get("groups", key="dealers")
    assert group is not None and len(group["lmsModules"]) == 2

    config = write_config(
        GROUP.format(modules="onboarding", categories="price-lists, brand-assets")
    )
    plan = run(sandbox, "plan", str(config))
    assert plan.exit_code == 0, plan.output
    # Slugs, not IDs, on both sides.
    assert '~ lmsModules    = ["onboarding", "sales-training"] -> ["onboarding"]' in plan.stdout
    assert '~ damCategories = [] -> ["brand-assets", "price-lists"]' in plan.stdout
    assert "lms_" not in plan.stdout and "dam_" not in plan.stdout
    second = run(sandbox, "apply", str(config), "--auto-approve")
    assert second.exit_code == 0, second.output
    again = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout

    # Written in another order: still no change (set-like).
    config = write_config(
        GROUP.format(modules="onboarding", categories="brand-assets, price-lists")
    )
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0


def test_unknown_slug_is_a_plan_error_at_its_place_with_a_suggestion(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(GROUP.format(modules="onboarding, sales-trainig", categories=""))
    # validate (offline) cannot know the portal's slugs and says nothing about them.
    valid = invoke(["validate", str(config)])
    assert valid.exit_code == 0, valid.output
    plan = run(sandbox, "plan", str(config))
    assert plan.exit_code == 1
    assert (
        f"{config}:5:30: group 'dealers': lmsModules refers to LMS module 'sales-trainig', "
        "which the portal's lmsModules do not include; did you mean 'sales-training'?"
    ) in plan.stderr
    assert sandbox.store.count("groups") == 0
    doctor = run(sandbox, "doctor", "--config", str(config))
    assert doctor.exit_code == 1
    assert "FAIL references:" in doctor.stdout and "did you mean 'sales-training'" in doctor.stdout
    fixed = write_config(GROUP.format(modules="sales-training", categories="price-lists"))
    assert "ok   references:" in run(sandbox, "doctor", "--config", str(fixed)).stdout


def test_reference_kinds_cannot_be_listed_pruned_protected_or_ignored(
    write_config: ConfigWriter,
) -> None:
    config = write_config("""\
        konvsync: 1
        policy:
          prune: [groups, lmsModules]
          protect: {damCategories: [x]}
          ignore_changes: {lmsModules: [title]}
        lmsModules:
          - {slug: x, title: X}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    err = result.stderr
    assert f"{config}:3:19: policy.prune.[1]: lmsModules is a reference kind" in err
    assert f"{config}:4:13: policy.protect.damCategories: damCategories is a reference kind" in err
    assert "policy.ignore_changes.lmsModules: lmsModules is a reference kind" in err
    assert f"{config}:7:3: lmsModules: LMS modules are read from the portal, not configured" in err


def test_reference_kinds_are_read_only_when_the_config_refers_to_them(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    plain = write_config("konvsync: 1\ngroups: [{externalId: g, name: G}]\n", "plain.yaml")
    before = sandbox.state.requests["/api"]
    assert run(sandbox, "plan", str(plain)).exit_code == 0
    assert sandbox.state.requests["/api"] - before == 2  # viewer and groups

    using = write_config(
        "konvsync: 1\ngroups:\n  - {externalId: g, name: G, lmsModules: [onboarding]}\n",
        "using.yaml",
    )
    before = sandbox.state.requests["/api"]
    assert run(sandbox, "plan", str(using)).exit_code == 0
    assert sandbox.state.requests["/api"] - before == 3  # viewer, groups, lmsModules


def test_group_pruned_with_modules_and_target(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    store = sandbox.store
    store.create("groups", {"externalId": "old", "name": "Old", "lmsModuleIds": ["lms_1"]})
    config = write_config("""\
        konvsync: 1
        policy: {prune: [groups]}
        groups: [{externalId: new, name: New, lmsModules: [onboarding]}]
        """)
    plan = run(sandbox, "plan", str(config))
    assert '- lmsModules    = ["onboarding"]' in plan.stdout  # the deleted group's slugs
    bad = run(sandbox, "plan", str(config), "--target", "lmsModules")
    assert bad.exit_code == 1 and "unknown kind 'lmsModules'" in bad.stderr


def test_a_sandbox_file_of_the_old_layout_is_a_clear_error(tmp_path: Path) -> None:
    import logging
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE groups (id INTEGER PRIMARY KEY AUTOINCREMENT, external_id TEXT UNIQUE,"
        " name TEXT NOT NULL, permissions TEXT NOT NULL, created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)"
    )
    old.execute("INSERT INTO groups VALUES (1, 'g', 'G', '[]', 'now', 'now')")
    old.commit()
    old.close()
    sandbox_log = logging.getLogger("konvsync.sandbox")
    level = sandbox_log.level
    try:
        result = invoke(["sandbox", "--db", str(path), "--port", "0"])
    finally:
        sandbox_log.setLevel(level)  # the command turns on request logging for the process
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: sandbox database {path} was made by an older konvsync (a table per kind) "
        "and cannot be read by this one: delete it to start over (--seed fills the new one), "
        "or use another file (--db, KONVSYNC_SANDBOX_DB)"
    )


def test_a_new_sandbox_file_holds_the_portal_content_once(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    for _ in range(2):
        store = Store(path)
        try:
            assert store.count("lmsModules") == 4 and store.count("damCategories") == 3
            assert store.get("lmsModules", key="onboarding") is not None
        finally:
            store.close()


def test_a_saved_plan_whose_module_left_the_portal_is_stale(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A module deleted in the portal between plan --out and apply: the plan
    is stale (exit 3, nothing sent), as for an object it changes. Once the
    group's create failed on its own, with 'Run apply again to finish',
    which met the same failure again."""
    config = write_config(GROUP.format(modules="onboarding", categories="price-lists"))
    planfile = tmp_path / "content.plan"
    assert run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
    store = sandbox.store
    module = next(
        node
        for node in store.page("lmsModules", 100, None)["nodes"]
        if node["slug"] == "onboarding"
    )
    store.delete("lmsModules", str(module["id"]))
    applied = run(sandbox, "apply", str(planfile))
    assert applied.exit_code == 3, applied.output
    assert (
        "stale plan: groups/dealers refers to LMS module 'onboarding', which the portal no "
        "longer has; run plan again"
    ) in applied.stderr
    assert store.get("groups", key="dealers") is None
