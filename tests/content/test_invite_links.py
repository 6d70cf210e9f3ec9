"""Invite links through the CLI against the sandbox: every action, the one
open link switched in one apply, sensitive codes, expiry, validate rules."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from konvsync.sandbox.store import Store, StoreError
from tests.conftest import CliRun, SandboxFactory, invoke
from tests.hostile.legal_cases import TitlesBlank
from tests.hostile.server import Call, Case, running_hostile_server
from tests.published_schemas import validated

ConfigWriter = Callable[..., Path]
CODE = "Sesame-4711-secret"
ENV = {"DEALER_CODE": CODE}

LINKS = """\
konvsync: 1
policy: {{prune: [inviteLinks]}}
groups: [{{externalId: dealers, name: Dealers}}]
accounts: [{{externalId: acme, name: ACME}}]
inviteLinks:
  - title: Dealer sign-up
    access: CODE
    code: ${{env:DEALER_CODE}}
    expiresAt: 2027-06-30
    account: acme
    allowedEmailDomains: [acme.example]
    groups: [dealers]
    redirectPath: /lms
{more}variables: [DEALER_CODE]
"""


def run(sandbox: RunningSandbox, *args: str, env: dict[str, str] | None = None) -> CliRun:
    return invoke(["--endpoint", sandbox.url, *args], env={**ENV, **(env or {})})


def links(store: Store) -> dict[str, dict[str, object]]:
    return {node["title"]: node for node in store.page("inviteLinks", 100, None)["nodes"]}


def test_links_created_updated_switched_deactivated_deleted(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    open_house = "  - {title: Open house, access: OPEN}\n"
    config = write_config(LINKS.format(more=open_house))
    first = run(sandbox, "apply", str(config), "--auto-approve")
    assert first.exit_code == 0, first.output
    assert CODE not in first.output
    created = links(sandbox.store)
    assert set(created) == {"Dealer sign-up", "Open house"}
    # The apply summary names the URL of every link it created.
    for title in created:
        assert f"created inviteLinks/{title}: url {created[title]['url']}" in first.stdout
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0

    # Switch the open link in one apply: the old one is deleted before the
    # new one is created (the portal allows one at a time), and the code
    # link is deactivated and changed.
    second_config = LINKS.format(more="  - {title: Open day, access: OPEN}\n").replace(
        "    redirectPath: /lms\n", "    redirectPath: /welcome\n    active: false\n"
    )
    config = write_config(second_config)
    plan = run(sandbox, "plan", str(config))
    order = [line for line in plan.stdout.splitlines() if line.startswith("  # ")]
    assert order == [
        "  # inviteLinks/Open house will be destroyed",
        "  # inviteLinks/Dealer sign-up will be updated in-place",
        "  # inviteLinks/Open day will be created",
    ]
    second = run(sandbox, "apply", str(config), "--auto-approve")
    assert second.exit_code == 0, second.output
    assert "Apply complete! Resources: 1 added, 1 changed, 1 destroyed." in second.stdout
    now = links(sandbox.store)
    assert set(now) == {"Dealer sign-up", "Open day"}
    assert now["Dealer sign-up"]["active"] is False
    assert now["Dealer sign-up"]["redirectPath"] == "/welcome"
    assert now["Dealer sign-up"]["url"] == created["Dealer sign-up"]["url"]  # updated in place
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0

    # Switching back by activation: deactivating the open one goes first.
    third = second_config.replace(
        "  - {title: Open day, access: OPEN}\n",
        "  - {title: Open day, access: OPEN, active: false}\n"
        "  - {title: Open house, access: OPEN}\n",
    )
    config = write_config(third)
    result = run(sandbox, "apply", str(config), "--auto-approve")
    assert result.exit_code == 0, result.output
    assert {t: n["active"] for t, n in links(sandbox.store).items()} == {
        "Dealer sign-up": False,
        "Open day": False,
        "Open house": True,
    }
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0


def test_the_code_is_in_no_output_and_a_saved_plan_rereads_it(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(LINKS.format(more=""))
    outputs = [run(sandbox, "plan", str(config), "--format", fmt) for fmt in ("text", "json")]
    outputs.append(run(sandbox, "plan", str(config), "--format", "markdown"))
    planfile = tmp_path / "links.plan"
    outputs.append(run(sandbox, "plan", str(config), "--out", str(planfile)))
    outputs.append(run(sandbox, "-vv", "plan", str(config)))
    for output in outputs:
        assert output.exit_code == 0, output.output
        assert CODE not in output.output
    assert "+ code                = (sensitive)" in outputs[0].stdout
    change = next(
        c for c in validated(outputs[1].stdout, "plan")["changes"] if c["key"] == "Dealer sign-up"
    )
    assert change["after"]["code"] == "(sensitive)"
    saved = planfile.read_text()
    assert CODE not in saved
    assert (
        json.loads(saved)["sensitive"]["values"]['["inviteLinks", "Dealer sign-up"]']["code"]["env"]
        == "DEALER_CODE"
    )

    # The variable changed since the plan: refused, nothing written.
    refused = run(sandbox, "apply", str(planfile), env={"DEALER_CODE": "another-code"})
    assert refused.exit_code == 3
    assert "DEALER_CODE" in refused.stderr and "changed since the plan" in refused.stderr
    assert "another-code" not in refused.output
    assert sandbox.store.count("inviteLinks") == 0 and sandbox.store.count("groups") == 0
    unset = invoke(["--endpoint", sandbox.url, "apply", str(planfile)])
    assert unset.exit_code == 3 and "not set now" in unset.stderr

    applied = run(sandbox, "apply", str(planfile))
    assert applied.exit_code == 0, applied.output
    assert CODE not in applied.output
    assert links(sandbox.store)["Dealer sign-up"]["code"] == CODE

    # A changed code is a change, shown without either value.
    changed = run(sandbox, "plan", str(config), env={"DEALER_CODE": "New-Code-99"})
    assert "~ code = (sensitive) -> (sensitive)" in changed.stdout
    assert "New-Code-99" not in changed.output and CODE not in changed.output
    markdown = run(sandbox, "plan", str(config), "--format", "markdown", env={"DEALER_CODE": "x1"})
    assert "code: (sensitive) -> (sensitive)" in markdown.stdout


@pytest.mark.parametrize(
    "edit",
    [
        "left out",  # the sensitive values' part removed
        "another address",  # filed under a key no change of the plan has
    ],
)
def test_a_saved_plan_that_lost_a_code_s_variable_is_damaged_and_sends_nothing(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, edit: str
) -> None:
    """The plan's data holds ``(sensitive)`` in the code's place; without the
    variable it came from, apply sent that placeholder as the link's code (a
    code anyone can guess). A file whose sensitive values do not match its
    changes is damaged: exit 1, nothing sent."""
    config = write_config(LINKS.format(more=""))
    planfile = tmp_path / "links.plan"
    made = run(sandbox, "plan", str(config), "--out", str(planfile))
    assert made.exit_code == 0, made.output
    document = json.loads(planfile.read_text())
    if edit == "left out":
        del document["sensitive"]
    else:
        values = document["sensitive"]["values"]
        values['["inviteLinks", "Other link"]'] = values.pop('["inviteLinks", "Dealer sign-up"]')
    planfile.write_text(json.dumps(document))
    for args in (["apply", str(planfile)], ["show", str(planfile)]):
        result = run(sandbox, *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error: {planfile}: damaged konvsync plan file ("), (
            result.stderr
        )
        assert "inviteLinks/" in result.stderr and "code" in result.stderr
    assert sandbox.store.count("inviteLinks") == 0 and sandbox.store.count("groups") == 0


def test_a_saved_plan_holds_no_quick_check_of_a_code(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A plan file is a CI artifact, readable by more people than the
    secrets are; a fast digest of a code (a SHA-256, an HMAC keyed with the
    salt beside it) lets them try guesses offline at billions a second. The
    digest is a costly one, and the saved plan still refuses a changed code."""
    config = write_config(LINKS.format(more=""))
    planfile = tmp_path / "links.plan"
    assert run(sandbox, "plan", str(config), "--out", str(planfile)).exit_code == 0
    saved = planfile.read_text()
    document = json.loads(saved)
    salt = document["sensitive"]["salt"]
    quick = [
        hmac.new(salt.encode(), CODE.encode(), hashlib.sha256).hexdigest(),
        hmac.new(CODE.encode(), salt.encode(), hashlib.sha256).hexdigest(),
        hashlib.sha256(CODE.encode()).hexdigest(),
        hashlib.sha256((salt + CODE).encode()).hexdigest(),
        hashlib.sha256((CODE + salt).encode()).hexdigest(),
    ]
    for digest in quick:
        assert digest[:16] not in saved
    entry = document["sensitive"]["values"]['["inviteLinks", "Dealer sign-up"]']["code"]
    assert entry["digest"].startswith("scrypt:")
    refused = run(sandbox, "apply", str(planfile), env={"DEALER_CODE": CODE + "x"})
    assert refused.exit_code == 3 and "changed since the plan" in refused.stderr
    applied = run(sandbox, "apply", str(planfile))
    assert applied.exit_code == 0, applied.output
    assert links(sandbox.store)["Dealer sign-up"]["code"] == CODE


