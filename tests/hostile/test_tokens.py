"""Tokens as the standards let a portal issue and refuse them, where the
sandbox plays one reading: token answers RFC 6749 §5.1 lets vary, a token
endpoint that does not decode the Basic credentials, tokens a portal stops
honouring in the middle of a run (one new token for all the requests refused
at once), a renewal that gets no answer or is refused for good, and the
portal's reason when it refuses a token (JWT clock skew included)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from konvsync.sandbox.faults import FaultSettings
from konvsync.sandbox.server import SandboxSettings, running_sandbox
from tests.hostile.cases import (
    BasicNotDecoded,
    ClientRevokedAt,
    ClockBehind,
    OneTokenAtATime,
    RefusesEveryToken,
    RenewalUnanswered,
    TokenAnswer,
)
from tests.hostile.harness import (
    apply_args,
    hostile_portal,
    one_error_line,
    run_konvsync,
    write_desired,
)
from tests.hostile.server import running_hostile_server

NEW_USERS = [f"{{email: new{i:02}@example.test, firstName: N, lastName: U}}" for i in range(12)]
MORE_USERS = [f"{{email: more{i:02}@example.test, firstName: M, lastName: U}}" for i in range(28)]


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
    assert case.refused >= 2, f"the case never happened: {result.describe()}"
    assert result.exit_code == 0, result.describe()
    assert "12 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
    assert len(case.issued) == 2, f"{len(case.issued)} tokens: {result.describe()}"
    assert sorted(created) == sorted(f"new{i:02}@example.test" for i in range(12)), created


@pytest.mark.parametrize(
    "fields",
    [
        {"token_type": "bearer"},
        {"token_type": "BEARER"},
        {"token_type": None},
        {"expires_in": None},
        {"expires_in": "21600"},
        {"expires_in": 21599.5},
        {"expires_in": 0},
        {"expires_in": -1},
        {"expires_in": 10**12},
        {"refresh_token": "r-e-f-r-e-s-h", "scope": "portal", "id_token": "x.y.z"},
    ],
    ids=repr,
)
def test_token_answers_rfc_6749_allows_are_taken(fields: dict[str, object], tmp_path: Path) -> None:
    """``token_type`` in any case or left out, ``expires_in`` left out,
    as a string, a fraction or out of range (read as the RFC's implied
    hour), and fields konvsync has no use for: the apply goes through on
    one token."""
    case = TokenAnswer(fields)
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
    assert case.answered == 1, result.describe()
    assert result.exit_code == 0, result.describe()
    assert "0 added, 2 changed, 0 destroyed" in result.stdout, result.describe()


@pytest.mark.parametrize("token_type", ["DPoP", "mac", "N_A", 7])
def test_a_token_that_is_not_a_bearer_token_is_refused_with_one_line(
    token_type: object, tmp_path: Path
) -> None:
    """RFC 6749 §7.1: a client must not use a token whose type it does not
    understand. A DPoP token was sent as a Bearer token, and the portal's
    refusal read "the portal rejected the token (check the API key, secret
    and --auth mode)", none of which was wrong."""
    case = TokenAnswer({"token_type": token_type})
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        sent = portal.operations()
    line = one_error_line(result)
    assert "token_type" in line and "Bearer" in line, line
    assert sent == [], f"the token was used: {sent}"


@pytest.mark.parametrize(
    ("body", "status"),
    [(True, 401), (False, 401), (True, 200)],
    ids=["401-graphql-error", "401-header-only", "200-unauthenticated"],
)
def test_a_refused_token_is_reported_with_the_portals_reason(
    body: bool, status: int, tmp_path: Path
) -> None:
    """A 401 said only "the portal rejected the token (check the API key,
    secret and --auth mode)": the portal's own reason (its GraphQL error,
    or the ``error_description`` of ``WWW-Authenticate``) was dropped; an
    UNAUTHENTICATED error in a 200 gave the reason but not what to check.
    Both say both now, without the token the portal echoes."""
    case = RefusesEveryToken(body, status)
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(["--endpoint", portal.endpoint(), "plan", str(config)], tmp_path)
    line = one_error_line(result)
    assert "the portal rejected the token" in line and "check the API key" in line, line
    assert "token *** is revoked" in line, line
    assert case.tokens and not any(token in result.output for token in case.tokens), line


def test_a_token_the_portal_echoes_encoded_is_masked(tmp_path: Path) -> None:
    """A portal's reason that spells the refused token in base64 (as a
    Basic-style echo or a log line would) showed it: only the token as it
    is was masked."""
    case = RefusesEveryToken(True, echo=lambda token: base64.b64encode(token.encode()).decode())
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(["--endpoint", portal.endpoint(), "plan", str(config)], tmp_path)
    line = one_error_line(result)
    assert "token *** is revoked" in line, line
    assert case.echoed and not any(echo in result.output for echo in case.echoed), line


