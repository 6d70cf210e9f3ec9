"""The API client against a real sandbox: auth, retries, ambiguity,
pagination and batching."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from aiohttp import web

from konvsync.api.auth import token_source
from konvsync.api.batching import CallNotBuilt, MutationCall, run_mutations
from konvsync.api.client import ClientSettings, PortalClient
from konvsync.api.credentials import Credentials
from konvsync.api.endpoints import Endpoint, resolve_endpoint
from konvsync.api.operations import viewer_document
from konvsync.api.pagination import read_all, read_kinds
from konvsync.errors import AmbiguousRequestError, AuthError, TransportError, UsageError
from konvsync.kinds import kind
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET, SandboxFactory, invoke
from tests.hostile.harness import apply_args, hostile_portal, write_desired
from tests.hostile.server import Call, Case

T = TypeVar("T")
FAST = ClientSettings(timeout=5, max_retries=5, backoff_base=0.01, backoff_cap=0.05)


def run(
    sandbox: RunningSandbox,
    body: Callable[[PortalClient], Awaitable[T]],
    auth: str = "oauth",
    secret: str = SECRET,
    settings: ClientSettings = FAST,
) -> T:
    endpoint = Endpoint(sandbox.url, sandbox.url)
    tokens = token_source(auth, Credentials(KEY, secret), endpoint.token_url, 3600)

    async def main() -> T:
        async with PortalClient(endpoint, tokens, settings) as client:
            return await body(client)

    return asyncio.run(main())


async def viewer(client: PortalClient) -> dict[str, Any]:
    return (await client.execute(viewer_document())).raise_for_errors("viewer")


@pytest.mark.parametrize("auth", ["oauth", "jwt"])
def test_both_auth_modes_reach_the_api(sandbox: RunningSandbox, auth: str) -> None:
    data = run(sandbox, viewer, auth=auth)
    assert data["viewer"]["apiKey"] == KEY
    issued = sandbox.state.authority.tokens_issued
    assert issued == (1 if auth == "oauth" else 0)


def test_wrong_secret_is_an_auth_error_without_the_secret(sandbox: RunningSandbox) -> None:
    for auth in ("oauth", "jwt"):
        with pytest.raises(AuthError) as caught:
            run(sandbox, viewer, auth=auth, secret="definitely-wrong-secret-padded-to-32b")
        assert "authentication failed" in str(caught.value)
        assert "definitely-wrong-secret-padded-to-32b" not in str(caught.value)


def test_token_is_renewed_before_it_expires(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(token_ttl=3)  # renewed 1 s early (the floor): after 2 s

    async def twice(client: PortalClient) -> None:
        await viewer(client)
        await viewer(client)
        await asyncio.sleep(2.2)
        await viewer(client)

    run(sandbox, twice)
    assert sandbox.state.authority.tokens_issued == 2


def test_a_401_gets_one_new_token(sandbox: RunningSandbox) -> None:
    async def revoke_between(client: PortalClient) -> None:
        await viewer(client)
        await asyncio.to_thread(requests.post, f"{sandbox.url}/_sandbox/revoke-tokens", timeout=5)
        await viewer(client)

    run(sandbox, revoke_between)
    assert sandbox.state.authority.tokens_issued == 2


def test_429_waits_retry_after(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(rate_limit=3)

    async def burst(client: PortalClient) -> float:
        started = time.monotonic()
        await asyncio.gather(*(viewer(client) for _ in range(8)))
        assert client.stats.by_status.get(429, 0) >= 1
        return time.monotonic() - started

    elapsed = run(sandbox, burst)
    assert elapsed >= 1.0  # Retry-After: 1 was honoured, not hammered
    assert sandbox.state.requests["429"] >= 1


def test_503s_are_retried_until_success(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(fail_rate=0.5, seed=7)

    async def many(client: PortalClient) -> int:
        for _ in range(10):
            await viewer(client)
        return client.stats.retries

    assert run(sandbox, many) > 0
    assert sandbox.state.requests["503"] > 0


def test_retries_are_bounded(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(fail_rate=1.0)
    settings = ClientSettings(timeout=5, max_retries=3, backoff_base=0.01, backoff_cap=0.02)
    with pytest.raises(TransportError, match="gave up after 3 retries"):
        run(sandbox, viewer, settings=settings)
    assert sandbox.state.requests["/api"] == 4


def test_an_unanswered_create_is_ambiguous_and_never_resent(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(drop_after_commit_rate=1.0)
    create = 'mutation { createGroup(input: {externalId: "g", name: "G"}) { id } }'

    async def send(client: PortalClient) -> None:
        await client.execute(create, retry_safe=False, label="CreateGroup", verify=False)

    with pytest.raises(AmbiguousRequestError, match="may have been applied"):
        run(sandbox, send)
    assert sandbox.state.requests["/api"] == 1
    assert sandbox.store.count("groups") == 1


def test_an_unanswered_update_is_retried(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(drop_after_commit_rate=1.0)
    gid = sandbox.store.create("groups", {"externalId": "g", "name": "G"})["id"]
    update = 'mutation($id: ID!) { updateGroup(id: $id, input: {name: "H"}) { id } }'
    settings = ClientSettings(timeout=5, max_retries=2, backoff_base=0.01, backoff_cap=0.02)

    async def send(client: PortalClient) -> None:
        await client.execute(update, {"id": gid}, retry_safe=True, verify=False)

    with pytest.raises(TransportError, match="gave up after 2 retries"):
        run(sandbox, send, settings=settings)
    assert sandbox.state.requests["/api"] == 3
    assert sandbox.store.get("groups", key="g")["name"] == "H"  # type: ignore[index]


def test_pagination_follows_cursors_not_counts(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(page_cap=7)
    for i in range(30):
        sandbox.store.create(
            "users", {"email": f"u{i}@x.example", "firstName": "F", "lastName": "L"}
        )
    for i in range(3):
        sandbox.store.create("groups", {"externalId": f"g{i}", "name": f"G{i}"})

    async def read(client: PortalClient) -> dict[str, list[dict[str, Any]]]:
        return await read_kinds(client, [kind("users"), kind("groups")])

    nodes = run(sandbox, read)
    assert len({n["email"] for n in nodes["users"]}) == 30
    assert len(nodes["groups"]) == 3
    assert sandbox.state.requests["/api"] == 5 + 1


def test_read_all_asks_for_full_pages(sandbox: RunningSandbox) -> None:
    for i in range(250):
        sandbox.store.create("groups", {"externalId": f"g{i}", "name": f"G{i}"})
    nodes = run(sandbox, lambda client: read_all(client, kind("groups")))
    assert len(nodes) == 250
    assert sandbox.state.requests["/api"] == 3


def test_one_failing_mutation_in_a_batch_does_not_fail_the_others(sandbox: RunningSandbox) -> None:
    sandbox.store.create("groups", {"externalId": "taken", "name": "T"})
    groups = kind("groups")
    calls = [
        MutationCall(groups, "CreateGroup", {"input": {"externalId": key, "name": key}})
        for key in ("a", "taken", "b", "c")
    ]

    async def send(client: PortalClient) -> list[Any]:
        return await run_mutations(client, calls, batch_size=2, parallelism=2)

    outcomes = run(sandbox, send)
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert outcomes[1].code == "CONFLICT"
    assert outcomes[0].data["id"] == sandbox.store.get("groups", key="a")["id"]  # type: ignore[index]
    assert sandbox.state.requests["/api"] == 2
    assert sandbox.store.count("groups") == 4


def test_a_call_that_cannot_be_built_fails_alone_and_is_not_sent(
    sandbox: RunningSandbox,
) -> None:
    groups = kind("groups")

    def unresolvable() -> dict[str, Any]:
        raise CallNotBuilt("cannot resolve reference groups/ghost")

    calls = [
        MutationCall(groups, "CreateGroup", lambda: {"input": {"externalId": "a", "name": "A"}}),
        MutationCall(groups, "CreateGroup", unresolvable),
        MutationCall(groups, "CreateGroup", {"input": {"externalId": "b", "name": "B"}}),
    ]

    async def send(client: PortalClient) -> list[Any]:
        return await run_mutations(client, calls, batch_size=50, parallelism=2)

    outcomes = run(sandbox, send)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error == "cannot resolve reference groups/ghost"
    assert sandbox.state.requests["/api"] == 1
    assert sandbox.store.count("groups") == 2


def test_endpoint_resolution() -> None:
    assert resolve_endpoint("production", None).api_url == "https://api.konvertapp.com/api"
    assert (
        resolve_endpoint(None, "staging").token_url
        == "https://api.staging.konvertapp.com/oauth/token"
    )
    assert resolve_endpoint("https://portal.example/", None).api_url == "https://portal.example/api"
    assert resolve_endpoint("http://127.0.0.1:8765", None).api_url == "http://127.0.0.1:8765/api"
    assert resolve_endpoint("sandbox", "production").is_sandbox
    with pytest.raises(UsageError, match="plain http"):
        resolve_endpoint("http://portal.example", None)
    assert resolve_endpoint("http://portal.example", None, insecure_http=True).base_url
    with pytest.raises(UsageError, match="no endpoint"):
        resolve_endpoint(None, None)
    with pytest.raises(UsageError):
        resolve_endpoint("ftp://x", None)


def test_jwt_lifetime_is_bounded() -> None:
    with pytest.raises(UsageError, match="21600"):
        token_source("jwt", Credentials(KEY, SECRET), "", 21601)


class ErrorWithoutCode(Case):
    """``operation`` is answered (not executed) with an error whose
    ``extensions.code`` is empty, and a message as given."""

    def __init__(self, operation: str, message: str) -> None:
        self.name = f"{operation}-error-code-empty"
        self.operation = operation
        self.message = message

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation:
            return None
        error = {"message": self.message, "extensions": {"code": ""}}
        if call.is_mutation:
            paths = [{**error, "path": [f"m{i}"]} for i in range(call.fields)]
            return web.json_response(
                {"data": dict.fromkeys(f"m{i}" for i in range(call.fields)), "errors": paths}
            )
        return web.json_response({"data": None, "errors": [error]})


def test_an_error_with_an_empty_code_reads_as_one_without_a_code(tmp_path: Path) -> None:
    """Issue 23, item 10: an empty ``extensions.code`` printed "(...) ()"."""
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, ErrorWithoutCode("Viewer", "portal unavailable")) as portal:
        planned = invoke(["--endpoint", portal.endpoint(), "plan", str(config)])
    assert planned.exit_code == 1
    assert planned.stderr == "Error: viewer: portal unavailable (INTERNAL)\n"
    with hostile_portal(tmp_path, ErrorWithoutCode("UpdateGroupBatch", " ")) as portal:
        applied = invoke(["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"])
    assert applied.exit_code == 1
    assert "failed: groups/team-1 (update): the portal gave no message (INTERNAL)" in applied.stdout
    assert "()" not in applied.output


def test_a_short_invite_code_is_in_no_request_log(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """CODE access has no minimum length: a 3-character code is masked in
    the request bodies -vv logs too."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\nvariables: [DEALER_CODE]\n"
        "inviteLinks:\n  - {title: Dealers, access: CODE, code: '${env:DEALER_CODE}'}\n"
    )
    result = invoke(
        ["-vv", "--endpoint", sandbox.url, "apply", str(config), "--auto-approve"],
        env={"DEALER_CODE": "Q7z"},
    )
    assert result.exit_code == 0, result.output
    assert '"input_0": {"title": "Dealers"' in result.output  # the body is logged
    assert "Q7z" not in result.output


