"""``drift --write`` of an invite link switched by hand between the two
ways of naming its account (``account`` and ``accountMatchField``, which
the contract forbids together) or between OPEN and CODE (an OPEN link takes
no code, a CODE link needs one): the fields the kind's rules tie together
are accepted together or not at all, and a key the rules forbid beside the
portal's values leaves the item (it is not written ``key: null``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from konvsync.sandbox import readings
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import CliRun, SandboxFactory, invoke
from tests.hostile.server import Call, Case, Json, running_hostile_server

CODE = "Sesame-4711-secret"
PORTAL_CODE = "Portal-Side-Code-99"
ENV = {"FAIR_CODE": CODE}

MATCHED = """\
konvsync: 1
accountFields: [{key: dealer_no, label: Dealer number, type: TEXT}]
accounts: [{externalId: acme, name: ACME}]
inviteLinks:
  - {title: Fair, access: OPEN, accountMatchField: dealer_no}
"""

BLOCK_ACCOUNT = """\
konvsync: 1
accountFields: [{key: dealer_no, label: Dealer number, type: TEXT}]
accounts: [{externalId: acme, name: ACME}]
inviteLinks:
  # the fair's link
  - title: Fair
    # who signs up lands in acme
    account: acme  # ACME's own
    access: OPEN
    # redirect after sign-up
    redirectPath: /lms
# end of links
"""

CODE_LINK = """\
konvsync: 1
inviteLinks:
  # the fair's link
  - title: Fair
    access: CODE  # ask for the code
    # from the CI secret
    code: ${env:FAIR_CODE}
    redirectPath: /lms
