"""Issue 12, "one writer at a time, and never silently": two applies against
one portal at once may not both report success over a mixed state, and two
applies of one config may not leave duplicates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from konvsync.sandbox.server import RunningSandbox
from tests.hostile.harness import (
    after_plan,
    apply_args,
    portal_yaml,
    run_konvsync,
    seeded_sandbox,
    start_konvsync,
    write_desired,
)
from tests.hostile.interleave import Interleave
from tests.hostile.server import running_hostile_server

LATENCY_MS = 50
"""Enough that two applies started together overlap (their reads take several round trips)."""


def variant(directory: Path, label: str) -> Path:
    """A config that renames every seeded group, retitles every user and adds
    a group of its own, every kind pruned: ``a`` and ``b`` overlap on all."""
    text = portal_yaml(
        changed=False, more_groups=[f"{{externalId: only-{label}, name: Only {label}}}"]
    )
    text = text.replace("name: Team ", f"name: {label.upper()} Team ")
    text = text.replace("title: Member", f"title: {label.upper()}")
    text = text.replace(
        "konvsync: 1\n",
        "konvsync: 1\npolicy:\n  prune: [groups, accountFields, accounts, users]\n"
        "  max_delete_percent: 100\n",
    )
    path = directory / label / "konvsync.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def writers(sandbox: RunningSandbox) -> set[str]:
    """Whose values the seeded groups and users hold now: {"A"}, {"B"} or a mix."""
    groups = sandbox.store.page("groups", 100, None)["nodes"]
    users = sandbox.store.page("users", 100, None)["nodes"]
    return {g["name"].split(" ")[0] for g in groups if g["externalId"].startswith("team-")} | {
        u["title"] for u in users
    }


def is_clean(endpoint: str, config: Path, cwd: Path) -> bool:
    result = run_konvsync(["--endpoint", endpoint, "plan", str(config), "--detailed-exitcode"], cwd)
    assert result.exit_code in (0, 2), result.describe()
    return result.exit_code == 0 and "No changes." in result.stdout


def test_apply_interleaved_with_another_never_reports_success_over_its_changes(
    tmp_path: Path,
) -> None:
    a_config, b_config = variant(tmp_path, "a"), variant(tmp_path, "b")
    case = Interleave()
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        a = start_konvsync(apply_args(portal.endpoint("a"), a_config), tmp_path)
        b = start_konvsync(apply_args(portal.endpoint("b"), b_config), tmp_path)
        b_done = b.finish()
        case.b_finished.set()
        a_done = a.finish()
        assert case.b_applying.is_set() and case.a_wrote.is_set(), "no interleaving happened"
        # B planned before A wrote its groups, and went on after: it must see that.
        assert b_done.exit_code in (1, 3), f"B: {b_done.describe()}\nA: {a_done.describe()}"
        assert "team-" in after_plan(b_done), f"B names no object A changed: {b_done.describe()}"
        # A resumed after B's whole apply: success only if the portal is A's config now.
        assert a_done.exit_code in (0, 1, 3), a_done.describe()
        if a_done.exit_code == 0:
            assert is_clean(sandbox.url, a_config, tmp_path), a_done.describe()
        again = run_konvsync(apply_args(sandbox.url, a_config), tmp_path)
        assert again.exit_code == 0, again.describe()
        assert is_clean(sandbox.url, a_config, tmp_path)


def test_two_applies_started_together_never_both_succeed_over_a_mix(tmp_path: Path) -> None:
    a_config, b_config = variant(tmp_path, "a"), variant(tmp_path, "b")
    with seeded_sandbox(tmp_path, latency_ms=LATENCY_MS) as sandbox:
        a = start_konvsync(apply_args(sandbox.url, a_config), tmp_path)
        b = start_konvsync(apply_args(sandbox.url, b_config), tmp_path)
        a_done, b_done = a.finish(), b.finish()
        assert a_done.exit_code in (0, 1, 3), a_done.describe()
        assert b_done.exit_code in (0, 1, 3), b_done.describe()
        if a_done.exit_code == 0 and b_done.exit_code == 0:
            assert len(writers(sandbox)) == 1, (
                f"both reported success over a mix of {writers(sandbox)}\n"
                f"A: {a_done.describe()}\nB: {b_done.describe()}"
            )
        last = run_konvsync(apply_args(sandbox.url, b_config), tmp_path)
        assert last.exit_code == 0, last.describe()
        assert is_clean(sandbox.url, b_config, tmp_path)


def duplicate_locations(sandbox: RunningSandbox) -> list[tuple[str, str, int]]:
    store = sandbox.store
    out: list[tuple[str, str, int]] = []
    for account in store.page("accounts", 100, None)["nodes"]:
        names = Counter(loc["name"] for loc in store.children("locations", account["id"]))
        out += [(account["externalId"], name, n) for name, n in names.items() if n > 1]
    return out


NEW_LOCATIONS = (
    "      - {name: Lab, phone: '+1 555 0199'}\n"
    "      - {name: Annex, address: {city: Ogdenville, country: US}}\n"
)


def with_new_locations(config: Path) -> Path:
    """Give every account of ``config`` two locations the seeded portal lacks."""
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("      - {name: Depot,", NEW_LOCATIONS + "      - {name: Depot,"),
        encoding="utf-8",
    )
    return config


def test_apply_of_one_config_interleaved_with_itself_creates_each_location_once(
    tmp_path: Path,
) -> None:
    """The creates are the only changes: A creates the locations, then B (which
    planned the same creates before) runs; B must see they exist now."""
    config = with_new_locations(variant(tmp_path, "same"))
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace("name: SAME Team ", "name: Team ")
        .replace("title: SAME", "title: Member")
        .replace("  - {externalId: only-same, name: Only same}\n", ""),
        encoding="utf-8",
    )
    case = Interleave()
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        a = start_konvsync(apply_args(portal.endpoint("a"), config), tmp_path)
        b = start_konvsync(apply_args(portal.endpoint("b"), config), tmp_path)
        b_done = b.finish()
        case.b_finished.set()
        a_done = a.finish()
        assert case.b_applying.is_set() and case.a_wrote.is_set(), "no interleaving happened"
        for result in (a_done, b_done):
            assert result.exit_code in (0, 1, 3), result.describe()
            assert "Traceback" not in result.output
        duplicates = duplicate_locations(sandbox)
        assert duplicates == [], f"{duplicates}\nA: {a_done.describe()}\nB: {b_done.describe()}"
        assert is_clean(sandbox.url, config, tmp_path)


def test_two_applies_of_one_config_leave_every_location_once(tmp_path: Path) -> None:
    """Location names are not unique in the portal, so two runs that both
    found 'Lab' missing both create it; each run that then sees another's copy
    deletes its own (exit 1, named in its summary). Never two copies; at worst
    none, which the next apply creates."""
    config = with_new_locations(write_desired(tmp_path))
    with seeded_sandbox(tmp_path, latency_ms=LATENCY_MS) as sandbox:
        first = start_konvsync(apply_args(sandbox.url, config), tmp_path)
        second = start_konvsync(apply_args(sandbox.url, config), tmp_path)
        results = [first.finish(), second.finish()]
        for result in results:
            assert result.exit_code in (0, 1, 3), result.describe()
            if "another writer created it at the same time" in result.stdout:
                assert result.exit_code == 1, result.describe()
        duplicates = duplicate_locations(sandbox)
        assert duplicates == [], f"{duplicates}\n" + "\n".join(r.describe() for r in results)
        if not is_clean(sandbox.url, config, tmp_path):
            again = run_konvsync(apply_args(sandbox.url, config), tmp_path)
            assert again.exit_code == 0, again.describe()
        assert is_clean(sandbox.url, config, tmp_path)