class ServerErrorOnCreate(Case):
    """The first create batch is answered HTTP 500: after the portal ran it
    (``ran``), or before (it never reaches the portal)."""

    def __init__(self, operation: str, ran: bool) -> None:
        self.name = f"{operation}-500-{'after' if ran else 'before'}-running"
        self.operation = operation
        self.ran = ran
        self.done = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation or self.done or self.ran:
            return None
        self.done = True
        return web.json_response({"errors": [{"message": "internal"}]}, status=500)

    def answer(self, call: Call, answer: Any) -> Any:
        if call.operation != self.operation or self.done or not self.ran:
            return answer
        self.done = True
        return web.json_response({"errors": [{"message": "internal"}]}, status=500)


NEW_GROUPS = [
    "{externalId: new-a, name: New A}",
    "{externalId: new-b, name: New B}",
]


@pytest.mark.parametrize("ran", [True, False])
def test_a_create_answered_http_500_is_looked_up_and_never_sent_again(
    tmp_path: Path, ran: bool
) -> None:
    """HTTP 500 to a create batch does not say whether the portal wrote
    before it failed: the creates are looked up by key. Found, they are
    done (the report said 'failed' for two groups the portal held); not
    found, they failed with the 500 and are not sent again (a second try
    would meet the same fault). The portal's own message is part of the
    error: "HTTP 500" alone said nothing of what the portal said."""
    config = write_desired(tmp_path, more_groups=NEW_GROUPS)
    report_file = tmp_path / "report.json"
    case = ServerErrorOnCreate("CreateGroupBatch", ran)
    with hostile_portal(tmp_path, case) as portal:
        result = invoke([*apply_args(portal.endpoint(), config), "--report", str(report_file)])
        sent = portal.operations().count("CreateGroupBatch")
    assert case.done, "the case never happened"
    assert sent == 1, f"the create batch was sent {sent} times"
    creates = {
        change["key"]: change["status"]
        for change in json.loads(report_file.read_text(encoding="utf-8"))["changes"]
        if change["action"] == "create"
    }
    if ran:
        assert result.exit_code == 0, result.output
        assert creates == {"new-a": "done", "new-b": "done"}, creates
    else:
        assert result.exit_code == 1, result.output
        assert creates == {"new-a": "failed", "new-b": "failed"}, creates
        assert 'HTTP 500 "internal" after sending' in result.stdout, result.output
        assert "not found by its key afterwards: not created" in result.stdout, result.output


