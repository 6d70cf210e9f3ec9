"""Natural keys with ``/``, spaces and non-ASCII letters, for every kind:
apply, then plan says "No changes." (a location's account is its parent
address, never a part of a key split at a ``/``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import yaml

from konvsync.sandbox.server import RunningSandbox
from konvsync.support.resources import json_schema
from tests.conftest import invoke
from tests.drift.portal import HandEdits

ConfigWriter = Callable[..., Path]

CONFIG = """\
    konvsync: 1
    policy:
      prune: [groups, accounts, users]
    groups:
      - {externalId: "sales/north", name: Sales North}
      - {externalId: "Vertrieb Süd", name: Vertrieb Süd}
    accounts:
      - externalId: dealers
        name: Dealers
        userGroups: ["sales/north"]
        locations:
          - {name: HQ}
          - {name: "Yard/B"}
      - externalId: dealers/east
        name: Dealers East
        userGroups: ["Vertrieb Süd"]
        locations:
          - {name: HQ}
          - {name: Ost Höfe}
    users:
      - {email: "jörg/ops@example.com", firstName: Jörg, lastName: Groß, account: "dealers/east",
         groups: ["sales/north", "Vertrieb Süd"]}
    """


def test_keys_with_slashes_spaces_and_non_ascii_converge(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CONFIG)
    url = ["--endpoint", sandbox.url]
    first = invoke([*url, "apply", str(config), "--auto-approve"])
    assert first.exit_code == 0, first.output
    assert "Apply complete! Resources: 9 added" in first.stdout
    store = sandbox.store
    accounts = store.page("accounts", 100, None)["nodes"]
    names = {
        a["externalId"]: sorted(loc["name"] for loc in store.children("locations", a["id"]))
        for a in accounts
    }
    assert names == {"dealers": ["HQ", "Yard/B"], "dealers/east": ["HQ", "Ost Höfe"]}
    again = invoke([*url, "plan", str(config), "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout


def test_plan_json_names_a_locations_parent(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CONFIG)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, json_schema("plan.schema.json"))
    changes = data["changes"]
    east_hq = [c for c in changes if c["kind"] == "locations" and c.get("parent") == "dealers/east"]
    assert {c["address"] for c in east_hq} == {
        "locations/dealers/east/HQ",
        "locations/dealers/east/Ost Höfe",
    }
    yard = next(c for c in changes if c["address"] == "locations/dealers/Yard/B")
    assert yard["parent"] == "dealers"


def test_targeting_an_account_with_a_slash_takes_only_its_locations(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CONFIG)
    result = invoke(
        ["--endpoint", sandbox.url, "plan", str(config), "--target", "accounts/dealers"]
    )
    assert result.exit_code == 0, result.output
    assert "locations/dealers/HQ" in result.stdout
    assert "locations/dealers/east/HQ" not in result.stdout


# Joined, both locations read "a/b/c": they must still be two objects.
CLASHING = """\
    konvsync: 1
    accounts:
      - externalId: a/b
        name: A slash B
        locations:
          - {name: c, phone: "1"}
      - externalId: a
        name: A
        locations:
          - {name: b/c, phone: "2"}
    """


def _locations(sandbox: RunningSandbox) -> dict[str, list[tuple[str, str | None]]]:
    store = sandbox.store
    return {
        a["externalId"]: sorted(
            (loc["name"], loc["phone"]) for loc in store.children("locations", a["id"])
        )
        for a in store.page("accounts", 100, None)["nodes"]
    }


def test_child_keys_that_join_alike_are_two_objects(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CLASHING)
    valid = invoke(["validate", str(config)])
    assert valid.exit_code == 0, valid.output
    assert "2 locations" in valid.stdout
    url = ["--endpoint", sandbox.url]
    first = invoke([*url, "apply", str(config), "--auto-approve"])
    assert first.exit_code == 0, first.output
    assert "Apply complete! Resources: 4 added" in first.stdout
    assert _locations(sandbox) == {"a/b": [("c", "1")], "a": [("b/c", "2")]}
    again = invoke([*url, "plan", str(config), "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout


def test_a_child_key_twice_in_one_parent_is_still_a_duplicate(
    write_config: ConfigWriter,
) -> None:
    config = write_config(
        """\
        konvsync: 1
        accounts:
          - externalId: a
            name: A
            locations: [{name: b/c}, {name: b/c}]
          - externalId: a/b
            name: A slash B
            locations: [{name: c}]
        """
    )
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    assert result.stderr.count("duplicate location") == 1, result.stderr
    assert ":5:" in result.stderr


def test_plan_json_and_saved_plan_carry_parent_and_key_apart(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(CLASHING)
    url = ["--endpoint", sandbox.url]
    shown = invoke([*url, "plan", str(config), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    jsonschema.validate(data, json_schema("plan.schema.json"))
    locations = sorted(
        (c["parent"], c["key"], c["address"]) for c in data["changes"] if c["kind"] == "locations"
    )
    assert locations == [("a", "b/c", "locations/a/b/c"), ("a/b", "c", "locations/a/b/c")]
    saved = tmp_path / "plan.json"
    made = invoke([*url, "plan", str(config), "--out", str(saved)])
    assert made.exit_code == 0, made.output
    applied = invoke([*url, "apply", str(saved), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert _locations(sandbox) == {"a/b": [("c", "1")], "a": [("b/c", "2")]}


def test_a_saved_plan_updating_both_look_alike_children_applies(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    url = ["--endpoint", sandbox.url]
    assert invoke([*url, "apply", str(write_config(CLASHING)), "--auto-approve"]).exit_code == 0
    changed = write_config(
        CLASHING.replace('phone: "1"', 'phone: "10"').replace('phone: "2"', 'phone: "20"'),
        "changed.yaml",
    )
    saved = tmp_path / "plan.json"
    made = invoke([*url, "plan", str(changed), "--out", str(saved)])
    assert made.exit_code == 0, made.output
    assert "0 to add, 2 to change, 0 to destroy" in made.stdout
    applied = invoke([*url, "apply", str(saved)])
    assert applied.exit_code == 0, applied.output
    assert _locations(sandbox) == {"a/b": [("c", "10")], "a": [("b/c", "20")]}


def test_emptying_one_parents_children_leaves_the_look_alike_child(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    url = ["--endpoint", sandbox.url]
    assert invoke([*url, "apply", str(write_config(CLASHING)), "--auto-approve"]).exit_code == 0
    emptied = CLASHING.replace('\n          - {name: b/c, phone: "2"}', " []")
    assert "locations: []" in emptied
    result = invoke([*url, "apply", str(write_config(emptied, "emptied.yaml")), "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "locations/a/b/c will be destroyed" in result.stdout
    assert "Resources: 0 added, 0 changed, 1 destroyed" in result.stdout
    assert _locations(sandbox) == {"a/b": [("c", "1")], "a": []}


def test_a_location_is_protected_as_shown(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    url = ["--endpoint", sandbox.url]
    assert invoke([*url, "apply", str(write_config(CLASHING)), "--auto-approve"]).exit_code == 0
    emptied = CLASHING.replace('\n          - {name: b/c, phone: "2"}', " []").replace(
        "konvsync: 1\n", "konvsync: 1\n    policy: {protect: {locations: [a/b/c]}}\n"
    )
    result = invoke([*url, "plan", str(write_config(emptied, "protected.yaml"))])
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout


def test_look_alike_children_in_the_portal_alone_are_two_objects(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    """Account ``a`` does not list its locations; the portal's ``b/c`` of it
    is not the configured ``c`` of ``a/b``."""
    config = write_config(
        CLASHING.replace('\n          - {name: b/c, phone: "2"}', " []").replace(
            "        locations: []\n", ""
        )
    )
    url = ["--endpoint", sandbox.url]
    assert invoke([*url, "apply", str(config), "--auto-approve"]).exit_code == 0
    HandEdits(sandbox).create_location("a", name="b/c", phone="2")
    again = invoke([*url, "plan", str(config), "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
    assert _locations(sandbox) == {"a/b": [("c", "1")], "a": [("b/c", "2")]}


def test_targeting_one_of_two_look_alike_parents(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CLASHING)
    result = invoke(
        [
            "--endpoint",
            sandbox.url,
            "plan",
            str(config),
            "--target",
            "accounts/a",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    picked = {(c["kind"], c.get("parent"), c["key"]) for c in json.loads(result.stdout)["changes"]}
    assert picked == {("accounts", None, "a"), ("locations", "a", "b/c")}
    # A location is targeted as shown: here that names both, with their accounts.
    target = ["--target", "locations/a/b/c", "--format", "json"]
    both = invoke(["--endpoint", sandbox.url, "plan", str(config), *target])
    assert both.exit_code == 0, both.output
    picked = {(c["kind"], c.get("parent"), c["key"]) for c in json.loads(both.stdout)["changes"]}
    assert picked == {
        ("accounts", None, "a"),
        ("accounts", None, "a/b"),
        ("locations", "a", "b/c"),
        ("locations", "a/b", "c"),
    }
    missing = invoke(["--endpoint", sandbox.url, "plan", str(config), "--target", "locations/a/c"])
    assert missing.exit_code == 1
    assert "no location 'a/c'" in missing.stderr


def test_drift_of_look_alike_children_is_written_to_the_right_parent(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    config = write_config(CLASHING)
    url = ["--endpoint", sandbox.url]
    assert invoke([*url, "apply", str(config), "--auto-approve"]).exit_code == 0
    portal = HandEdits(sandbox)
    portal.update_location("a", "b/c", phone="22")
    portal.create_location("a/b", name="d")
    report = invoke([*url, "drift", str(config), "--format", "json"])
    assert report.exit_code == 2, report.output
    data = json.loads(report.stdout)
    jsonschema.validate(data, json_schema("drift.schema.json"))
    found = {(d["category"], d["parent"], d["key"]) for d in data["drift"]}
    assert found == {("changed", "a", "b/c"), ("created", "a/b", "d")}
    written = invoke([*url, "drift", str(config), "--write"])
    assert written.exit_code == 2, written.output
    text = config.read_text()
    assert '- {name: b/c, phone: "22"}' in text
    assert text.index("- {name: d}") < text.index("externalId: a\n")  # in a/b's list
    again = invoke([*url, "plan", str(config), "--detailed-exitcode"])
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


def test_export_writes_look_alike_children_under_their_own_parent(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    url = ["--endpoint", sandbox.url]
    assert invoke([*url, "apply", str(write_config(CLASHING)), "--auto-approve"]).exit_code == 0
    out = tmp_path / "exported"
    exported = invoke([*url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    accounts = yaml.safe_load((out / "accounts.yaml").read_text())["accounts"]
    assert {a["externalId"]: a["locations"] for a in accounts} == {
        "a": [{"name": "b/c", "phone": "2"}],
        "a/b": [{"name": "c", "phone": "1"}],
    }
    again = invoke([*url, "plan", str(out), "--detailed-exitcode"])
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output


# ------------------------------------------- keys that look alike (issue 22)

NFC_EMAIL = "ren\u00e9@acme.example"
NFD_EMAIL = "rene\u0301@acme.example"


def test_composed_and_decomposed_forms_of_an_email_are_one_key(
    sandbox: RunningSandbox, write_config: ConfigWriter
) -> None:
    user = f'{{email: "{NFC_EMAIL}", firstName: "Ren\u00e9", lastName: "Roe"}}'
    config = write_config(f"konvsync: 1\npolicy: {{prune: [users]}}\nusers: [{user}]\n")
    applied = invoke(["--endpoint", sandbox.url, "apply", str(config), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    decomposed = user.replace(NFC_EMAIL, NFD_EMAIL).replace("Ren\u00e9", "Rene\u0301")
    config.write_text(f"konvsync: 1\npolicy: {{prune: [users]}}\nusers: [{decomposed}]\n")
    plan = invoke(["--endpoint", sandbox.url, "plan", str(config), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output  # not a create (and a delete) of "another" user
    assert "No changes." in plan.stdout
    both = write_config(f"konvsync: 1\nusers: [{user}, {decomposed}]\n", name="both.yaml")
    refused = invoke(["validate", str(both)])
    assert refused.exit_code == 1
    assert "duplicate user" in refused.stderr and "both.yaml:2:" in refused.stderr


LOOKALIKE_CONFIG = """\
    konvsync: 1
    groups:
      - {externalId: "sales\\u00a0east", name: Sales East}
      - {externalId: "\\u202eevil", name: Evil}
      - {externalId: "\\u0430cme", name: Cyrillic a}
      - {externalId: "Vertrieb Süd", name: Plain non-ASCII}
      - {externalId: "support ", name: Support}
    accounts:
      - {externalId: "acme\\u200b", name: ACME}
    """


def test_keys_with_invisible_or_look_alike_characters_are_warned_about(
    write_config: ConfigWriter,
) -> None:
    config = write_config(LOOKALIKE_CONFIG)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert len(warnings) == 5, result.stderr
    expected = [
        ":3:18: warning: group 'sales\\xa0east': its externalId holds U+00A0 NO-BREAK SPACE "
        "at character 6",
        ":4:18: warning: group '\\u202eevil': its externalId holds U+202E RIGHT-TO-LEFT "
        "OVERRIDE at its start",
        ":5:18: warning: group '\u0430cme': its externalId holds U+0430 CYRILLIC SMALL LETTER A "
        "at its start",
        ":7:18: warning: group 'support ': its externalId holds U+0020 SPACE at its end",
        ":9:18: warning: account 'acme\\u200b': its externalId holds U+200B ZERO WIDTH SPACE "
        "at its end",
    ]
    for line, text in zip(warnings, expected, strict=True):
        assert str(config) + text in line, (line, text)
    assert "Süd" not in result.stderr  # non-ASCII alone is no look-alike


def test_keys_with_compatibility_characters_are_warned_about(
    write_config: ConfigWriter,
) -> None:
    """Fullwidth letters, ligatures and dot leaders are other characters that
    are drawn like plain ones (their compatibility form, NFKC, is the plain
    one): 'sales' with a fullwidth 's' and 'sales' are two keys that look the
    same."""
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: "\\uff53ales", name: Fullwidth s}
          - {externalId: "\\ufb01nance", name: Ligature fi}
        users:
          - {email: "jane@acme\\u2024example", firstName: Jane, lastName: Doe}
        """)
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    expected = [
        ":3:18: warning: group '\uff53ales': its externalId holds U+FF53 FULLWIDTH LATIN "
        "SMALL LETTER S at its start",
        ":4:18: warning: group '\ufb01nance': its externalId holds U+FB01 LATIN SMALL "
        "LIGATURE FI at its start",
        ":6:13: warning: user 'jane@acme\u2024example': its email holds U+2024 ONE DOT "
        "LEADER at character 10",
    ]
    assert len(warnings) == len(expected), result.stderr
    for line, text in zip(warnings, expected, strict=True):
        assert str(config) + text in line, (line, text)


def test_export_writes_look_alike_keys_escaped(
    sandbox: RunningSandbox, write_config: ConfigWriter, tmp_path: Path
) -> None:
    store = sandbox.store
    store.create("groups", {"externalId": "sales\u200b", "name": "Sales"})
    store.create("groups", {"externalId": "sales", "name": "Sales"})
    store.create("accounts", {"externalId": "\u0430cme", "name": "ACME\u00a0Corp"})
    out = tmp_path / "exported"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    groups = (out / "groups.yaml").read_text(encoding="utf-8")
    assert '- externalId: "sales\\u200b"\n' in groups
    assert "- externalId: sales\n" in groups
    assert "\u200b" not in groups
    accounts = (out / "accounts.yaml").read_text(encoding="utf-8")
    assert '- externalId: "\\u0430cme"\n' in accounts and 'name: "ACME\\xa0Corp"' in accounts
    loaded = yaml.safe_load(groups)
    assert sorted(g["externalId"] for g in loaded["groups"]) == ["sales", "sales\u200b"]
    plan = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output
