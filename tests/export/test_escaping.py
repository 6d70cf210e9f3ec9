"""``export`` writes portal text so that applying the export means exactly that
text: ``${`` is escaped, and values konvsync would reject become comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import SECRET, invoke
from tests.hostile.server import Call, Case, running_hostile_server

TRAPS = ["${env:KONVERT_API_SECRET}", "$${env:HOME}", "a ${env:HOME:-x} b", "${x"]


def test_export_then_apply_never_substitutes(sandbox: RunningSandbox, tmp_path: Path) -> None:
    store = sandbox.store
    for index, name in enumerate(TRAPS):
        store.create("groups", {"externalId": f"g{index}", "name": name})
    store.create("groups", {"externalId": "${env:KONVERT_API_SECRET}", "name": "key trap"})
    out = tmp_path / "exported"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    text = (out / "groups.yaml").read_text()
    assert "$${env:KONVERT_API_SECRET}" in text and "$$${env:HOME}" in text

    plan_file = tmp_path / "export.plan"
    args = ["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"]
    plan = invoke([*args, "--out", str(plan_file)])
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.stdout

    as_exported = invoke(["--endpoint", sandbox.url, "apply", str(out), "--auto-approve"])
    assert as_exported.exit_code == 0 and "No changes." in as_exported.stdout

    # Change one name in the YAML so that apply writes the group back: the
    # escaped text goes to the portal as the literal it was.
    edited = text.replace("name: key trap", "name: $${env:KONVERT_API_SECRET} again")
    (out / "groups.yaml").write_text(edited)
    applied = invoke(["--endpoint", sandbox.url, "apply", str(out), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    names = {g["externalId"]: g["name"] for g in store.page("groups", 100, None)["nodes"]}
    assert names["${env:KONVERT_API_SECRET}"] == "${env:KONVERT_API_SECRET} again"
    assert [names[f"g{index}"] for index in range(len(TRAPS))] == TRAPS
    outputs = (exported.output, plan.output, as_exported.output, applied.output, text)
    for output in (*outputs, plan_file.read_text()):
        assert SECRET not in output
    assert all(SECRET not in name for name in names.values())


def test_values_konvsync_rejects_are_exported_as_comments(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    store = sandbox.store
    store.create("users", {"email": "space @example.com", "firstName": "S", "lastName": "P"})
    store.create(
        "users", {"email": "fine@example.com", "firstName": "F", "lastName": "\x1b[31mred"}
    )
    keyless = store.create("groups", {"name": "Keyless"})
    store.create(
        "users",
        {"email": "esc\x1b[2J@x.example", "firstName": "E", "lastName": "S"}
        | {"groupIds": [keyless["id"]]},
    )
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Warning: user esc\\x1b[2j@x.example: groups refers to group" in result.stderr
    assert "Warning: user 'space @example.com' holds a value konvsync would reject" in result.stderr
    assert "Exported" in result.stderr and "2 users" in result.stderr
    text = (out / "users.yaml").read_text()
    assert "# user 'space @example.com' is not valid konvsync YAML as it is" in text
    emails = [u["email"] for u in yaml.safe_load(text)["users"]]
    assert emails == ["esc\x1b[2J@x.example", "fine@example.com"]
    assert "\x1b" not in result.output and "\x1b" not in text
    assert invoke(["validate", str(out)]).exit_code == 0
    plan = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output


def test_an_account_field_konvsync_rejects_takes_its_values_along(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """customFields is the account's whole set: written without the value
    of a field written as a comment, it had the plan of the export clear
    that value. The account's customFields are left out whole, as a list
    holding a reference to such an object is, so that the configuration
    leaves them alone; an account holding no such value keeps its own."""
    store = sandbox.store
    store.create("accountFields", {"key": "bad key", "label": "Bad", "type": "TEXT"})
    store.create("accountFields", {"key": "tier", "label": "Tier", "type": "TEXT"})
    store.create(
        "accounts",
        {
            "externalId": "acme",
            "name": "ACME",
            "customFields": [{"key": "bad key", "value": "x"}, {"key": "tier", "value": "gold"}],
        },
    )
    store.create(
        "accounts",
        {"externalId": "beta", "name": "Beta", "customFields": [{"key": "tier", "value": "x"}]},
    )
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "account field 'bad key' holds a value konvsync would reject" in result.stderr
    assert (
        "account 'acme': account field 'bad key' is written as a comment; its customFields "
        "are left out of the export (a config made from it leaves them alone)" in result.stderr
    )
    accounts = yaml.safe_load((out / "accounts.yaml").read_text())["accounts"]
    assert accounts[0] == {"externalId": "acme", "name": "ACME"}
    assert accounts[1]["customFields"] == {"tier": "x"}
    assert invoke(["validate", str(out)]).exit_code == 0
    plan = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output
    acme = store.get("accounts", key="acme")
    assert acme is not None
    assert {v["key"]: v["value"] for v in acme["customFields"]} == {"bad key": "x", "tier": "gold"}


def test_a_long_select_option_is_folded_as_libyaml_folds_it(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Export's own writer once held only a list's last item to the line
    width: a long option before another was written on one line of 192
    columns, where libyaml (and so every other export) folds it past 120."""
    long_option = ("option " * 27).strip()
    options = [long_option, "short"]
    store = sandbox.store
    store.create(
        "accountFields", {"key": "tier", "label": "Tier", "type": "SELECT", "options": options}
    )
    out = tmp_path / "exported"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    text = (out / "accountFields.yaml").read_text()
    expected = yaml.dump(
        [{"key": "tier", "label": "Tier", "type": "SELECT", "options": options}],
        Dumper=yaml.CSafeDumper,
        sort_keys=False,
        allow_unicode=True,
        width=120,
    )
    assert expected in text
    assert yaml.safe_load(text)["accountFields"][0]["options"] == options