# end of links
variables: [FAIR_CODE]
"""


def run(sandbox: RunningSandbox, *args: str) -> CliRun:
    return invoke(["--endpoint", sandbox.url, *args], env=ENV)


def applied(sandbox: RunningSandbox, tmp_path: Path, text: str) -> Path:
    config = tmp_path / "konvsync.yaml"
    config.write_text(text, encoding="utf-8")
    result = run(sandbox, "apply", str(config), "--auto-approve")
    assert result.exit_code == 0, result.output
    return config


def by_hand(sandbox: RunningSandbox, **fields: Any) -> None:
    """The link ``Fair`` changed in the portal (store IDs, as the UI sets them)."""
    link = sandbox.store.get("inviteLinks", key="Fair")
    assert link is not None
    sandbox.store.update("inviteLinks", link["id"], fields)


def store_id(sandbox: RunningSandbox, kind_name: str, key: str) -> str:
    found = sandbox.store.get(kind_name, key=key)
    assert found is not None
    return str(found["id"])


def accepted_clean(sandbox: RunningSandbox, config: Path) -> str:
    """``drift --write`` accepts everything (exit 2, nothing left as written);
    then drift and plan are clean on the written text, which is returned."""
    written = run(sandbox, "drift", "--write", str(config))
    assert written.exit_code == 2, written.output
    assert "Left as written" not in written.stdout, written.stdout
    assert CODE not in written.output and PORTAL_CODE not in written.output
    again = run(sandbox, "drift", str(config))
    assert again.exit_code == 0 and "No drift." in again.stdout, again.output
    planned = run(sandbox, "plan", str(config), "--detailed-exitcode")
    assert planned.exit_code == 0 and "No changes." in planned.stdout, planned.output
    return config.read_text(encoding="utf-8")


def to_account(sandbox: RunningSandbox) -> None:
    by_hand(sandbox, accountId=store_id(sandbox, "accounts", "acme"), accountMatchFieldId=None)


def to_match_field(sandbox: RunningSandbox) -> None:
    field = store_id(sandbox, "accountFields", "dealer_no")
    by_hand(sandbox, accountId=None, accountMatchFieldId=field)


def to_open(sandbox: RunningSandbox) -> None:
    by_hand(sandbox, access="OPEN", code=None)


FLOW_CODE_LINK = CODE_LINK.replace(
    "  - title: Fair\n    access: CODE  # ask for the code\n"
    "    # from the CI secret\n    code: ${env:FAIR_CODE}\n    redirectPath: /lms\n",
    '  - {title: Fair, access: CODE, code: "${env:FAIR_CODE}", redirectPath: /lms}\n',
)

SWITCHES = [
    # Once accepted field by field: account was refused beside the config's
    # accountMatchField, then ``accountMatchField: null`` was written alone,
    # so the YAML named neither way and the next drift was clean.
    pytest.param(
        MATCHED, to_account, "accountMatchField: dealer_no}", "account: acme}", id="flow-to-account"
    ),
    # The one line trades places: its comments, above and beside, stay.
    pytest.param(
        BLOCK_ACCOUNT,
        to_match_field,
        "account: acme ",
        "accountMatchField: dealer_no ",
        id="block-to-match-field",
    ),
    pytest.param(
        MATCHED.replace(
            "{title: Fair, access: OPEN, accountMatchField: dealer_no}",
            "{account: acme, title: Fair, access: OPEN}  # the fair",
        ),
        to_match_field,
        "{account: acme,",
        "{accountMatchField: dealer_no,",
        id="flow-first-key-to-match-field",
    ),
    # The key after the item's dash trades places: the dash stays.
    pytest.param(
        MATCHED.replace(
            "  - {title: Fair, access: OPEN, accountMatchField: dealer_no}\n",
            "  - accountMatchField: dealer_no  # by dealer number\n"
            "    # the fair\n    title: Fair\n    access: OPEN\n",
        ),
        to_account,
        "accountMatchField: dealer_no ",
        "account: acme ",
        id="block-first-key-to-account",
    ),
    # A CODE link made OPEN loses its code key (an OPEN link takes none;
    # nothing is written in its place, no code and no placeholder's value).
    pytest.param(
        CODE_LINK,
        to_open,
        "CODE  # ask for the code\n    # from the CI secret\n    code: ${env:FAIR_CODE}\n",
        "OPEN  # ask for the code\n    # from the CI secret\n",
        id="block-to-open",
    ),
    # The item in a flow list.
    pytest.param(
        MATCHED.replace(
            "inviteLinks:\n  - {title: Fair, access: OPEN, accountMatchField: dealer_no}\n",
            "inviteLinks: [{title: Fair, access: OPEN, accountMatchField: dealer_no}]  # one\n",
        ),
        to_account,
        "accountMatchField: dealer_no}]",
        "account: acme}]",
        id="flow-list-to-account",
    ),
    # The first key removed: the next one moves up after the dash.
    pytest.param(
        CODE_LINK.replace(
            "  - title: Fair\n    access: CODE  # ask for the code\n"
            "    # from the CI secret\n    code: ${env:FAIR_CODE}\n",
            "  - code: ${env:FAIR_CODE}\n    title: Fair\n    access: CODE\n",
        ),
        to_open,
        "- code: ${env:FAIR_CODE}\n    title: Fair\n    access: CODE\n",
        "- title: Fair\n    access: OPEN\n",
        id="block-first-key-to-open",
    ),
    pytest.param(
        FLOW_CODE_LINK.replace(
            '{title: Fair, access: CODE, code: "${env:FAIR_CODE}",',
            '{code: "${env:FAIR_CODE}", title: Fair, access: CODE,',
        ),
        to_open,
        '{code: "${env:FAIR_CODE}", title: Fair, access: CODE,',
        "{title: Fair, access: OPEN,",
        id="flow-first-key-to-open",
    ),
    # In flow style the code takes its comma with it.
    pytest.param(
        FLOW_CODE_LINK,
        to_open,
        'access: CODE, code: "${env:FAIR_CODE}",',
        "access: OPEN,",
        id="flow-to-open",
    ),
]


@pytest.mark.parametrize("reading", [None, readings.ALL])
@pytest.mark.parametrize(("original", "switch", "old", "new"), SWITCHES)
def test_a_link_switched_by_hand_is_accepted_whole(
    sandbox_factory: SandboxFactory,
    tmp_path: Path,
    original: str,
    switch: Callable[[RunningSandbox], None],
    old: str,
    new: str,
    reading: str | None,
) -> None:
    """The key the kind's rules forbid beside the portal's values leaves the
    item (not ``key: null``) and the portal's new one takes its place; alike
    on every reading of the contract at once (a cleared code answered as
    ``""``, lists in another order...)."""
    sandbox = sandbox_factory(readings=readings.named([reading] if reading else [], seed=7))
    config = applied(sandbox, tmp_path, original)
    switch(sandbox)
    text = accepted_clean(sandbox, config)
    assert original.count(old) == 1 and text == original.replace(old, new), text


def test_an_open_link_given_a_code_by_hand_is_left_whole(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A CODE link needs a code, which is never written to a file: access
    and code are both left as written (not access alone, which the config
    schema would reject), and the portal's code shows nowhere."""
    original = FLOW_CODE_LINK.replace('access: CODE, code: "${env:FAIR_CODE}",', "access: OPEN,")
    config = applied(sandbox, tmp_path, original)
    by_hand(sandbox, access="CODE", code=PORTAL_CODE, redirectPath="/dam")
    written = run(sandbox, "drift", "--write", str(config))
    assert written.exit_code == 2, written.output
    text = config.read_text(encoding="utf-8")
    assert PORTAL_CODE not in written.output + text
    assert text == original.replace("redirectPath: /lms", "redirectPath: /dam"), text
    assert "inviteLinks/Fair access: " in written.stdout, written.stdout
    assert "inviteLinks/Fair code: sensitive; never written to a file" in written.stdout
    again = run(sandbox, "drift", str(config))
    assert again.exit_code == 2 and "access" in again.stdout, again.output


