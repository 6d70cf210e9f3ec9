"""Tokens a portal stops honouring in the middle of a run: konvsync gets one
new token for all the requests refused at once, sends again only what the
refusal proves was not run, and finishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import OneTokenAtATime
from tests.hostile.harness import apply_args, hostile_portal, run_konvsync, write_desired

NEW_USERS = [f"{{email: new{i:02}@example.test, firstName: N, lastName: U}}" for i in range(12)]


@pytest.mark.parametrize("in_answer", [False, True], ids=["http-401", "unauthenticated-200"])
def test_creates_refused_together_share_one_new_token(in_answer: bool, tmp_path: Path) -> None:
    """The token stops working as eight creates are in flight; the portal
    honours only the token it issued last. Each refused create threw away
    the token the one before it had just fetched and fetched its own (nine
    tokens for eight refusals), revoking the one a resent create was
    carrying: "failed: ... authentication failed: the portal rejected the
    token", exit 1. One new token serves them all."""
    case = OneTokenAtATime("CreateUser", in_answer=in_answer)
    config = write_desired(tmp_path, more_users=NEW_USERS)
    with hostile_portal(tmp_path, case) as portal:
        args = [*apply_args(portal.endpoint(), config), "--batch-size", "1", "--parallelism", "8"]
        result = run_konvsync(args, tmp_path)
        created = [
            call.variables["input_0"]["email"]
            for call in portal.mutations
            if call.operation.startswith("CreateUser") and call.answered
        ]
    assert case.refused >= 4, f"the case never happened: {result.describe()}"
    assert result.exit_code == 0, result.describe()
    assert "12 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert len(case.issued) == 2, f"{len(case.issued)} tokens: {result.describe()}"
    assert sorted(created) == sorted(f"new{i:02}@example.test" for i in range(12)), created