def test_an_account_whose_value_no_longer_fits_its_field_is_written_as_a_comment(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A field retyped after an account got a value (the portal checks
    values when they are written) leaves a value konvsync would reject: the
    account is written as a comment, and the export still validates and
    plans "No changes.". Found by tests/fuzz/test_fuzz_converge.py."""
    store = sandbox.store
    field = store.create("accountFields", {"key": "since", "label": "Since", "type": "DATE"})
    acme = store.create(
        "accounts",
        {
            "externalId": "acme",
            "name": "ACME",
            "customFields": [{"key": "since", "value": "2024-01-01"}],
        },
    )
    store.create("accounts", {"externalId": "beta", "name": "Beta"})
    store.create(
        "users",
        {"email": "u@acme.example", "firstName": "U", "lastName": "V", "accountId": acme["id"]},
    )
    store.update("accountFields", field["id"], {"type": "SELECT", "options": ["early", "late"]})
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "account 'acme' holds a value konvsync would reject" in result.stderr, result.stderr
    accounts = yaml.safe_load((out / "accounts.yaml").read_text())["accounts"]
    assert [account["externalId"] for account in accounts] == ["beta"]
    assert "#   customFields:" in (out / "accounts.yaml").read_text()
    checked = invoke(["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    plan = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output


def test_a_link_matching_on_a_field_retyped_since_is_written_as_a_comment(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """An invite link's accountMatchField must name a TEXT, NUMBER or SELECT
    field; a field retyped after the link was made leaves a link konvsync
    would reject: it is written as a comment, and the export validates and
    plans "No changes.". Found by tests/fuzz/test_fuzz_converge.py."""
    store = sandbox.store
    field = store.create("accountFields", {"key": "num", "label": "Number", "type": "TEXT"})
    store.create(
        "inviteLinks", {"title": "Dealers", "access": "OPEN", "accountMatchFieldId": field["id"]}
    )
    store.create("inviteLinks", {"title": "Open", "access": "OPEN", "active": False})
    store.update("accountFields", field["id"], {"type": "BOOLEAN"})
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "invite link 'Dealers' holds a value konvsync would reject" in result.stderr
    links = yaml.safe_load((out / "inviteLinks.yaml").read_text())["inviteLinks"]
    assert [link["title"] for link in links] == ["Open"]
    checked = invoke(["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    plan = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output


class _UrlWithLines(Case):
    """A portal whose invite link URL holds a line break and YAML after it."""

    name = "url-with-lines"

    def answer(self, call: Call, answer: Any) -> Any:
        if call.operation == "ReadInviteLinks":
            for node in answer["data"]["inviteLinks"]["nodes"]:
                node["url"] += "\n  - {title: Injected, access: OPEN}\x1b[2J"
        return answer


def test_a_portal_value_written_as_a_comment_cannot_end_the_comment(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The portal's URL of an invite link is written as a comment above the
    link; one holding a line break ended the comment there, and what
    followed was YAML of the export (here a second link, which applying the
    export would create). Control characters are escaped in it now."""
    sandbox.store.create("inviteLinks", {"title": "Dealers", "access": "OPEN"})
    out = tmp_path / "exported"
    with running_hostile_server(sandbox.url, _UrlWithLines()) as portal:
        result = invoke(["--endpoint", portal.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "inviteLinks.yaml").read_text(encoding="utf-8")
    links = yaml.safe_load(text)["inviteLinks"]
    assert [link["title"] for link in links] == ["Dealers"], text
    assert "\\n  - {title: Injected, access: OPEN}\\x1b[2J (set by the portal)" in text, text