def test_a_switch_to_an_account_the_config_does_not_define_is_left_whole(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The portal's account is refused (the config does not define it): its
    partner is left too, so the item still names the way it had."""
    config = applied(sandbox, tmp_path, MATCHED)
    beta = sandbox.store.create("accounts", {"externalId": "beta", "name": "Beta"})
    by_hand(sandbox, accountId=beta["id"], accountMatchFieldId=None)
    written = run(sandbox, "drift", "--write", str(config))
    assert written.exit_code == 2, written.output
    assert config.read_text(encoding="utf-8") == MATCHED
    assert "inviteLinks/Fair account: refers to account 'beta'" in written.stdout
    assert "inviteLinks/Fair accountMatchField: " in written.stdout, written.stdout
    again = run(sandbox, "drift", str(config))
    assert again.exit_code == 2 and "accountMatchField" in again.stdout, again.output


def test_with_several_paths_a_link_only_one_of_them_holds_is_switched_there(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    base = tmp_path / "konvsync.yaml"
    base.write_text(MATCHED, encoding="utf-8")
    overlay = tmp_path / "staging.yaml"
    staging = "konvsync: 1\ninviteLinks: [{title: Expo, access: OPEN, active: false}]\n"
    overlay.write_text(staging, encoding="utf-8")
    paths = [str(base), str(overlay)]
    assert run(sandbox, "apply", *paths, "--auto-approve").exit_code == 0
    to_account(sandbox)
    written = run(sandbox, "drift", "--write", *paths)
    assert written.exit_code == 2 and "Left as written" not in written.stdout, written.output
    assert base.read_text(encoding="utf-8") == MATCHED.replace(
        "accountMatchField: dealer_no}", "account: acme}"
    )
    assert overlay.read_text(encoding="utf-8") == staging
    again = run(sandbox, "plan", *paths, "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_with_several_paths_a_switch_is_left_as_written(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The link is merged from both paths: another may hold the key a switch
    would remove (an overlay cannot take a key away): the two fields are
    left as written."""
    base = applied(sandbox, tmp_path, MATCHED)
    overlay = tmp_path / "staging.yaml"
    overlay.write_text("konvsync: 1\ninviteLinks: [{title: Fair, redirectPath: /lms}]\n")
    assert run(sandbox, "apply", str(base), str(overlay), "--auto-approve").exit_code == 0
    to_account(sandbox)
    written = run(sandbox, "drift", "--write", str(base), str(overlay))
    assert written.exit_code == 2, written.output
    assert base.read_text(encoding="utf-8") == MATCHED
    assert "inviteLinks/Fair accountMatchField: a key would be added or removed" in written.stdout


LEFT_WHOLE = [
    # The removed value carries an anchor another link uses.
    pytest.param(
        MATCHED.replace(
            "  - {title: Fair, access: OPEN, accountMatchField: dealer_no}\n",
            "  - {title: Fair, access: OPEN, accountMatchField: &field dealer_no}\n"
            "  - {title: Expo, access: OPEN, active: false, accountMatchField: *field}\n",
        ),
        to_account,
        "accountMatchField: shared through an anchor",
        id="anchored",
    ),
    # The key to remove is inherited through a merge key: not the item's own.
    pytest.param(
        MATCHED.replace(
            "  - {title: Fair, access: OPEN, accountMatchField: dealer_no}\n",
            "  - &base {title: Expo, access: OPEN, active: false, accountMatchField: dealer_no}\n"
            "  - <<: *base\n    title: Fair\n    active: true\n",
        ),
        to_account,
        "accountMatchField: inherited through a YAML merge key",
        id="merged",
    ),
    # The item is the base another link merges: an edit would change both.
    pytest.param(
        MATCHED.replace(
            "  - {title: Fair, access: OPEN, accountMatchField: dealer_no}\n",
            "  - &base {title: Fair, access: OPEN, accountMatchField: dealer_no}\n"
            "  - <<: *base\n    title: Expo\n    active: false\n",
        ),
        to_account,
        "accountMatchField: shared through an anchor",
        id="merged-base",
    ),
    # A comment inside a flow item stands where the code would be removed.
    pytest.param(
        FLOW_CODE_LINK.replace(
            'access: CODE, code: "${env:FAIR_CODE}",',
            'access: CODE,\n     # from the CI secret\n     code: "${env:FAIR_CODE}",',
        ),
        to_open,
        "code: a comment stands where the key would be removed",
        id="flow-comment",
    ),
]


@pytest.mark.parametrize(("original", "switch", "reason"), LEFT_WHOLE)
def test_a_switch_whose_key_cannot_be_removed_safely_is_left_whole(
    sandbox: RunningSandbox,
    tmp_path: Path,
    original: str,
    switch: Callable[[RunningSandbox], None],
    reason: str,
) -> None:
    config = applied(sandbox, tmp_path, original)
    switch(sandbox)
    written = run(sandbox, "drift", "--write", str(config))
    assert written.exit_code == 2, written.output
    assert config.read_text(encoding="utf-8") == original
    assert f"inviteLinks/Fair {reason}" in written.stdout, written.stdout


class _BothWays(Case):
    """A portal that answers every link with an account and an account match
    field, which the contract forbids together."""

    name = "both-ways"

    def __init__(self, field: dict[str, str]) -> None:
        self.field = field

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "ReadInviteLinks" and isinstance(answer.get("data"), dict):
            for node in answer["data"]["inviteLinks"]["nodes"]:
                node["accountMatchField"] = self.field
        return answer


def test_a_link_answered_both_ways_stops_drift_write_before_a_byte_is_written(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    config = applied(sandbox, tmp_path, MATCHED)
    field = {"id": store_id(sandbox, "accountFields", "dealer_no"), "key": "dealer_no"}
    to_account(sandbox)
    with running_hostile_server(sandbox.url, _BothWays(field)) as portal:
        result = invoke(["--endpoint", portal.url, "drift", "--write", str(config)], env=ENV)
    assert result.exit_code == 1, result.output
    assert "has both account and accountMatchField, which the contract does not allow" in (
        result.stderr
    )
    assert config.read_text(encoding="utf-8") == MATCHED