def test_a_jwt_refused_for_the_clock_says_so(tmp_path: Path) -> None:
    """``--auth jwt`` against a portal whose clock is 90 s behind (more than
    konvsync dates its tokens back): the portal's reason is shown, and the
    advice names the clock, which a JWT's ``iat`` and ``exp`` depend on."""
    case = ClockBehind(seconds=90)
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, case) as portal:
        args = ["--auth", "jwt", "--endpoint", portal.endpoint(), "plan", str(config)]
        result = run_konvsync(args, tmp_path)
    line = one_error_line(result)
    assert "The token is not yet valid (iat)" in line, line
    assert "clock" in line, line


@pytest.mark.parametrize(
    ("secret", "asked"), [("s3cr%41t+pl:us é/~", 2), ("plain-Secret_0.9~", 1)], ids=["odd", "plain"]
)
def test_a_token_endpoint_that_does_not_decode_the_basic_header_is_asked_as_it_reads_it(
    secret: str, asked: int, tmp_path: Path
) -> None:
    """RFC 6749 §2.3.1 form-URL-encodes the key and secret in the Basic
    header; a token endpoint that reads them as they are (RFC 7617 alone,
    and the API description's "base64(key:secret)") refused a secret holding
    ``%``, ``+``, ``:`` or non-ASCII as invalid_client: "authentication
    failed: the portal rejected the API key and secret". Refused so, konvsync
    asks once more with them as they are (never when encoding changes
    nothing), and the next renewal asks that way first."""
    # Tokens of 2 s, renewed after 1 s; 0.4 s a request: the apply renews.
    faults = FaultSettings(latency_ms=400)
    settings = SandboxSettings(
        port=0, db=":memory:", api_key="odd-key", api_secret=secret, token_ttl=2, faults=faults
    )
    config = tmp_path / "konvsync.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n", encoding="utf-8")
    env = {"KONVERT_API_KEY": "odd-key", "KONVERT_API_SECRET": secret}
    with running_sandbox(settings) as sandbox:
        case = BasicNotDecoded(sandbox.state.authority)
        with running_hostile_server(sandbox.url, case) as portal:
            args = ["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"]
            result = run_konvsync(args, tmp_path, env=env)
    assert result.exit_code == 0, result.describe()
    assert "1 added, 0 changed, 0 destroyed" in result.stdout, result.describe()
    renewals = sandbox.state.authority.tokens_issued - 1
    assert renewals >= 1, "no token was renewed"
    assert len(case.tried) == asked + renewals, case.tried
    assert case.tried.count(case.tried[0]) == (1 if asked == 2 else renewals + 1), case.tried
    assert secret not in result.output


@pytest.mark.parametrize("error", ["invalid_client", "invalid_grant", "unauthorized_client"])
def test_a_token_request_refused_for_good_is_not_asked_again_by_every_batch(
    error: str, tmp_path: Path
) -> None:
    """The service connection is revoked in the middle of an apply: the API
    refuses the token, the token endpoint every new one with an RFC 6749
    error that asking again cannot change. Only ``invalid_client`` stood for
    the rest of the run; after the others each batch still to go asked the
    token endpoint again. Every object left says why, and nothing is sent."""
    case = ClientRevokedAt("CreateUser", error)
    config = write_desired(tmp_path, more_users=NEW_USERS + MORE_USERS)
    with hostile_portal(tmp_path, case) as portal:
        args = [*apply_args(portal.endpoint(), config), "--batch-size", "1", "--parallelism", "4"]
        result = run_konvsync(args, tmp_path)
        creates = [call for call in portal.mutations if call.operation.startswith("CreateUser")]
    assert result.exit_code == 1, result.describe()
    assert error in result.stdout, result.describe()
    assert case.asked == 2, f"{case.asked} token requests: {result.describe()}"
    assert len(creates) <= 4, f"{len(creates)} creates sent: more than were in flight at once"


def test_a_token_renewal_that_gets_no_answer_is_asked_again(tmp_path: Path) -> None:
    """The token stops working in the middle of an apply and the request
    for a new one times out. Asking for a token changes nothing in the
    portal, and the API's own timeouts are retried, but every create that
    waited for that token failed ("cannot reach token endpoint ...: timed
    out"), exit 1. It is asked again, within the same retries."""
    case = RenewalUnanswered("CreateUser", hang=3)
    config = write_desired(tmp_path, more_users=NEW_USERS)
    with hostile_portal(tmp_path, case) as portal:
        args = [*apply_args(portal.endpoint(), config, "--timeout", "2"), "--batch-size", "1"]
        result = run_konvsync(args, tmp_path)
    assert case.asked >= 3, f"the case never happened: {result.describe()}"
    assert result.exit_code == 0, result.describe()
    assert "12 added, 2 changed, 0 destroyed" in result.stdout, result.describe()