class LoneSurrogate(Case):
    """``operation``'s answers hold a lone surrogate, as JSON allows writing
    one (``"\\ud800"``) and ``json.loads`` reads it: in the first node's
    ``title`` (a read), or in a mutation error's message."""

    def __init__(self, operation: str) -> None:
        self.name = f"{operation}-lone-surrogate"
        self.operation = operation
        self.done = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != self.operation or not call.is_mutation:
            return None
        self.done = True
        error = {"message": "bad \ud800 input", "path": ["m0"], "extensions": {"code": "X"}}
        body = {"data": dict.fromkeys(f"m{i}" for i in range(call.fields)), "errors": [error]}
        return web.Response(text=json.dumps(body), content_type="application/json")

    def answer(self, call: Call, answer: Any) -> Any:
        if call.operation == self.operation and not call.is_mutation:
            self.done = True
            answer["data"]["users"]["nodes"][0]["title"] = "Lead \ud800"
        return answer


SURROGATE_COMMANDS = {
    "export": ["export", "--out", "exported"],
    "plan": ["plan", "konvsync.yaml"],
    "drift": ["drift", "konvsync.yaml", "--write"],
}


@pytest.mark.parametrize("command", sorted(SURROGATE_COMMANDS))
def test_a_lone_surrogate_in_an_answer_does_not_fit_the_contract(
    tmp_path: Path, command: str
) -> None:
    """A GraphQL String is Unicode text; a lone surrogate is not. export
    wrote a file no YAML reader takes, plan and drift --write ended in
    'unexpected UnicodeEncodeError'. Now: one line naming the field, exit 1,
    nothing written."""
    config = write_desired(tmp_path)
    before = config.read_bytes()
    case = LoneSurrogate("ReadUsers")
    with hostile_portal(tmp_path, case) as portal:
        result = invoke(["--endpoint", portal.endpoint(), *SURROGATE_COMMANDS[command]])
    assert case.done, "the case never happened"
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == (
        "Error: the portal's answer does not fit the API contract: ReadUsers: "
        "data.users.nodes[0].title holds a lone surrogate, which is not Unicode text "
        "(a GraphQL String is)"
    ), result.output
    assert "unexpected" not in result.output
    assert not (tmp_path / "exported").exists()
    assert config.read_bytes() == before


