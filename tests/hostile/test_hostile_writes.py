"""Issue 12: a mutation answer that breaks the contract (or shows the portal
did not do what was asked) is a failure of that object in the apply summary,
and nothing that depends on the object is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.hostile.harness import (
    PREFIX,
    Finished,
    after_plan,
    apply_args,
    hostile_portal,
    run_konvsync,
    seeded_sandbox,
    write_desired,
)
from tests.hostile.server import Call, Case, running_hostile_server
from tests.hostile.write_cases import (
    AnswerAnotherId,
    AsciiDomains,
    BrokenAfterWrites,
    BrokenReRead,
    EchoedInput,
    EditedSchema,
    IgnoredField,
    IntrospectionOf2018,
    MutationAnswerId,
    MutationAnswerValue,
    RawAfterExecution,
    StaleReadsAfterWrites,
    TagsDropped,
)

NEW_GROUP = "{externalId: new-team, name: New Team, permissions: [MANAGE_NEWS]}"
NEWBIE = "newbie@example.test"
NEW_USER = (
    f"{{email: {NEWBIE}, firstName: New, lastName: Bie, account: acct-0, groups: [new-team]}}"
)


@pytest.mark.parametrize(
    ("name", "bad_id"), [("create-answer-id-null", None), ("create-answer-id-number", 4242)]
)
def test_create_answer_without_a_usable_id_fails_the_object_and_what_needs_it(
    name: str, bad_id: object, tmp_path: Path
) -> None:
    case = MutationAnswerId(name, "CreateGroupBatch", "externalId", "new-team", bad_id)
    _new_team_failed(tmp_path, case)


def _new_team_failed(tmp_path: Path, case: Case) -> tuple[Finished, list[str]]:
    """Apply a new group (new-team) and a user in it through ``case``, which
    spoils the group's create answer: the run fails (exit 1, no traceback),
    names new-team, and sends nothing that needs it. The run and the lines
    of its output that name new-team."""
    config = write_desired(tmp_path, more_groups=[NEW_GROUP], more_users=[NEW_USER])
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        sent = portal.sent_values()
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output
    named = [line for line in result.output.splitlines() if "new-team" in line]
    assert named, f"the summary does not name groups/new-team: {result.describe()}"
    assert NEWBIE not in sent, f"the user in new-team was sent anyway: {result.describe()}"
    return result, named


@pytest.mark.parametrize(
    ("answer", "misfit"),
    [
        (
            {"permissions": ["OWN_EVERYTHING"]},
            '.permissions[0] is "OWN_EVERYTHING", a value of enum Permission the contract does '
            "not list",
        ),
        ({"lmsModules": [{"id": "lms_1"}]}, ".lmsModules[0].slug is missing"),
        ({"name": None}, ".name is null, the schema says String!"),
    ],
)
def test_a_create_answer_that_breaks_the_contract_fails_the_object(
    answer: dict[str, object], misfit: str, tmp_path: Path
) -> None:
    """Each alias of a batch is checked against its operation's generated
    answer shape: an enum value, a missing field in a nested object, a null
    where the contract says non-null."""
    case = MutationAnswerValue(
        "create-answer-misfit", "CreateGroupBatch", ("externalId", "new-team"), answer
    )
    result, named = _new_team_failed(tmp_path, case)
    failed = [line for line in named if PREFIX in line]
    assert failed, result.describe()
    assert f"CreateGroup: createGroup{misfit}" in failed[0], result.describe()


NEW_ACCOUNT = "{externalId: acct-new, name: New Co, locations: [{name: Lab}, {name: Annex}]}"
NEW_CUSTOMER = f"{{email: {NEWBIE}, firstName: New, lastName: Bie, account: acct-new}}"


def test_account_create_answered_without_id_sends_nothing_that_needs_it(tmp_path: Path) -> None:
    config = write_desired(tmp_path, more_accounts=[NEW_ACCOUNT], more_users=[NEW_CUSTOMER])
    case = MutationAnswerId(
        "create-account-id-null", "CreateAccountBatch", "externalId", "acct-new", None
    )
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        sent = portal.sent_values()
        operations = portal.operations()
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output
    assert any("acct-new" in line for line in after_plan(result).splitlines()), result.describe()
    assert "CreateLocationBatch" not in operations, f"its locations were sent: {result.describe()}"
    assert NEWBIE not in sent, f"the user in acct-new was sent anyway: {result.describe()}"


def test_update_the_portal_ignored_is_reported_per_object(tmp_path: Path) -> None:
    config = write_desired(tmp_path, permissions={2: ["MANAGE_GROUPS", "MANAGE_NEWS"]})
    case = IgnoredField("update-ignores-a-field", "UpdateGroupBatch", "permissions")
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
        groups = sandbox.store.page("groups", 100, None)["nodes"]
    assert happened, "the case never happened"
    kept = {g["externalId"]: g["permissions"] for g in groups}
    assert kept["team-2"] == [], "the portal was to ignore permissions"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output
    named = [line for line in result.output.splitlines() if "team-2" in line]
    assert any("permissions" in line for line in named), (
        f"no line names team-2 and permissions: {result.describe()}"
    )
    assert "Apply complete!" not in result.output, result.describe()


def test_an_update_answered_with_the_input_but_not_stored_is_caught_by_default(
    tmp_path: Path,
) -> None:
    config = write_desired(tmp_path)  # user05's title: Member -> Lead
    case = EchoedInput("update-echoes-its-input", "UpdateUserBatch", "title")
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
        kept = sandbox.store.get("users", key="user05@example.test")
    assert happened, "the case never happened"
    assert kept is not None and kept["title"] == "Member", "the portal was to drop the title"
    assert result.exit_code == 1, result.describe()
    assert (
        'not as planned: users/user05@example.test (update) has title = "Member" '
        '(wanted "Lead")' in result.output
    ), result.describe()


@pytest.mark.parametrize(("verify", "caught"), [("updates", False), ("full", True)])
def test_a_create_answered_with_the_input_but_not_stored(
    verify: str, caught: bool, tmp_path: Path
) -> None:
    """What the default leaves to the answers: a create whose answer echoes a
    field the portal did not store is caught by --verify=full only (README,
    'What apply reads back after the run'); the next plan shows it either way."""
    boss = NEW_USER.replace("}", ", title: Boss}")
    config = write_desired(tmp_path, more_groups=[NEW_GROUP], more_users=[boss])
    case = EchoedInput("create-echoes-its-input", "CreateUserBatch", "title")
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        result = run_konvsync(
            [*apply_args(portal.endpoint(), config), "--verify", verify], tmp_path
        )
        happened = portal.rewritten
        plan = run_konvsync(["--endpoint", sandbox.url, "plan", str(config)], tmp_path)
    assert happened, "the case never happened"
    mismatch = f'not as planned: users/{NEWBIE} (create) has title = null (wanted "Boss")'
    assert (mismatch in result.output) is caught, result.describe()
    assert result.exit_code == (1 if caught else 0), result.describe()
    assert '~ title = null -> "Boss"' in plan.output, plan.describe()


def test_update_answer_id_null_fails_the_object(tmp_path: Path) -> None:
    config = write_desired(tmp_path)
    case = MutationAnswerId("update-answer-id-null", "UpdateUserBatch", "", "", None)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert any("user05@example.test" in line for line in result.output.splitlines()), (
        result.describe()
    )
    assert "Apply complete!" not in result.output, result.describe()


def test_update_answered_with_another_objects_id_fails_the_object(tmp_path: Path) -> None:
    config = write_desired(tmp_path)
    case = AnswerAnotherId("update-answer-other-id", "UpdateUserBatch")
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert any("user05@example.test" in line for line in after_plan(result).splitlines()), (
        result.describe()
    )


def test_re_read_before_a_step_that_breaks_the_contract_stops_the_step(tmp_path: Path) -> None:
    """Issue 12, 4(a): apply re-reads what a step updates right before sending
    it; that answer is checked like any other, and the step is not sent."""
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, BrokenReRead()) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
        operations = portal.operations()
    assert happened, f"no re-read of groups happened: {operations}"
    assert "UpdateGroupBatch" not in operations, result.describe()
    assert result.exit_code == 1, result.describe()
    assert PREFIX in result.output, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output


def test_read_back_that_breaks_the_contract_is_reported(tmp_path: Path) -> None:
    # A group's permissions change: the read-back after the run (of the
    # fields updates wrote, by default) reads them.
    config = write_desired(tmp_path, permissions={2: ["MANAGE_NEWS"]})
    with hostile_portal(tmp_path, BrokenAfterWrites()) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
    assert happened, "no read after the writes"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output
    assert PREFIX in after_plan(result), result.describe()
    assert "Apply complete!" not in result.output, result.describe()


def test_create_executed_but_answered_with_html_is_reported_and_converges(
    tmp_path: Path,
) -> None:
    config = write_desired(tmp_path, more_groups=[NEW_GROUP])
    case = RawAfterExecution("create-answered-with-html", "CreateGroupBatch")
    with seeded_sandbox(tmp_path) as sandbox, running_hostile_server(sandbox.url, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
        again = run_konvsync(apply_args(sandbox.url, config), tmp_path)
        count = sandbox.store.count("groups")
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.output and "please report" not in result.output
    assert any("new-team" in line and PREFIX in line for line in result.output.splitlines()), (
        result.describe()
    )
    assert again.exit_code == 0 and "No changes." in again.stdout, again.describe()
    assert count == 6, "new-team was created twice or not at all"


def _type(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in schema["types"] if t["name"] == name)


def _required_tenant_defaulting_to_null(schema: dict[str, Any]) -> None:
    string = {"kind": "NON_NULL", "name": None, "ofType": {"kind": "SCALAR", "name": "String"}}
    tenant = {"name": "tenant", "description": None, "type": string, "defaultValue": "null"}
    _type(schema, "GroupInput")["inputFields"].append(tenant)


def test_a_portal_schema_graphql_core_deems_invalid_is_still_checked(tmp_path: Path) -> None:
    """The schema check's full way on a schema graphql-core builds but deems
    invalid (``tenant: String! = null`` in GroupInput, a default that is no
    value of its type: none): what can be checked is (tenant is required and
    konvsync never sends it: refused, nothing sent), not an unexpected error."""
    config = write_desired(tmp_path)
    case = EditedSchema("invalid-default", _required_tenant_defaulting_to_null)
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        happened = portal.rewritten
        mutations = portal.mutations
    assert happened, "the case never happened"
    assert "unexpected" not in result.output and "Traceback" not in result.output, result.describe()
    assert result.exit_code == 3, result.describe()
    assert "GroupInput requires tenant, which konvsync never sends" in result.stderr
    assert mutations == [], result.describe()


def _group_input_of_an_unknown_type(schema: dict[str, Any]) -> None:
    unknown = {"kind": "INPUT_OBJECT", "name": "NoSuchInput", "ofType": None}
    field = {"name": "owner", "description": None, "type": unknown, "defaultValue": None}
    _type(schema, "GroupInput")["inputFields"].append(field)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_required_tenant_defaulting_to_null, "GroupInput requires tenant"),
        (_group_input_of_an_unknown_type, "FAIL schema: the portal's schema could not be read"),
    ],
)
def test_doctor_reports_a_schema_it_cannot_read_or_deems_invalid(
    tmp_path: Path, edit: Any, expected: str
) -> None:
    """doctor checks what it can of a schema graphql-core deems invalid, and
    says in one line that a schema it cannot build was not read: exit 1,
    never an unexpected error."""
    with hostile_portal(tmp_path, EditedSchema("doctor-schema", edit)) as portal:
        result = run_konvsync(["--endpoint", portal.endpoint(), "doctor"], tmp_path)
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert "unexpected" not in result.output and "Traceback" not in result.output, result.describe()
    assert result.exit_code == 1, result.describe()
    assert expected in result.stdout, result.describe()


def test_a_portal_whose_introspection_predates_deprecated_inputs_is_asked_again(
    tmp_path: Path,
) -> None:
    """apply asks for deprecated arguments and input fields too; a portal of
    GraphQL's 2018 edition refuses that query: it is asked once more its
    own way, and the schema is checked (not skipped with a warning)."""
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, IntrospectionOf2018()) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config, "-vv"), tmp_path)
        happened = portal.rewritten
        asked = portal.operations().count("IntrospectionQuery")
    assert happened, "the case never happened"
    assert result.exit_code == 0, result.describe()
    assert asked == 2, result.describe()
    assert "could not be read" not in result.output, result.describe()
    assert "agrees with the contract" in result.stderr, result.describe()


@pytest.mark.parametrize("verify", ["updates", "full"])
def test_a_read_back_a_moment_behind_the_writes_is_not_a_failure(
    verify: str, tmp_path: Path
) -> None:
    """The read-back meets a replica that does not show the run's writes
    yet (the plan's answers again, once): what it finds not as planned is
    read once more before it is reported, and the apply succeeds."""
    config = write_desired(tmp_path, more_groups=[NEW_GROUP])
    case = StaleReadsAfterWrites()
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(
            [*apply_args(portal.endpoint(), config), "--verify", verify], tmp_path
        )
    assert case.stale, "the case never happened"
    assert result.exit_code == 0, result.describe()
    assert "not as planned" not in result.output, result.describe()
    assert "1 added, 2 changed, 0 destroyed" in result.stdout, result.describe()


@pytest.mark.parametrize(
    ("domain", "stored", "idna_2008"),
    [
        ("bücher.example", "xn--bcher-kva.example", False),
        # IDNA 2008 keeps ß and ς, which Python's "idna" codec (2003) does not
        # decode back: the portal's form must still be the same user.
        ("straße.example", "xn--strae-oqa.example", True),
        ("βόλος.example", "xn--nxasmm1c.example", True),
    ],
)
def test_an_e_mail_domain_the_portal_stores_in_ascii_is_the_same_user(
    tmp_path: Path, domain: str, stored: str, idna_2008: bool
) -> None:
    """The portal stores anna@bücher.example as anna@xn--bcher-kva.example:
    the create goes through, and with every user pruned the next runs see
    the same user (no create, and above all no delete of her)."""
    anna = f"{{email: anna@{domain}, firstName: Anna, lastName: Bach}}"
    config = write_desired(tmp_path, more_users=[anna])
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, AsciiDomains(idna_2008)) as portal:
            first = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
            plan = run_konvsync(
                ["--endpoint", portal.endpoint(), "plan", str(config), "--detailed-exitcode"],
                tmp_path,
            )
            again = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
            deletes = [c.operation for c in portal.mutations if c.operation.startswith("Delete")]
        kept = sandbox.store.get("users", key=f"anna@{stored}")
    assert first.exit_code == 0, first.describe()
    assert plan.exit_code == 0, plan.describe()
    assert again.exit_code == 0, again.describe()
    assert deletes == [], f"deleted: {deletes}\n{again.describe()}"
    assert kept is not None and kept["firstName"] == "Anna"


def test_no_delete_of_a_kind_whose_create_met_conflict(tmp_path: Path) -> None:
    """The config renames user07@example.test to user07+team@example.test
    (every user pruned); the portal stores e-mails without their +tag, so
    the create meets CONFLICT: the portal holds that user under another
    spelling, and the delete of user07@example.test would take the very
    user the config wants. Deletes of a kind whose create met CONFLICT are
    skipped in that run (exit 1, said), and the user is still there."""
    config = write_desired(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "user07@example.test", "user07+team@example.test"
        ),
        encoding="utf-8",
    )
    with seeded_sandbox(tmp_path) as sandbox:
        with running_hostile_server(sandbox.url, TagsDropped()) as portal:
            result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
            deletes = [c.operation for c in portal.mutations if c.operation.startswith("Delete")]
        kept = sandbox.store.get("users", key="user07@example.test")
    assert result.exit_code == 1, result.describe()
    assert deletes == [], f"deleted: {deletes}\n{result.describe()}"
    assert kept is not None, result.describe()
    named = [line for line in after_plan(result).splitlines() if "user07@example.test" in line]
    assert any("CONFLICT" in line for line in named), result.describe()


TWICE = "{externalId: acct-new, name: New Co, customFields: {account_number: N-1}}"


@pytest.mark.parametrize(
    "values",
    [[None, "N-1"], ["N-1", None], ["N-1", "N-2"]],
    ids=["null-first", "null-last", "two-values"],
)
def test_an_account_answered_with_one_custom_field_twice_fails_the_object(
    values: list[str | None], tmp_path: Path
) -> None:
    """A create answered with a custom field listed twice (a value and no
    value, or two values) does not show which one the account holds: a
    read that lists one twice is a contract error, and so is the answer.
    It fails the account (naming the key), and nothing that needs the
    account is sent. Before, whichever entry came last was taken: with
    the value last, apply said "Apply complete!" on an answer that may
    show the value was not kept."""
    entries = [{"key": "account_number", "value": value} for value in values]
    case = MutationAnswerValue(
        "custom-field-twice",
        "CreateAccountBatch",
        ("externalId", "acct-new"),
        {"customFields": entries},
    )
    config = write_desired(tmp_path, more_accounts=[TWICE], more_users=[NEW_CUSTOMER])
    with hostile_portal(tmp_path, case) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
        sent = portal.sent_values()
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 1, result.describe()
    failed = [line for line in after_plan(result).splitlines() if "acct-new" in line]
    assert failed, result.describe()
    assert PREFIX in failed[0], result.describe()
    assert "CreateAccount: createAccount.customFields lists 'account_number' twice" in failed[0], (
        result.describe()
    )
    assert NEWBIE not in sent, f"the user in acct-new was sent anyway: {result.describe()}"


class DataWithAnEscapingError(Case):
    """Every mutation answer holds its data and an error whose message
    carries terminal escapes (a portal's note: GraphQL allows both)."""

    name = "data-with-an-escaping-error"

    def answer(self, call: Call, answer: Any) -> Any:
        if call.is_mutation and isinstance(answer, dict) and answer.get("data"):
            answer["errors"] = [{"message": "noted\x1b[2J\x1b]0;pwned\x07"}]
        return answer


def test_the_warning_of_data_with_an_error_escapes_the_portals_message(tmp_path: Path) -> None:
    """The warning that the portal answered with its data and an error (the
    data shows the write was done) wrote the portal's message to stderr as
    it was, terminal escapes included; every other output escapes them."""
    config = write_desired(tmp_path)
    with hostile_portal(tmp_path, DataWithAnEscapingError()) as portal:
        result = run_konvsync(apply_args(portal.endpoint(), config), tmp_path)
    assert result.exit_code == 0, result.describe()
    assert "the portal answered with its data and an error" in result.stderr, result.describe()
    assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
