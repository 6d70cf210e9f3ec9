"""Issue 12, "one writer at a time, and never silently": two applies against
one portal at once may not both report success over a mixed state, and two
applies of one config may not leave duplicates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from konvsync.sandbox.server import RunningSandbox
from tests.hostile.harness import (
    Finished,
    after_plan,
    apply_args,
    portal_yaml,
    run_konvsync,
    seeded_sandbox,
    start_konvsync,
    write_desired,
)
from tests.hostile.interleave import Interleave
from tests.hostile.server import Call, Case, Json, running_hostile_server
from tests.hostile.write_cases import LateCommit

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


class LostAnswerThenHidden(Case):
    """Issue 23, item 3: the first ``CreateLocationBatch`` is executed but
    answered 504 (no answer: ambiguous), and the read that looks the new
    locations up by key right after it does not show them (konvsync sent
    them again, and each existed twice, both copies its own)."""

    name = "create-location-lost-then-hidden"

    def __init__(self) -> None:
        self.lost = False
        self.hidden = False

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "CreateLocationBatch" and not self.lost:
            self.lost = True
            return web.Response(status=504, text="gateway timeout")
        if self.lost and not self.hidden and not call.is_mutation:
            self.hidden = True
            _drop_locations(answer, LOST_LOCATIONS)
        return answer


LOST_LOCATIONS = {"Lab", "Annex"}


def _drop_locations(value: Json, names: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "locations" and isinstance(item, list):
                item[:] = [x for x in item if not (isinstance(x, dict) and x.get("name") in names)]
            else:
                _drop_locations(item, names)
    elif isinstance(value, list):
        for item in value:
            _drop_locations(item, names)


def test_a_lost_create_that_a_read_does_not_show_is_not_sent_again(tmp_path: Path) -> None:
    """Each location is created once: the create whose answer was lost is
    not sent again though the look-up by key does not show it (location
    names are not unique: a copy sent again could not be told from it). The
    run fails and names it; the next plan, which sees it, is clean."""
    account = "{externalId: acct-new, name: New Co, locations: [{name: Lab}, {name: Annex}]}"
    config = write_desired(tmp_path, more_accounts=[account])
    case = LostAnswerThenHidden()
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, case) as portal:
            result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
            creates = portal.operations().count("CreateLocationBatch")
        created = sandbox.store.get("accounts", key="acct-new")
        assert created is not None, result.describe()
        names = Counter(loc["name"] for loc in sandbox.store.children("locations", created["id"]))
        clean = is_clean(sandbox.url, config, tmp_path)
    assert case.lost and case.hidden, "the case never happened"
    assert creates == 1, f"sent {creates} times: {result.describe()}"
    assert result.exit_code == 1, result.describe()
    assert "another writer" not in result.output, result.describe()
    named = [line for line in after_plan(result).splitlines() if "acct-new/Lab" in line]
    assert any("not sent again" in line for line in named), result.describe()
    assert names == Counter(LOST_LOCATIONS), names
    assert clean


def _apply_with_a_late_create(
    tmp_path: Path, config: Path, case: LateCommit, made: Callable[[RunningSandbox], list[Any]]
) -> tuple[Finished, list[Any]]:
    """Apply ``config`` through ``case`` (which holds a create past konvsync's
    one-second timeout and executes it afterwards); return the run and what
    ``made`` finds of that kind once the late create landed. Checks what
    both late-create tests hold: sent once, exit 1, the next plan clean."""
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, case) as portal:
            result = run_konvsync(apply_args(portal.endpoint(), config, "--timeout", "1"), tmp_path)
            case.release.set()
            assert case.done.wait(10), "the held create was never executed"
            creates = portal.operations().count(case.operation)
        found = made(sandbox)
        clean = is_clean(sandbox.url, config, tmp_path)
    assert creates == 1, f"sent {creates} times: {result.describe()}"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output
    assert clean
    return result, found


def test_a_create_the_portal_executes_after_konvsync_gave_up_is_never_made_twice(
    tmp_path: Path,
) -> None:
    """Location names are not unique in the portal: a create that got no
    answer (konvsync's timeout) and that the look-up by key does not find
    may still be executed later, so it is not sent again (a copy sent again
    becomes a second location once the first lands, after the twin check).
    The run fails and says so; the locations exist once; the next plan is
    clean."""
    account = "{externalId: acct-new, name: New Co, locations: [{name: Lab}, {name: Annex}]}"
    config = write_desired(tmp_path, more_accounts=[account])
    case = LateCommit("create-location-executed-late", "CreateLocationBatch")
    result, duplicates = _apply_with_a_late_create(tmp_path, config, case, duplicate_locations)
    assert duplicates == [], f"{duplicates}\n{result.describe()}"
    named = [line for line in after_plan(result).splitlines() if "acct-new/Lab" in line]
    assert any("not sent again" in line for line in named), result.describe()


def test_an_invite_link_the_portal_creates_after_konvsync_gave_up_is_never_made_twice(
    tmp_path: Path,
) -> None:
    """As for locations, for the other kind whose key (an invite link's
    title) the portal does not keep unique (a CODE link: a second active
    OPEN link would be refused by the portal's at-most-one rule anyway)."""
    config = write_desired(tmp_path)
    with config.open("a", encoding="utf-8") as text:
        text.write("inviteLinks:\n  - {title: Partners, access: CODE, code: letmein-2027}\n")
    case = LateCommit("create-invite-link-executed-late", "CreateInviteLinkBatch")

    def titles(sandbox: RunningSandbox) -> list[Any]:
        return [n["title"] for n in sandbox.store.page("inviteLinks", 100, None)["nodes"]]

    result, found = _apply_with_a_late_create(tmp_path, config, case, titles)
    assert found == ["Partners"], f"{found}\n{result.describe()}"
    assert "not sent again" in after_plan(result), result.describe()
    assert "letmein-2027" not in result.output