def test_a_lone_surrogate_in_a_mutation_error_fails_the_batch_with_one_line(
    tmp_path: Path,
) -> None:
    config = write_desired(tmp_path)
    report_file = tmp_path / "report.json"
    case = LoneSurrogate("UpdateGroupBatch")
    with hostile_portal(tmp_path, case) as portal:
        result = invoke([*apply_args(portal.endpoint(), config), "--report", str(report_file)])
    assert case.done, "the case never happened"
    assert result.exit_code == 1, result.output
    assert "unexpected" not in result.output
    assert (
        "failed: groups/team-1 (update): the portal's answer does not fit the API contract: "
        "UpdateGroup x1: errors[0].message holds a lone surrogate"
    ) in result.stdout, result.output
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["status"] == "incomplete"


def test_a_query_text_cannot_be_sent_for_checking(sandbox: RunningSandbox) -> None:
    """Only a Document carries the shape its answer is checked by: a plain
    text sent with ``verify`` on would go unchecked, so it is refused before
    anything is sent."""

    async def send(client: PortalClient) -> None:
        await client.execute("{ viewer { apiKey portalName } }")

    with pytest.raises(TypeError, match="pass its Document"):
        run(sandbox, send)
    assert sandbox.state.requests.get("/api", 0) == 0


class ReadAnswered(Case):
    """The first ReadGroups is answered HTTP ``status``, before the portal
    reads anything."""

    def __init__(self, status: int) -> None:
        self.name = f"read-groups-{status}"
        self.status = status
        self.done = False

    async def before(self, call: Call) -> web.StreamResponse | None:
        if call.operation != "ReadGroups" or self.done:
            return None
        self.done = True
        return web.json_response({"errors": [{"message": "busy"}]}, status=self.status)