def test_a_literal_code_is_a_warning_and_cannot_be_saved(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(LINKS.format(more="").replace("${env:DEALER_CODE}", "Literal-Code-1"))
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert (
        f"{config}:8:11: warning: invite link 'Dealer sign-up': code is sensitive but written "
        "in the file; use ${env:NAME}"
    ) in result.stderr
    assert "Literal-Code-1" not in result.output
    plan = run(sandbox, "plan", str(config), "--out", str(tmp_path / "p.plan"))
    assert plan.exit_code == 1
    assert "a saved plan never holds a sensitive value" in plan.stderr
    assert not (tmp_path / "p.plan").exists()


@pytest.mark.parametrize(
    "written", ["2027-06-30", "2027-06-30T02:00:00+02:00", "'2027-06-30T00:00:00.000Z'"]
)
def test_expires_at_compares_in_utc_to_the_second(
    sandbox: RunningSandbox, write_config: ConfigWriter, written: str
) -> None:
    sandbox.store.create(
        "inviteLinks", {"title": "Walk-in", "access": "OPEN", "expiresAt": "2027-06-30T00:00:00Z"}
    )
    config = write_config(f"""\
        konvsync: 1
        inviteLinks:
          - {{title: Walk-in, access: OPEN, expiresAt: {written}}}
        """)
    plan = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.stdout


def test_an_expired_link_is_a_plan_warning_and_target_selects_one_link(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: Spring fair, access: OPEN, expiresAt: 2020-04-30}
          - {title: Autumn fair, access: OPEN, active: false}
        """)
    plan = run(sandbox, "plan", str(config))
    assert plan.exit_code == 0, plan.output
    assert (
        f"Warning: {config}:3:5: invite link 'Spring fair' expired at 2020-04-30T00:00:00Z"
    ) in plan.stdout
    targeted = run(sandbox, "plan", str(config), "--target", "inviteLinks/Autumn fair")
    assert "inviteLinks/Autumn fair will be created" in targeted.stdout
    assert "Spring fair will be" not in targeted.stdout


def test_two_remote_links_with_one_title_name_both_ids(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    for _ in range(2):
        sandbox.store.create("inviteLinks", {"title": "Twin", "access": "CODE", "code": "c"})
    config = write_config("konvsync: 1\ninviteLinks: [{title: Twin, access: OPEN}]\n")
    plan = run(sandbox, "plan", str(config))
    assert plan.exit_code == 1
    assert (
        "the portal has two inviteLinks with the title 'Twin' (IDs inv_1, inv_2), and the "
        "configuration names it: konvsync cannot tell them apart"
    ) in plan.stderr


def test_every_contract_rule_the_config_can_break_is_a_validate_error(
    write_config: ConfigWriter,
) -> None:
    config = write_config("""\
        konvsync: 1
        accountFields:
          - {key: since, label: Since, type: DATE}
        accounts: [{externalId: acme, name: ACME}]
        inviteLinks:
          - {title: No code, access: CODE}
          - {title: Both, access: CODE, code: "${env:X:-x}", account: acme,
             accountMatchField: since}
          - {title: Shouting, access: CODE, code: "${env:X:-x}",
             allowedEmailDomains: [ACME.example]}
          - {title: Relative, access: CODE, code: "${env:X:-x}", redirectPath: lms}
          - {title: Open code, access: OPEN, code: "${env:X:-x}", active: false}
          - {title: First open, access: OPEN}
          - {title: Second open, access: OPEN, expiresAt: 2099-01-01}
          - {title: Odd date, access: CODE, code: "${env:X:-x}", expiresAt: 2027-06-31}
        variables: [X]
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    err = result.stderr
    for expected in (
        f"{config}:6:5: inviteLinks.[0]: access CODE needs a code",
        f"{config}:7:5: inviteLinks.[1]: give account or accountMatchField, not both",
        f"{config}:8:25: invite link 'Both': accountMatchField refers to account field "
        "'since', whose type is DATE; it must be TEXT, NUMBER, SELECT",
        "inviteLinks.[2].allowedEmailDomains.[0]: must be a lowercase domain",
        f"{config}:11:72: inviteLinks.[3].redirectPath: must be a path starting with /",
        f"{config}:12:5: inviteLinks.[4]: access OPEN takes no code",
        f"{config}:14:5: invite link 'Second open' and invite link 'First open' (at "
        f"{config}:13:5) would both be an active, unexpired OPEN invite link",
        f"{config}:15:69: invite link 'Odd date': expiresAt '2027-06-31' is not a date",
    ):
        assert expected in err, expected


def test_the_sandbox_answers_conflict_to_a_second_open_link() -> None:
    store = Store()
    store.create("inviteLinks", {"title": "A", "access": "OPEN"})
    with pytest.raises(StoreError) as raised:
        store.create("inviteLinks", {"title": "B", "access": "OPEN"})
    assert raised.value.code == "CONFLICT"
    store.create("inviteLinks", {"title": "C", "access": "OPEN", "active": False})
    with pytest.raises(StoreError):
        store.update("inviteLinks", "inv_3", {"active": True})
    expired = store.create(
        "inviteLinks", {"title": "D", "access": "OPEN", "expiresAt": "2020-01-01T00:00:00Z"}
    )
    assert expired["expired"] is True


def test_a_match_field_of_the_wrong_type_in_the_portal_is_a_plan_error(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    sandbox.store.create("accountFields", {"key": "vip", "label": "VIP", "type": "BOOLEAN"})
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: VIPs, access: OPEN, accountMatchField: vip}
        """)
    plan = run(sandbox, "plan", str(config))
    assert plan.exit_code == 1
    assert (
        f"{config}:3:52: invite link 'VIPs': accountMatchField refers to account field 'vip', "
        "whose type is BOOLEAN; it must be TEXT, NUMBER, SELECT"
    ) in plan.stderr


def test_drift_of_a_link_never_shows_or_writes_the_code(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(LINKS.format(more=""))
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    link = links(sandbox.store)["Dealer sign-up"]
    sandbox.store.update(
        "inviteLinks", str(link["id"]), {"code": "Portal-Side-Code", "redirectPath": "/dam"}
    )
    drift = run(sandbox, "drift", str(config))
    assert drift.exit_code == 2, drift.output
    assert "= (sensitive) -> (sensitive)" in drift.stdout
    written = run(sandbox, "drift", "--write", str(config))
    text = config.read_text()
    assert "Portal-Side-Code" not in written.output + text and CODE not in written.output
    assert "redirectPath: /dam" in text and "code: ${env:DEALER_CODE}" in text


def test_the_apply_report_and_the_drift_of_links_fit_the_published_schemas(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """Once schemas/apply-report.schema.json and drift.schema.json knew no
    inviteLinks: konvsync's own report and drift failed the schemas it publishes."""
    config = write_config(LINKS.format(more=""))
    report_file = tmp_path / "report.json"
    applied = run(sandbox, "apply", str(config), "--auto-approve", "--report", str(report_file))
    assert applied.exit_code == 0, applied.output
    report = validated(report_file.read_text(), "apply-report")
    done = [(c["kind"], c["key"], c["status"]) for c in report["changes"]]
    assert ("inviteLinks", "Dealer sign-up", "done") in done

    link = links(sandbox.store)["Dealer sign-up"]
    sandbox.store.update("inviteLinks", str(link["id"]), {"redirectPath": "/dam"})
    sandbox.store.create("inviteLinks", {"title": "Walk-in", "access": "CODE", "code": "x-1"})
    drift = run(sandbox, "drift", str(config), "--format", "json")
    assert drift.exit_code == 2, drift.output
    data = validated(drift.stdout, "drift")
    assert {(d["category"], d["kind"], d["key"]) for d in data["drift"]} == {
        ("changed", "inviteLinks", "Dealer sign-up"),
        ("created", "inviteLinks", "Walk-in"),
    }


CODE_LINK_FOR_ACME = """\
    konvsync: 1
    accountFields: [{key: dealer_no, label: Dealer number, type: TEXT}]
    accounts: [{externalId: acme, name: ACME}]
    inviteLinks:
      - {title: Fair, access: CODE, code: "${env:DEALER_CODE}", account: acme}
    variables: [DEALER_CODE]
    """
"""A CODE link of account acme, before a switch to OPEN."""


def test_a_link_switched_to_open_or_to_the_other_account_way_clears_what_the_contract_forbids(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Updates are patches: a CODE link made OPEN keeps its code unless the
    update clears it, and a portal answers BAD_USER_INPUT to an OPEN link with
    a code (so with account and accountMatchField both set). Once konvsync
    sent only ``access: OPEN`` and failed on every apply."""
    config = write_config(CODE_LINK_FOR_ACME)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    config = write_config("""\
        konvsync: 1
        accountFields: [{key: dealer_no, label: Dealer number, type: TEXT}]
        accounts: [{externalId: acme, name: ACME}]
        inviteLinks:
          - {title: Fair, access: OPEN, accountMatchField: dealer_no}
        """)
    applied = run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert CODE not in applied.output
    assert "~ code              = (sensitive) -> null" in applied.stdout
    link = links(sandbox.store)["Fair"]
    assert (link["access"], link["code"], link["account"]) == ("OPEN", None, None)
    again = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("ignored", ["code", "account"])
def test_a_switch_to_open_clears_what_the_contract_forbids_under_ignore_changes_too(
    sandbox: RunningSandbox, write_config: ConfigWriter, ignored: str
) -> None:
    """``ignore_changes`` leaves a field's drift alone; it cannot keep what
    the contract forbids next to a value the config sends (an OPEN link with
    a code or an account): once the clearing was dropped with the field, and
    every apply failed at the portal."""
    config = write_config(CODE_LINK_FOR_ACME)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    config = write_config(f"""\
        konvsync: 1
        policy: {{ignore_changes: {{inviteLinks: [{ignored}]}}}}
        accountFields: [{{key: dealer_no, label: Dealer number, type: TEXT}}]
        accounts: [{{externalId: acme, name: ACME}}]
        inviteLinks:
          - {{title: Fair, access: OPEN, accountMatchField: dealer_no}}
        """)
    applied = run(sandbox, "apply", str(config), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    link = links(sandbox.store)["Fair"]
    assert (link["access"], link["code"], link["account"]) == ("OPEN", None, None)
    again = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_a_second_open_link_next_to_one_the_config_leaves_alone_is_a_plan_error(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """The portal refuses a second active, unexpired OPEN link (CONFLICT).
    One the configuration does not name (made by hand, not pruned) once
    passed the plan and failed the apply; now the plan says so, at the place
    in the config, and nothing is sent. Pruned, it is deleted first."""
    sandbox.store.create("inviteLinks", {"title": "Walk-in", "access": "OPEN"})
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: New, access: OPEN}
        """)
    for command in (["plan", str(config)], ["apply", str(config), "--auto-approve"]):
        result = run(sandbox, *command)
        assert result.exit_code == 1, result.output
        assert (
            f"{config}:3:5: invite link 'New' would be a second active, unexpired OPEN invite "
            "link next to the portal's 'Walk-in' (inv_1), which this configuration leaves "
            "alone; the portal allows one at a time"
        ) in result.stderr
        assert "Traceback" not in result.output
    assert set(links(sandbox.store)) == {"Walk-in"}

    # Expired, inactive or pruned, the other one is no obstacle.
    pruned = write_config(
        """\
        konvsync: 1
        policy: {prune: [inviteLinks]}
        inviteLinks:
          - {title: New, access: OPEN}
        """,
        "pruned.yaml",
    )
    applied = run(sandbox, "apply", str(pruned), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert set(links(sandbox.store)) == {"New"}
    sandbox.store.create(
        "inviteLinks", {"title": "Old", "access": "OPEN", "expiresAt": "2020-01-01T00:00:00Z"}
    )
    assert run(sandbox, "plan", str(config), "--detailed-exitcode").exit_code == 0


class _CodeRewritten(Case):
    """A portal whose ReadInviteLinks answers break the contract's rule on
    ``code`` (required with CODE, null otherwise)."""

    name = "code-rewritten"

    def __init__(self, code: str | int | None) -> None:
        self.code = code

    def answer(self, call: Call, answer: Any) -> Any:
        if call.operation == "ReadInviteLinks" and isinstance(answer.get("data"), dict):
            for node in answer["data"]["inviteLinks"]["nodes"]:
                node["code"] = self.code
        return answer


@pytest.mark.parametrize(
    ("title", "access", "code", "detail"),
    [
        ("Hidden", "CODE", None, "invite link inv_1 has access CODE and no code"),
        ("Open", "OPEN", "Portal-Side-Code", "invite link inv_1 has access OPEN and a code"),
    ],
)
def test_a_link_answered_against_the_code_rule_stops_konvsync(
    sandbox: RunningSandbox,
    write_config: ConfigWriter,
    title: str,
    access: str,
    code: str | None,
    detail: str,
) -> None:
    """A CODE link answered without its code (a portal hiding it) or an OPEN
    one with a code does not fit the contract. Once konvsync planned an
    update of the code on every run (never converging), or cleared it."""
    given = 'code: "${env:DEALER_CODE}"' if access == "CODE" else "active: true"
    config = write_config(f"""\
        konvsync: 1
        inviteLinks:
          - {{title: {title}, access: {access}, {given}}}
        variables: [DEALER_CODE]
        """)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    with running_hostile_server(sandbox.url, _CodeRewritten(code)) as portal:
        for command in ("plan", "drift"):
            result = invoke(["--endpoint", portal.url, command, str(config)], env=ENV)
            assert result.exit_code == 1, result.output
            assert (
                f"Error: the portal's answer does not fit the API contract: ReadInviteLinks: "
                f"{detail}, which the contract does not allow"
            ) in result.stderr
            assert "Portal-Side-Code" not in result.output and CODE not in result.output
            assert "Traceback" not in result.output


class _DomainsInUnicode(Case):
    """A portal that answers an IDN e-mail domain in its Unicode form
    (``bücher.example`` for ``xn--bcher-kva.example``): still lowercase, as
    the contract asks; which form it answers in, the contract does not say."""

    name = "domains-in-unicode"

    def answer(self, call: Call, answer: Any) -> Any:
        data = answer.get("data") if isinstance(answer, dict) else None
        for value in (data or {}).values():
            for node in (value or {}).get("nodes", [value]) if isinstance(value, dict) else []:
                domains = node.get("allowedEmailDomains") if isinstance(node, dict) else None
                if isinstance(domains, list):
                    node["allowedEmailDomains"] = [d.encode().decode("idna") for d in domains]
        return answer


def test_an_idn_domain_the_portal_answers_in_unicode_converges(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: Books, access: OPEN, allowedEmailDomains: [xn--bcher-kva.example]}
        """)
    with running_hostile_server(sandbox.url, _DomainsInUnicode()) as portal:
        applied = invoke(["--endpoint", portal.url, "apply", str(config), "--auto-approve"])
        assert applied.exit_code == 0, applied.output
        again = invoke(["--endpoint", portal.url, "plan", str(config), "--detailed-exitcode"])
        assert again.exit_code == 0, again.output


@pytest.mark.parametrize(
    "links",
    [
        "inviteLinks:\n  sign-up:\n    - {title: L, access: CODE, code: '${env:DEALER_CODE}'}\n",
        "inviteLinks: {title: L, access: CODE, code: '${env:DEALER_CODE}'}\n",
        "inviteLinks: [{title: L, access: CODE, code: '${env:DEALER_CODE}', groups: {a: 1}}]\n",
    ],
)
def test_a_code_in_a_misshapen_link_is_in_no_message(
    sandbox: RunningSandbox, write_config: ConfigWriter, links: str
) -> None:
    """A schema message that shows the object or list around a code (a map
    where the list of links belongs) shows it masked: the code came from the
    environment, and the check that registers sensitive values runs only on
    objects of the right shape."""
    config = write_config(f"konvsync: 1\nvariables: [DEALER_CODE]\n{links}")
    results = [
        invoke(["validate", *fmt, str(config)], env=ENV)
        for fmt in ([], ["--format", "json"], ["--format", "github"])
    ]
    results.append(run(sandbox, "plan", str(config)))
    for result in results:
        assert result.exit_code == 1, result.output
        assert (
            "is not of type" in result.output
            or "is not valid" in result.output
            or "must be a list, not a mapping" in result.output
        ), result.output
        assert CODE not in result.output, result.output


@pytest.mark.parametrize("written", ["9999-12-31T23:00:00-02:00", "0001-01-01T00:30:00+01:00"])
def test_an_expiry_out_of_range_in_utc_is_a_validate_error_at_its_place(
    sandbox: RunningSandbox, write_config: ConfigWriter, written: str
) -> None:
    """An ISO date-time whose instant in UTC falls outside the years 1 to
    9999 once stopped validate and plan with "unexpected OverflowError".
    Now: the place, the value and why, exit 1."""
    config = write_config(f"""\
        konvsync: 1
        inviteLinks:
          - {{title: Far, access: OPEN, expiresAt: "{written}"}}
        """)
    for result in (invoke(["validate", str(config)]), run(sandbox, "plan", str(config))):
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "unexpected" not in result.output
        assert (
            f"{config}:3:43: invite link 'Far': expiresAt {written!r} is out of range: in UTC "
            "it falls outside the years 1 to 9999"
        ) in result.stderr


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("true", "True is not of type 'string', 'null'"),
        ("20270630", "20270630 is a number to YAML: quote it to give the text"),
    ],
)
def test_an_expiry_that_is_no_string_is_one_problem(
    write_config: ConfigWriter, written: str, said: str
) -> None:
    """The schema says an expiresAt that is no string is not one; the check
    of its form said so once more ("expiresAt True is not a date ...")."""
    config = write_config(f"""\
        konvsync: 1
        inviteLinks:
          - {{title: Fair, access: OPEN, expiresAt: {written}}}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"{config}:3:44: inviteLinks.[0].expiresAt: {said}"
        + (
            " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote the value)"
            if written == "true"
            else ""
        ),
        "Error: configuration invalid: 1 problem",
    ]


def test_an_open_link_without_a_title_in_the_portal_is_named_by_its_id(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """The live OPEN link a new one would be second to may have no title
    (the contract's ``String!`` takes a blank one): the plan once called it
    "the portal's None"."""
    sandbox.store.create("inviteLinks", {"title": "Blank", "access": "OPEN"})
    config = write_config("konvsync: 1\ninviteLinks:\n  - {title: New, access: OPEN}\n")
    with running_hostile_server(sandbox.url, TitlesBlank("Blank")) as portal:
        result = invoke(["--endpoint", portal.url, "plan", str(config)])
    assert result.exit_code == 1, result.output
    assert (
        f"{config}:3:5: invite link 'New' would be a second active, unexpired OPEN invite link "
        "next to the portal's invite link inv_1, which has no title and which this "
        "configuration leaves alone; the portal allows one at a time (deactivate or delete "
        "that one)"
    ) in result.stderr
    assert "None" not in result.output


class _ExpiryRewritten(Case):
    """A portal whose ReadInviteLinks answers ``expiresAt`` in a form the
    contract does not allow (a DateTime is answered with "Z" or another UTC
    offset)."""

    name = "expiry-rewritten"

    def __init__(self, written: str) -> None:
        self.written = written

    def answer(self, call: Call, answer: Any) -> Any:
        if call.operation == "ReadInviteLinks" and isinstance(answer.get("data"), dict):
            for node in answer["data"]["inviteLinks"]["nodes"]:
                node["expiresAt"] = self.written
        return answer


@pytest.mark.parametrize("written", ["2027-01-01T00:00:00", "2027-01-01", "next tuesday", ""])
def test_an_expiry_answered_without_an_offset_stops_konvsync(
    sandbox: RunningSandbox, write_config: ConfigWriter, written: str
) -> None:
    """A DateTime without a UTC offset names no instant; konvsync once
    compared it as text, planned an update of it on every run and ended each
    apply "not as planned" (exit 1), the portal answering it so again."""
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: Fair, access: OPEN, expiresAt: 2027-01-01}
        """)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    with running_hostile_server(sandbox.url, _ExpiryRewritten(written)) as portal:
        for command in (["plan", str(config)], ["apply", str(config), "--auto-approve"]):
            result = invoke(["--endpoint", portal.url, *command])
            assert result.exit_code == 1, result.output
            assert (
                "Error: the portal's answer does not fit the API contract: ReadInviteLinks: "
                f"inviteLinks.nodes[0].expiresAt is {json.dumps(written)} (a string), not a "
                "DateTime (an ISO date-time with Z or another UTC offset)"
            ) in result.stderr, result.output
            assert "Traceback" not in result.output
        assert not [call for call in portal.calls if call.is_mutation]


def test_null_where_a_link_may_hold_it_is_no_value_of_either_exclusive_field(
    write_config: ConfigWriter,
) -> None:
    """``account: null`` beside an ``accountMatchField`` gives one of the two
    (null is no account: the plan clears it), not both; validate once said
    "give account or accountMatchField, not both". A null where none may
    stand is named so, not in Python's spelling ("None is not of type")."""
    config = write_config("""\
        konvsync: 1
        accountFields: [{key: dealer_no, label: Dealer number, type: TEXT}]
        groups: [{externalId: g, name: G, damCategories: [null]}]
        inviteLinks:
          - {title: Match, access: OPEN, account: null, accountMatchField: dealer_no}
          - {title: Code, access: CODE, code: null, active: false}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"{config}:3:51: groups.[0].damCategories.[0]: null is not of type 'string'",
        f"{config}:6:39: inviteLinks.[1].code: null is not of type 'string'",
        "Error: configuration invalid: 2 problems",
    ]


def test_drift_write_of_a_code_link_made_in_the_portal_says_apply_deletes_it(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Its code is never written to a file, so the link is written as a
    comment: the report says why in the schema's words, and that the next
    apply (the kind is pruned) deletes it unless the configuration lists it."""
    config = write_config(LINKS.format(more=""))
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    sandbox.store.create(
        "inviteLinks",
        {"title": "Hand made", "access": "CODE", "code": "Hand-Code-123", "active": True},
    )
    written = run(sandbox, "drift", "--write", str(config))
    assert written.exit_code == 2, written.output
    assert "Hand-Code-123" not in written.output + config.read_text()
    assert (
        "inviteLinks/Hand made: the configuration would reject it (invite link: access CODE "
        "needs a code (code: ${env:NAME})): written as a comment; apply deletes it while the "
        "configuration does not list it"
    ) in written.stdout
    assert "# - title: Hand made" in config.read_text()


def test_a_markdown_plan_with_many_warnings_stays_within_a_comment_and_shows_its_changes(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """The warnings were printed whole above the changes: 400 expired links
    made a Markdown plan of about 90,000 characters, over what a pull-request
    comment may hold (the comment was refused), and every change was left
    out for the warnings. Warnings take at most half a comment; those left
    out are counted, and the changes fill the rest."""
    links = "".join(
        f"  - {{title: 'Trade fair {i:03} of the northern dealer network', access: CODE, "
        f"code: '${{env:DEALER_CODE}}', expiresAt: 2020-04-30}}\n"
        for i in range(400)
    )
    config = write_config(f"konvsync: 1\nvariables: [DEALER_CODE]\ninviteLinks:\n{links}")
    text = run(sandbox, "plan", str(config))
    assert text.exit_code == 0, text.output
    assert text.stdout.count("expired at 2020-04-30T00:00:00Z") == 400
    markdown = run(sandbox, "plan", str(config), "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert len(markdown.stdout) <= 65_536
    shown = markdown.stdout.count("expired at 2020-04-30T00:00:00Z")
    assert 0 < shown < 400
    assert f"{400 - shown} more warning(s) are not shown" in markdown.stdout
    assert markdown.stdout.count("\n+ inviteLinks/Trade fair") > 100


def test_a_markdown_plan_without_changes_shows_its_warnings(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """The review comment of a plan without changes said "No changes." and
    left out its warnings (an expired link, an ``exclude`` that matches
    nothing), which the text plan shows."""
    config = write_config("""\
        konvsync: 1
        inviteLinks:
          - {title: Spring fair, access: OPEN, expiresAt: 2020-04-30}
        """)
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    markdown = run(sandbox, "plan", str(config), "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert "**No changes. The portal matches the configuration.**" in markdown.stdout
    assert "> [!WARNING]" in markdown.stdout
    assert "invite link 'Spring fair' expired at 2020-04-30T00:00:00Z" in markdown.stdout


class _CodeInUrl(Case):
    """A portal whose invite link URLs carry the link's code, filled in for
    who follows it (``.../join/AbC?code=...``): the contract says only that
    the server makes the URL."""

    name = "code-in-url"

    def answer(self, call: Call, answer: Any) -> Any:
        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if isinstance(value.get("url"), str) and isinstance(value.get("code"), str):
                    value["url"] += "?code=" + value["code"]
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(answer)
        return answer


@pytest.mark.parametrize("code", [CODE, "q7"])
def test_a_code_the_portal_puts_in_the_url_is_in_no_output_or_export(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path, code: str
) -> None:
    """``export`` wrote the portal's URL of a link as it is in a comment of
    the file it writes, code and all, and ``apply`` printed a short code in
    the URL of the link it created (``?code=q7``): a value under 4
    characters was masked only between quotes. The URL is the portal's echo
    of the code: masked as any text the portal echoes."""
    config = write_config(LINKS.format(more=""))
    out = tmp_path / "exported"
    with running_hostile_server(sandbox.url, _CodeInUrl()) as portal:
        applied = invoke(
            ["--endpoint", portal.url, "apply", str(config), "--auto-approve"],
            env={"DEALER_CODE": code},
        )
        assert applied.exit_code == 0, applied.output
        assert "created inviteLinks/Dealer sign-up: url https://" in applied.stdout
        exported = invoke(["--endpoint", portal.url, "export", "--out", str(out)])
        assert exported.exit_code == 0, exported.output
    written = (out / "inviteLinks.yaml").read_text(encoding="utf-8")
    assert "?code=***" in written, written
    for text in (applied.output, exported.output, written):
        assert f"code={code}" not in text, text


def test_a_saved_plans_config_digest_holds_nothing_of_the_code(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """The config's digest in a saved plan was a plain SHA-256 over the
    files and the values of every variable they use, the code's included:
    with the config at hand (a pull request's files), a short code was
    found from the plan file in seconds by trying each. The values of the
    variables a sensitive field takes are left out of it: what the plan
    sends of them is checked against their salted digests."""
    config = write_config(LINKS.format(more=""))
    digests = []
    for code in ("k7Qz", "Zz99"):
        planfile = tmp_path / f"{code}.plan"
        result = run(
            sandbox, "plan", str(config), "--out", str(planfile), env={"DEALER_CODE": code}
        )
        assert result.exit_code == 0, result.output
        digests.append(json.loads(planfile.read_text())["config_digest"])
    assert digests[0] == digests[1]


def test_a_code_answered_as_a_number_is_not_shown_in_the_contract_error(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """A portal that answers a numeric code as a JSON number breaks the
    contract (``code: String``), and konvsync stops; its message showed the
    code ("code is 48151623 (a number)"): a value konvsync masks only once
    it has read it as a string."""
    config = write_config(LINKS.format(more=""))
    assert run(sandbox, "apply", str(config), "--auto-approve").exit_code == 0
    with running_hostile_server(sandbox.url, _CodeRewritten(48151623)) as portal:
        for command in ("plan", "drift"):
            result = invoke(["--endpoint", portal.url, command, str(config)], env=ENV)
            assert result.exit_code == 1, result.output
            assert (
                "ReadInviteLinks: inviteLinks.nodes[0].code is a number, the schema says String"
            ) in result.stderr, result.output
            assert "48151623" not in result.output, result.output


def test_a_saved_plans_code_is_sent_as_plan_sends_it(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, tmp_path: Path
) -> None:
    """A code whose variable holds surrounding spaces: plan and apply send it
    trimmed (values are sent as konvsync compares them), and so does apply of
    the saved plan, whose code is read from the variable again. It sent the
    variable's text as it was, and, against a portal that stores strings
    trimmed (the contract lets it), failed the create it had made as
    NOT_AS_SENT."""
    sandbox = sandbox_factory(readings=readings.named(["trim"]))
    config = write_config(LINKS.format(more=""))
    planfile = tmp_path / "links.plan"
    spaced = {"DEALER_CODE": f"  {CODE}  "}
    made = run(sandbox, "plan", str(config), "--out", str(planfile), env=spaced)
    assert made.exit_code == 0, made.output
    applied = run(sandbox, "apply", str(planfile), env=spaced)
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in applied.stdout
    assert CODE not in applied.output
    assert links(sandbox.store)["Dealer sign-up"]["code"] == CODE
