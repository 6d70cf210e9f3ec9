"""The sandbox server: OAuth token endpoint, bearer checks, GraphQL over
HTTP, contract rules and fault injection, over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET, SandboxFactory, invoke


def token(sandbox: RunningSandbox) -> str:
    response = requests.post(
        f"{sandbox.url}/oauth/token",
        auth=(KEY, SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def gql_post(
    sandbox: RunningSandbox,
    query: str,
    variables: dict[str, Any] | None = None,
    bearer: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer or token(sandbox)}"}
    return requests.post(
        f"{sandbox.url}/api",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=5,
        **kwargs,
    )


def codes(response: requests.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


# ------------------------------------------------------------------ OAuth


def test_third_party_oauth_client_gets_a_token_and_gql_loads_the_schema(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http, as documented
    session = OAuth2Session(client=BackendApplicationClient(client_id=KEY))
    issued = session.fetch_token(
        token_url=f"{sandbox.url}/oauth/token", client_id=KEY, client_secret=SECRET
    )
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 21600
    transport = RequestsHTTPTransport(
        url=f"{sandbox.url}/api", headers={"Authorization": f"Bearer {issued['access_token']}"}
    )
    client = Client(transport=transport, fetch_schema_from_transport=True)
    with client as session_client:
        result = session_client.execute(gql("{ viewer { portalName } }"))
    assert result["viewer"]["portalName"] == "Konvsync Sandbox"
    assert client.schema is not None
    assert "Account" in client.schema.type_map
    assert "createUser" in client.schema.mutation_type.fields  # type: ignore[union-attr]


def test_token_answer_is_not_cached(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/token",
        auth=(KEY, SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("auth", "data", "headers", "status", "error"),
    [
        ((KEY, "wrong"), {"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        (("nobody", SECRET), {"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        ((KEY, SECRET), {}, {}, 400, "invalid_request"),
        ((KEY, SECRET), {"grant_type": "password"}, {}, 400, "unsupported_grant_type"),
        (
            (KEY, SECRET),
            "grant_type=client_credentials",
            {"Content-Type": "application/json"},
            400,
            "invalid_request",
        ),
    ],
    ids=["bad-secret", "unknown-key", "no-auth", "no-grant", "other-grant", "json-body"],
)
def test_token_errors_follow_rfc6749(
    sandbox: RunningSandbox, auth: Any, data: Any, headers: dict[str, str], status: int, error: str
) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/token", auth=auth, data=data, headers=headers, timeout=5
    )
    assert response.status_code == status
    assert response.json()["error"] == error
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


# ------------------------------------------------------- bearer rejections


def _jwt(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


NOW = int(time.time())
GOOD = {"sub": KEY, "iat": NOW, "exp": NOW + 5 * 3600}
"""Made when the tests are collected: valid for hours (within the 6 h a
token may live), not 10 minutes, which a suite on a loaded machine outlasted."""


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic abc",
        "Bearer",
        "Bearer not-a-token-we-issued",
        "Bearer " + _unsigned(GOOD),
        "Bearer " + _jwt(GOOD, SECRET * 3, "HS512"),
        "Bearer " + _jwt(GOOD, "another-secret-that-is-long-enough-0123"),
        "Bearer " + _jwt({**GOOD, "sub": "someone-else"}),
        "Bearer " + _jwt({"sub": KEY, "iat": NOW - 7200, "exp": NOW - 3600}),
        "Bearer " + _jwt({"sub": KEY, "iat": NOW}),
        "Bearer " + _jwt({"sub": KEY, "iat": NOW, "exp": NOW + 21601}),
        "Bearer a.b.c",
    ],
    ids=[
        "missing",
        "not-bearer",
        "empty",
        "unknown-opaque",
        "alg-none",
        "hs512",
        "bad-signature",
        "unknown-sub",
        "expired",
        "no-exp",
        "lifetime-over-6h",
        "malformed",
    ],
)
def test_bad_bearer_tokens_are_rejected(sandbox: RunningSandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.post(
        f"{sandbox.url}/api", json={"query": "{ viewer { apiKey } }"}, headers=headers, timeout=5
    )
    assert response.status_code == 401
    assert codes(response) == ["UNAUTHENTICATED"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_client_signed_jwt_is_accepted(sandbox: RunningSandbox) -> None:
    response = gql_post(sandbox, "{ viewer { apiKey portalName } }", bearer=_jwt(GOOD))
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["apiKey"] == KEY


def test_expired_issued_token_is_rejected(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(token_ttl=1)
    issued = token(sandbox)
    assert gql_post(sandbox, "{ viewer { apiKey } }", bearer=issued).status_code == 200
    time.sleep(1.2)
    assert gql_post(sandbox, "{ viewer { apiKey } }", bearer=issued).status_code == 401


# ------------------------------------------------------ contract behaviour

CREATE_GROUP = "mutation($i: GroupInput!) { createGroup(input: $i) { id externalId name } }"


def create_group(sandbox: RunningSandbox, external_id: str, name: str = "G") -> str:
    response = gql_post(sandbox, CREATE_GROUP, {"i": {"externalId": external_id, "name": name}})
    return str(response.json()["data"]["createGroup"]["id"])


def test_error_codes(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    create_group(sandbox, "dup")
    conflict = gql_post(sandbox, CREATE_GROUP, {"i": {"externalId": "dup", "name": "x"}})
    assert codes(conflict) == ["CONFLICT"]
    missing_name = gql_post(sandbox, CREATE_GROUP, {"i": {"externalId": "n"}})
    assert codes(missing_name) == ["BAD_USER_INPUT"]
    not_found = gql_post(sandbox, 'mutation { deleteGroup(id: "grp_999") }')
    assert codes(not_found) == ["NOT_FOUND"]
    unknown_field = gql_post(sandbox, "{ viewer { secretSauce } }")
    assert codes(unknown_field) == ["BAD_USER_INPUT"]
    read_only = sandbox_factory(read_only=True)
    assert codes(gql_post(read_only, CREATE_GROUP, {"i": {"name": "x"}})) == ["FORBIDDEN"]
    limited = sandbox_factory(rate_limit=1)
    bearer = token(limited)
    statuses = [gql_post(limited, "{ viewer { apiKey } }", bearer=bearer) for _ in range(3)]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled and codes(throttled[0]) == ["RATE_LIMITED"]
    assert throttled[0].headers["Retry-After"] == "1"


def test_aliased_mutations_fail_one_by_one(sandbox: RunningSandbox) -> None:
    create_group(sandbox, "taken")
    response = gql_post(
        sandbox,
        """mutation {
        a: createGroup(input: {externalId: "new", name: "New"}) { id }
        b: createGroup(input: {externalId: "taken", name: "Again"}) { id }
        c: createGroup(input: {externalId: "other", name: "Other"}) { id } }""",
    )
    body = response.json()
    assert body["data"]["a"] and body["data"]["c"] and body["data"]["b"] is None
    assert [e["path"] for e in body["errors"]] == [["b"]]
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


def test_update_is_a_patch_and_null_clears(sandbox: RunningSandbox) -> None:
    gid = create_group(sandbox, "g")
    user = gql_post(
        sandbox,
        """mutation($g: ID!) { createUser(sendWelcomeEmail: false,
        input: {email: "A@x.example", firstName: "A", lastName: "B", title: "T", groupIds: [$g]})
        { id } }""",
        {"g": gid},
    ).json()["data"]["createUser"]["id"]
    patched = gql_post(
        sandbox,
        """mutation($id: ID!) { updateUser(id: $id, input: {lastName: "C"})
        { title lastName groups { externalId } } }""",
        {"id": user},
    ).json()
    assert patched["data"]["updateUser"] == {
        "title": "T",
        "lastName": "C",
        "groups": [{"externalId": "g"}],
    }
    cleared = gql_post(
        sandbox,
        """mutation($id: ID!) { updateUser(id: $id, input: {title: null})
        { title } }""",
        {"id": user},
    ).json()
    assert cleared["data"]["updateUser"]["title"] is None
    again = gql_post(
        sandbox,
        """mutation { createUser(input: {email: "a@X.EXAMPLE",
        firstName: "x", lastName: "y"}) { id } }""",
    )
    assert codes(again) == ["CONFLICT"]


def test_custom_fields_are_checked_and_account_delete_cascades(sandbox: RunningSandbox) -> None:
    gql_post(
        sandbox,
        """mutation { createAccountField(input: {key: "tier", label: "Tier",
        type: SELECT, options: ["gold"], required: true}) { id } }""",
    )
    bad = gql_post(
        sandbox,
        """mutation { createAccount(input: {externalId: "a", name: "A",
        customFields: [{key: "tier", value: "bronze"}]}) { id } }""",
    )
    assert codes(bad) == ["BAD_USER_INPUT"]
    required = gql_post(sandbox, 'mutation { createAccount(input: {name: "A"}) { id } }')
    assert codes(required) == ["BAD_USER_INPUT"]
    account = gql_post(
        sandbox,
        """mutation { createAccount(input: {externalId: "a", name: "A",
        customFields: [{key: "tier", value: "gold"}]}) { id } }""",
    ).json()
    aid = account["data"]["createAccount"]["id"]
    gql_post(
        sandbox,
        'mutation($a: ID!) { createLocation(accountId: $a, input: {name: "HQ"}) { id } }',
        {"a": aid},
    )
    user = gql_post(
        sandbox,
        """mutation($a: ID!) { createUser(input: {email: "u@a.example",
        firstName: "U", lastName: "V", accountId: $a}) { id } }""",
        {"a": aid},
    ).json()
    assert "errors" not in user
    gql_post(sandbox, "mutation($a: ID!) { deleteAccount(id: $a) }", {"a": aid})
    assert sandbox.store.count("locations") == 0
    users = gql_post(sandbox, "{ users { nodes { email account { id } } } }").json()
    assert users["data"]["users"]["nodes"] == [{"email": "u@a.example", "account": None}]


def test_page_cap_returns_short_pages_and_cursors_reach_everything(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(page_cap=7)
    for i in range(30):
        sandbox.store.create(
            "users", {"email": f"u{i}@x.example", "firstName": "F", "lastName": "L"}
        )
    bearer = token(sandbox)
    emails: list[str] = []
    pages = 0
    after = None
    while True:
        page = gql_post(
            sandbox,
            """query($after: String) { users(first: 100, after: $after) {
            nodes { email } pageInfo { hasNextPage endCursor } totalCount } }""",
            {"after": after},
            bearer=bearer,
        ).json()["data"]["users"]
        pages += 1
        assert len(page["nodes"]) <= 7 and page["totalCount"] == 30
        emails += [n["email"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 5
    assert len(set(emails)) == 30


def test_drop_after_commit_gives_no_answer_but_commits(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(drop_after_commit_rate=1.0)
    bearer = token(sandbox)
    with pytest.raises(requests.exceptions.ConnectionError):
        gql_post(
            sandbox, CREATE_GROUP, {"i": {"externalId": "dropped", "name": "D"}}, bearer=bearer
        )
    assert sandbox.store.get("groups", key="dropped") is not None


def test_fail_rate_answers_503_before_doing_anything(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(fail_rate=1.0)
    response = gql_post(sandbox, CREATE_GROUP, {"i": {"externalId": "x", "name": "X"}})
    assert response.status_code == 503
    assert sandbox.store.count("groups") == 0


@pytest.mark.parametrize(
    ("body", "content_type", "expected_status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b'{"query": 42}', "application/json", 400),
        (b'{"query": "{ viewer { apiKey } }", "variables": [1]}', "application/json", 400),
        (b'{"query": "{ viewer { apiKey "}', "application/json", 200),
        (b'{"query": "{ users(first: 100000) { totalCount } }"}', "application/json", 200),
        (b'{"query": "{ users(first: 99999999999) { totalCount } }"}', "application/json", 200),
        (b'{"query": "{ nothingHere }"}', "application/json", 200),
        (b"query=%7Bviewer%7D", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe\x00\x01", "application/json", 400),
    ],
    ids=[
        "malformed",
        "array",
        "string",
        "query-not-string",
        "variables-not-object",
        "syntax-error",
        "huge-first",
        "int-overflow",
        "unknown-field",
        "form-body",
        "binary",
    ],
)
def test_bad_input_never_crashes_the_server(
    sandbox: RunningSandbox, body: bytes, content_type: str, expected_status: int
) -> None:
    bearer = token(sandbox)
    response = requests.post(
        f"{sandbox.url}/api",
        data=body,
        timeout=5,
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": content_type},
    )
    assert response.status_code == expected_status
    errors = response.json()["errors"]
    assert errors and all(e["message"] and e["extensions"]["code"] for e in errors)
    follow_up = gql_post(sandbox, "{ viewer { apiKey } }", bearer=bearer)
    assert follow_up.status_code == 200 and follow_up.json()["data"]["viewer"]["apiKey"] == KEY


def test_graphql_response_media_type_uses_400_for_request_errors(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/api",
        json={"query": "{ nope }"},
        timeout=5,
        headers={
            "Authorization": f"Bearer {token(sandbox)}",
            "Accept": "application/graphql-response+json",
        },
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/graphql-response+json")
    assert "data" not in response.json()  # the document never executed


def test_errors_carry_locations_and_path(sandbox: RunningSandbox) -> None:
    response = gql_post(sandbox, 'mutation {\n  x: deleteGroup(id: "grp_1")\n}')
    error = response.json()["errors"][0]
    assert error["path"] == ["x"] and error["locations"] == [{"line": 2, "column": 3}]


def test_requests_are_logged_without_tokens(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="konvsync.sandbox")
    bearer = token(sandbox)
    gql_post(sandbox, "{ viewer { apiKey } }", bearer=bearer)
    lines = [r.getMessage() for r in caplog.records if r.name == "konvsync.sandbox"]
    assert any(line.startswith("POST /api 200 ") and line.endswith("ms") for line in lines)
    assert not any(bearer in line or SECRET in line for line in lines)


@pytest.mark.parametrize("made", ["not_sqlite", "directory", "under_a_file"])
def test_a_sandbox_file_that_cannot_be_opened_is_one_clear_line(
    tmp_path: Path, write_config: Callable[..., Path], made: str
) -> None:
    """--db (or KONVSYNC_SANDBOX_DB for ``endpoint: sandbox``) naming a file
    that is no SQLite database, a folder, or a path below a regular file is
    the user's to correct: one line naming the file, exit 1, not an
    "unexpected" error asking for a bug report."""
    import logging

    if made == "not_sqlite":
        path = tmp_path / "notes.db"
        path.write_text("konvsync: 1\n")
    elif made == "directory":
        path = tmp_path / "folder.db"
        path.mkdir()
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "sandbox.db"
    config = write_config("konvsync: 1\nendpoint: sandbox\ngroups: [{externalId: g, name: G}]\n")
    sandbox_log = logging.getLogger("konvsync.sandbox")
    level = sandbox_log.level
    try:
        results = [
            invoke(["sandbox", "--db", str(path), "--port", "0"]),
            invoke(["plan", str(config)], env={"KONVSYNC_SANDBOX_DB": str(path)}),
        ]
    finally:
        sandbox_log.setLevel(level)  # the command turns on request logging for the process
    for result in results:
        assert result.exit_code == 1, result.output
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith(f"Error: sandbox database {path} cannot be opened"), error
        assert "unexpected" not in result.output


def test_a_second_sandbox_on_one_database_file_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]
) -> None:
    """The embedded sandbox on a file another sandbox holds waited SQLite's
    5 s busy timeout in silence before its refusal."""
    from konvsync.sandbox.database import Database

    path = tmp_path / "sandbox.db"
    held = Database(str(path))
    try:
        monkeypatch.setenv("KONVSYNC_SANDBOX_DB", str(path))
        config = write_config("konvsync: 1\ngroups: []\n")
        started = time.monotonic()
        result = invoke(["--endpoint", "sandbox", "plan", str(config)])
        waited = time.monotonic() - started
    finally:
        held.close()
    assert result.exit_code == 1, result.output
    assert f"sandbox database {path} is in use by another sandbox process" in result.stderr
    assert waited < 3, f"refused after {waited:.1f} s"


def test_the_embedded_sandbox_on_a_held_file_says_how_to_reach_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: Callable[..., Path]
) -> None:
    """A new user runs ``konvsync sandbox`` in one terminal and ``konvsync
    plan`` (endpoint: sandbox) in another: the embedded sandbox cannot open
    the file the server holds. The refusal said "use another --db", a flag
    plan does not have; it names what plan can do instead."""
    from konvsync.sandbox.database import Database

    path = tmp_path / "sandbox.db"
    held = Database(str(path))
    try:
        monkeypatch.setenv("KONVSYNC_SANDBOX_DB", str(path))
        config = write_config("konvsync: 1\nendpoint: sandbox\ngroups: []\n")
        result = invoke(["plan", str(config)])
    finally:
        held.close()
    assert result.exit_code == 1, result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: sandbox database {path} is in use by another sandbox"), error
    assert "konvsync sandbox" in error, error
    assert "--endpoint http://127.0.0.1:8765" in error, error
    assert "KONVSYNC_SANDBOX_DB" in error, error
    assert "--db" not in error, error
    assert "Traceback" not in result.output


def test_the_embedded_sandbox_names_where_its_file_came_from(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """KONVSYNC_SANDBOX_DB names one file for every folder (README, "Set
    up"). A new sandbox started there was announced as one "under the
    current folder: run konvsync from this folder to find it again, or set
    KONVSYNC_SANDBOX_DB", which it was not, and the variable was set."""
    shared = tmp_path / "shared" / "portal.db"
    config = write_config("konvsync: 1\nendpoint: sandbox\ngroups: [{externalId: g, name: G}]\n")
    result = invoke(["plan", str(config)], env={"KONVSYNC_SANDBOX_DB": str(shared)})
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if "has no data yet" in line]
    assert warning == [
        f"WARNING: the sandbox has no data yet: a new one starts in {shared} (KONVSYNC_SANDBOX_DB)"
    ], result.stderr


def test_an_empty_konvsync_sandbox_db_is_as_unset(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    """``KONVSYNC_SANDBOX_DB=`` (a CI variable defined empty) was taken as
    the file "": SQLite's private temporary database, announced as a new
    sandbox "in" the current folder and gone when the command ended, so an
    apply's work vanished and the next plan planned it all again. Empty
    means unset: the sandbox in ./.konvsync/sandbox.db."""
    config = write_config("konvsync: 1\nendpoint: sandbox\ngroups: [{externalId: g, name: G}]\n")
    env: dict[str, str | None] = {"KONVSYNC_SANDBOX_DB": ""}
    first = invoke(["apply", str(config), "--auto-approve"], env=env)
    assert first.exit_code == 0, first.output
    assert f"a new one starts in {tmp_path / '.konvsync' / 'sandbox.db'} (under" in first.stderr
    again = invoke(["plan", str(config), "--detailed-exitcode"], env=env)
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