@pytest.mark.parametrize(("status", "retried"), [(503, True), (502, True), (500, False)])
def test_max_retries_help_names_the_statuses_that_are_retried(
    tmp_path: Path, status: int, retried: bool
) -> None:
    """--max-retries said "(429, 5xx, timeouts)", but a 500 is not retried
    (the portal may have failed after it wrote): the help names 502, 503
    and 504, as a read shows."""
    config = write_desired(tmp_path)
    case = ReadAnswered(status)
    with hostile_portal(tmp_path, case) as portal:
        result = invoke(["--endpoint", portal.endpoint(), "plan", str(config)])
        reads = portal.operations().count("ReadGroups")
    assert case.done, "the case never happened"
    assert reads == (2 if retried else 1), reads
    assert result.exit_code == (0 if retried else 1), result.output
    shown = " ".join(invoke(["plan", "--help"]).stdout.split())
    assert "Retries of a failed request (429, 502, 503, 504, timeouts" in shown


class LongInteger(Case):
    """A read's answer holds an integer past 64 bits where the contract says
    ``Int!`` (``totalCount``): JSON has no limit on a number's digits."""

    name = "long-integer"

    def __init__(self) -> None:
        self.done = False

    def answer(self, call: Call, answer: Any) -> Any:
        if call.operation == "ReadUsers" and not call.is_mutation:
            self.done = True
            answer["data"]["users"]["totalCount"] = 2**64
        return answer


def test_an_integer_past_64_bits_in_an_answer_is_refused_as_written(tmp_path: Path) -> None:
    """The answer's integer is read exactly, as written, and refused as out
    of the contract's Int range (a reader that made it a float would show
    1.8446744073709552e+19)."""
    config = write_desired(tmp_path)
    case = LongInteger()
    with hostile_portal(tmp_path, case) as portal:
        result = invoke(["--endpoint", portal.endpoint(), "plan", str(config)])
    assert case.done, "the case never happened"
    assert result.exit_code == 1, result.output
    last = result.stderr.splitlines()[-1]
    assert "users.totalCount is 18446744073709551616 (a number)" in last, result.output
    assert "e+19" not in result.output
