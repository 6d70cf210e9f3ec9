"""Issue 12: a read answer that breaks the API contract stops ``apply`` before
anything is written. Each case: a seeded sandbox behind the hostile portal,
a config that mostly matches it with every kind pruned, ``konvsync apply
--auto-approve`` as a subprocess: within the deadline, exit 1, one error line
naming the operation, and zero mutation requests at the portal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import (
    READ_CASES,
    BusyUntil,
    ClockBehind,
    RateLimitedAnswer,
    ReadCase,
    TokenEndpointBusy,
)
from tests.hostile.harness import (
    CONTRACT,
    apply_args,
    assert_contract_message,
    hostile_portal,
    one_error_line,
    run_konvsync,
    write_desired,
)
from tests.hostile.server import Case


@pytest.mark.parametrize("name", sorted(READ_CASES))
def test_contract_breaking_read_stops_apply_before_any_write(name: str, tmp_path: Path) -> None:
    spec: ReadCase = READ_CASES[name]
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, spec.make(name)) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config, *spec.cli_args), tmp_path)
        calls = portal.snapshot()
    assert any(call.rewritten for call in calls), "the case never happened"
    mutations = [f"{c.operation} x{c.fields}" for c in calls if c.is_mutation]
    assert mutations == [], f"mutations reached the portal: {mutations}\n{result.describe()}"
    line = one_error_line(result)
    if spec.contract:
        assert_contract_message(line, spec.operation)
    if spec.fragment:
        assert spec.fragment.lower() in line.lower(), f"{spec.fragment!r} not named: {line}"


def test_honest_portal_applies_the_two_changes(tmp_path: Path) -> None:
    """The same set-up without a hostile case: the apply works (so the cases
    above fail because of what they change, not because of the set-up)."""
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, Case()) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        operations = portal.operations()
    assert result.exit_code == 0, result.describe()
    assert "0 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert CONTRACT not in result.output
    assert operations.count("ReadUsers") >= 3  # 30 users in pages of 10
    assert {"UpdateGroupBatch", "UpdateUserBatch"} <= set(operations)


OTHER_COMMANDS = ["cursor-cycle", "endless-cursors-empty-pages", "null-in-nodes", "html-with-200"]
"""Cases that also run ``plan`` and ``export`` (which read the same way)."""


@pytest.mark.parametrize("name", OTHER_COMMANDS)
def test_plan_and_export_stop_on_the_same_answers(name: str, tmp_path: Path) -> None:
    spec = READ_CASES[name]
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, spec.make(name)) as portal:
        plan = run_konvsync(["--endpoint", portal.endpoint(), "plan", str(config)], tmp_path)
    with hostile_portal(tmp_path, spec.make(name)) as portal:
        export = run_konvsync(
            ["--endpoint", portal.endpoint(), "export", "--out", "exported"], tmp_path
        )
    for result in (plan, export):
        assert_contract_message(one_error_line(result), spec.operation)
    written = list((tmp_path / "exported").glob("*")) if (tmp_path / "exported").exists() else []
    assert written == [], f"export wrote {written} from a broken answer"


def test_retry_after_as_an_http_date_is_waited_for_on_429_and_503(tmp_path: Path) -> None:
    """A portal busy for 4 s answers 429 (ReadUsers) and 503 (ReadGroups)
    with ``Retry-After`` as an HTTP-date: konvsync waits until then and the
    apply goes through, with two retries allowed (a second each for a 429
    and a backoff of under a second for a 503, as before, gave up early)."""
    case = BusyUntil({"ReadUsers": 429, "ReadGroups": 503}, seconds=4)
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config, "--max-retries", "2"), tmp_path)
        busy = [call.operation for call in portal.rewritten]
    assert result.exit_code == 0, result.describe()
    assert "0 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert sorted(set(busy)) == ["ReadGroups", "ReadUsers"], busy
    assert len(busy) <= 4, f"the busy portal was asked again before its date: {busy}"
    assert result.seconds >= 3, result.describe()


def test_a_self_signed_jwt_is_accepted_by_a_portal_whose_clock_is_behind(tmp_path: Path) -> None:
    """``--auth jwt``: the portal's clock is 5 s behind and it refuses an
    ``iat`` in its future (no leeway, PyJWT's default): konvsync dates its
    tokens back enough for such a portal to take them."""
    case = ClockBehind(seconds=5)
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config, "--auth", "jwt"), tmp_path)
    assert result.exit_code == 0, result.describe()
    assert "0 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert case.refused == 0, f"{case.refused} requests refused: {result.describe()}"


@pytest.mark.parametrize("status", [429, 503, 502])
def test_a_busy_token_endpoint_is_asked_again(status: int, tmp_path: Path) -> None:
    """OAuth: the token endpoint answers 429 or 503 (``Retry-After: 1``) or
    502 twice, then a token: konvsync asks again, as it asks the API again,
    and the apply goes through."""
    case = TokenEndpointBusy(status, times=2)
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
    assert result.exit_code == 0, result.describe()
    assert "0 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert case.refused == 2, "the case never happened"


def test_a_token_endpoint_that_stays_busy_is_named_and_not_hammered(tmp_path: Path) -> None:
    """The token endpoint answers 429 to every request: konvsync gives up
    after its retries, naming the token endpoint (not /api), and the
    requests that waited for one renewal take its answer rather than each
    asking again (before: every concurrent read asked six times)."""
    case = TokenEndpointBusy(429, times=10**6, retry_after="0")
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
    assert result.exit_code == 1, result.describe()
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.describe()
    assert "token request failed with HTTP 429" in errors[0], errors
    assert "/oauth/token" in errors[0] and not errors[0].endswith("/api"), errors
    assert case.refused <= 2 * (5 + 1), f"{case.refused} token requests"


@pytest.mark.parametrize(
    ("operation", "per_alias", "data_null"),
    [
        ("ReadUsers", False, False),
        ("UpdateGroupBatch", False, False),
        ("CreateGroupBatch", True, False),
        ("ReadUsers", False, True),
        ("UpdateGroupBatch", False, True),
        ("CreateGroupBatch", False, True),
    ],
)
def test_a_rate_limit_reported_in_the_answer_is_waited_for(
    operation: str, per_alias: bool, data_null: bool, tmp_path: Path
) -> None:
    """A request answered 200 with only a RATE_LIMITED error (no ``data``:
    nothing ran), or a batch whose every alias is null with a RATE_LIMITED
    error of its own (none ran), is asked again after a wait, as an HTTP 429
    is, and the apply goes through. So is one answered ``data: null`` with a
    RATE_LIMITED error without a path: a batch of updates failed then,
    though an update may be sent again whatever ran (a create is looked up
    by its key first, as after any answer that does not say)."""
    case = RateLimitedAnswer(operation, per_alias, data_null)
    config = write_desired(tmp_path, more_groups=["{externalId: new-team, name: New Team}"])
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        sent = portal.operations().count(operation)
    assert result.exit_code == 0, result.describe()
    assert "1 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert case.done, "the case never happened"
    assert sent >= 2, f"{operation} was not asked again"


def test_a_create_refused_over_the_rate_that_also_ran_is_not_sent_again(tmp_path: Path) -> None:
    """A create alias answered null with a RATE_LIMITED error of its own and
    an error below it (``[m0, "id"]``: its object came back, so it ran) was
    sent again for the rate, and a second object would be made. What ran is
    never sent again: it is looked up by its key (here the portal had not
    made it: failed, and the next apply makes it)."""
    case = RateLimitedAnswer("CreateGroupBatch", per_alias=True, below=True)
    config = write_desired(tmp_path, more_groups=["{externalId: new-team, name: New Team}"])
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        sent = portal.operations().count("CreateGroupBatch")
    assert case.done, "the case never happened"
    assert sent == 1, f"the create was sent {sent} times"
    assert result.exit_code == 1, result.describe()
    assert "not found by its key afterwards: not created" in result.stdout, result.describe()
