"""``konvsync validate`` through the CLI: every bad config reports its
problem at the right line, good ones pass, and no input crashes it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import SECRET, invoke
from tests.published_schemas import validated
from tests.schema_hints import ROOT, check_jsonschema, hinted_schema

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))
GOOD = sorted((CONFIGS / "good").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+(?::\d+)?): (.+)$")


def expectations(path: Path) -> list[tuple[str, str]]:
    """The ``# expect: LINE[:COL]: fragment`` lines of a bad config (a semantic
    error, found after the schema, names the exact column of the offending
    value); a link to a file
    that cannot hold them (/dev/zero) has them in ``NAME.expect`` beside it."""
    sidecar = path.with_name(path.name + ".expect")
    source = sidecar if path.is_symlink() and sidecar.exists() else path
    found = []
    for line in source.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            found.append((match.group(1), match.group(2)))
    assert found, f"{path.name} declares no '# expect: LINE: fragment'"
    return found


def test_there_are_at_least_30_bad_cases() -> None:
    assert len(BAD) >= 30


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_is_reported_at_its_line(path: Path) -> None:
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    for place, fragment in expectations(path):
        prefix = f"{path}:{place}:"
        matching = [line for line in lines if line.startswith(prefix) and fragment in line]
        assert matching, f"expected {prefix} ... {fragment!r} in:\n{result.stderr}"
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    assert lines[-1].startswith("Error: configuration invalid: ")


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_config_is_valid(path: Path) -> None:
    result = invoke(["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: valid")


def test_problems_are_sorted_and_all_reported() -> None:
    path = CONFIGS / "bad" / "several-problems.yaml"
    result = invoke(["validate", str(path)])
    problems = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert len(problems) == 3
    assert problems == sorted(problems, key=lambda line: int(line.split(":")[1]))
    assert "3 problems" in result.stderr


def test_env_substitution(write_config: object, monkeypatch: pytest.MonkeyPatch) -> None:
    path = CONFIGS / "good" / "env-and-anchors.yaml"
    monkeypatch.setenv("TEST_GROUP", "from-env")
    monkeypatch.delenv("TEST_SUFFIX", raising=False)
    from konvsync.config.loader import load_config

    state = load_config(str(path))
    assert sorted(state.objects["groups"]) == ["from-env", "support"]
    assert state.objects["groups"]["support"].data["name"] == "Support team ${env:TEST_SUFFIX}"


def test_env_value_cannot_inject_structure(
    write_config: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_INJECT", "x}\nusers: [{email: evil@x.example}] ${env:HOME} $${")
    path = write_config("""\
        konvsync: 1
        variables: [TEST_INJECT]
        groups:
          - {externalId: a, name: "${env:TEST_INJECT}"}
        """)
    from konvsync.config.loader import load_config

    state = load_config(str(path))
    assert "users" not in state.objects
    assert state.objects["groups"]["a"].data["name"].startswith("x}\nusers")
    assert state.objects["groups"]["a"].data["name"].endswith("${env:HOME} $${")  # not rescanned


def test_external_refs_are_allowed_on_request() -> None:
    path = CONFIGS / "bad" / "unknown-ref-account.yaml"
    assert invoke(["validate", "--allow-external-refs", str(path)]).exit_code == 0


def test_directory_is_merged_and_duplicates_across_files_name_both(
    write_config: object, tmp_path: Path
) -> None:
    config = tmp_path / "portal"
    (config / "groups").mkdir(parents=True)
    (config / "konvsync.yaml").write_text("konvsync: 1\nendpoint: sandbox\n")
    (config / "groups" / "a.yaml").write_text("groups:\n  - {externalId: a, name: A}\n")
    (config / "groups" / "b.yml").write_text("groups:\n  - {externalId: b, name: B}\n")
    (config / "notes.txt").write_text("not yaml")
    ok = invoke(["validate", str(config)])
    assert ok.exit_code == 0 and "2 groups" in ok.stdout
    (config / "groups" / "c.yaml").write_text("groups:\n  - {externalId: a, name: Again}\n")
    dup = invoke(["validate", str(config)])
    assert dup.exit_code == 1
    first = config / "groups" / "a.yaml"
    assert (
        f"{config / 'groups' / 'c.yaml'}:2:5: duplicate group 'a' (first defined at "
        f"{first}:2:5)" in dup.stderr
    )
    (config / "more.yaml").write_text("endpoint: production\n")
    twice = invoke(["validate", str(config)])
    assert "endpoint is set twice (also at" in twice.stderr


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    missing = invoke(["validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "no such file or directory" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = invoke(["validate", str(tmp_path / "empty")])
    assert empty.exit_code == 1 and "no *.yaml or *.yml files" in empty.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (os.urandom(4096), None),
        (b"", "missing format version"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b"konvsync: 1\n\x00\x01\x02", "binary"),
        (b"konvsync: 1\ngroups:\n  - name: caf\xe9\n", "not UTF-8"),
        (b"- a\n- b\n", "top level must be a mapping"),
        (b"konvsync: 1\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n", None),
        (b"konvsync: 1\nx: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n", None),
        (
            b"a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
            b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
            b"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
            b"h: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
            "refusing to read it",
        ),
    ],
    ids=[
        "random-bytes",
        "empty",
        "png",
        "nul-bytes",
        "latin-1",
        "list",
        "deep-lists",
        "deep-maps",
        "billion-laughs",
    ],
)
def test_no_input_crashes_validate(tmp_path: Path, content: bytes, fragment: str | None) -> None:
    path = tmp_path / "input.yaml"
    path.write_bytes(content)
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    if fragment:
        assert fragment in result.stderr


def test_large_file_of_users_validates(tmp_path: Path) -> None:
    lines = ["konvsync: 1", "users:"]
    size = 0
    index = 0
    while size < 5_000_000:
        entry = (
            f"  - email: user{index}@example.com\n    firstName: First{index}\n"
            f"    lastName: Last{index}\n    title: Engineer\n"
        )
        lines.append(entry.rstrip("\n"))
        size += len(entry)
        index += 1
    path = tmp_path / "users.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = invoke(["validate", str(path)])
    assert result.exit_code == 0, result.output[-500:]
    assert f"{index} users" in result.stdout


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"konvsync: 1\n# " + b"x" * (11 * 1024 * 1024) + b"\n")
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1
    assert "konvsync reads config files up to 10 MB" in result.stderr


def test_too_many_objects_is_refused(tmp_path: Path) -> None:
    # One group and 250,000 aliases of it: the count is what is checked.
    items = "  - *g\n" * 250_000
    path = tmp_path / "many.yaml"
    path.write_text(f"konvsync: 1\ngroups:\n  - &g {{externalId: g, name: G}}\n{items}")
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1
    assert "configuration holds 250,001 objects; konvsync reads at most 250,000" in result.stderr


def test_schema_command_prints_the_json_schema() -> None:
    import json

    from konvsync.support.resources import json_schema

    result = invoke(["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["konvsync"]["const"] == 1
    assert schema == json_schema("konvsync.schema.json")  # the published file, generated parts too


def test_every_schema_property_has_a_description() -> None:
    import json

    schema = json.loads((CONFIGS.parent.parent / "schemas" / "konvsync.schema.json").read_text())

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                assert "description" in sub or "$ref" in sub, f"{path}.{name} lacks a description"
                walk(sub, f"{path}.{name}")
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    walk(node[key], path)
            for name, sub in (node.get("$defs") or {}).items():
                walk(sub, f"$defs.{name}")

    walk(schema, "")


def test_directory_walk_skips_hidden_and_symlink_loops(tmp_path: Path) -> None:
    config = tmp_path / "portal"
    (config / "groups").mkdir(parents=True)
    (config / "konvsync.yaml").write_text("konvsync: 1\n")
    (config / "groups" / "a.yaml").write_text("groups:\n  - {externalId: a, name: A}\n")
    (config / "groups" / "loop").symlink_to(config)
    (config / ".hidden").mkdir()
    (config / ".hidden" / "x.yaml").write_text("groups:\n  - {externalId: a, name: Dup}\n")
    result = invoke(["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "1 groups" in result.stdout


def test_files_that_are_not_regular_or_too_large_are_refused_unread(tmp_path: Path) -> None:
    config = tmp_path / "portal"
    config.mkdir()
    (config / "konvsync.yaml").write_text("konvsync: 1\n")
    os.mkfifo(config / "fifo.yaml")  # opening it to read would wait for a writer
    (config / "zero.yaml").symlink_to("/dev/zero")  # reading it would never end
    with (config / "sparse.yaml").open("wb") as handle:
        handle.truncate(8 * 1024**3)  # 8 GB of nothing: refused from its size alone
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1
    assert f"{config / 'fifo.yaml'}:1:1: not a regular file" in result.stderr
    assert f"{config / 'zero.yaml'}:1:1: not a regular file" in result.stderr
    assert f"{config / 'sparse.yaml'}:1:1: file is 8589.9 MB; konvsync reads" in result.stderr
    planned = invoke(["--endpoint", "sandbox", "plan", str(config / "fifo.yaml")])
    assert planned.exit_code == 1 and "not a regular file" in planned.stderr


LISTED_BUT_UNSET = """\
konvsync: 1
endpoint: "${env:TEST_ENDPOINT}"
variables: [TEST_INVITE_CODE, TEST_ENDPOINT]
inviteLinks:
  - {title: Dealer sign-up, access: CODE, code: "${env:TEST_INVITE_CODE}"}
  - {title: Partner sign-up, access: CODE, code: "${env:TEST_INVITE_CODE}"}
"""


def test_validate_needs_no_listed_variable_but_says_what_it_did_not_check(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, a listed variable that is not set is no error (the endpoint's
    URL form cannot be checked without its value, and is not); plan still
    needs it, at each place."""
    path = write_config(LISTED_BUT_UNSET)
    for name in ("TEST_INVITE_CODE", "TEST_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    result = invoke(["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid (2 inviteLinks); 1 file read.\n"
    assert result.stderr.splitlines() == [
        f"{path}:2:11: warning: environment variable TEST_ENDPOINT is not set, so the value "
        "that uses it was not checked (not even its form, such as a URL's); plan and apply "
        "need it",
        f"{path}:5:49: warning: environment variable TEST_INVITE_CODE is not set, so the 2 "
        "values that use it were not checked (not even their form, such as a URL's); plan "
        "and apply need it",
    ]
    as_json = invoke(["validate", str(path), "--format", "json"])
    assert as_json.exit_code == 0 and as_json.stderr == ""
    document = validated(as_json.stdout, "validate")
    assert document["problems"] == []
    assert [(w["line"], w["column"]) for w in document["warnings"]] == [(2, 11), (5, 49)]
    assert "TEST_INVITE_CODE is not set, so the 2 values" in document["warnings"][1]["message"]
    monkeypatch.setenv("TEST_ENDPOINT", "sandbox")
    planned = invoke(["plan", str(path)])
    assert planned.exit_code == 1
    assert f"{path}:5:49: environment variable TEST_INVITE_CODE is not set" in planned.stderr
    assert f"{path}:6:50: environment variable TEST_INVITE_CODE is not set" in planned.stderr
    # with the values, validate checks them
    monkeypatch.setenv("TEST_ENDPOINT", "not a url")
    monkeypatch.setenv("TEST_INVITE_CODE", "Sesame-1")
    checked = invoke(["validate", str(path)])
    assert checked.exit_code == 1
    assert f"{path}:2:11: endpoint: 'not a url' is not one of production" in checked.stderr
    assert "warning" not in checked.stderr


def test_an_unset_variable_hides_no_other_problem(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_ENDPOINT", raising=False)
    path = write_config(
        "konvsync: 1\nvariables: [TEST_ENDPOINT]\nendpoint: ftp://${env:TEST_ENDPOINT}\n"
        "accounts:\n  - {externalId: acme, nmae: ACME}\n"
        '  - {externalId: gamma, name: "${env:NOT_LISTED}"}\n'
    )
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5:24: accounts.[0].nmae: unknown key" in result.stderr
    assert f"{path}:6:31: ${{env:NOT_LISTED}}: variable NOT_LISTED is not listed" in (result.stderr)
    # the unset variable's own place is not checked, though ftp:// is wrong
    # either way: only its warning stands there
    at_three = [line for line in result.stderr.splitlines() if line.startswith(f"{path}:3:")]
    assert [line for line in at_three if ": warning: " not in line] == []
    assert any("TEST_ENDPOINT is not set" in line for line in at_three)


def test_an_export_validates_without_its_secrets_and_names_its_schema(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """export writes ``${env:INVITE_CODE_1}`` for a code it never exports:
    validate (and the pre-commit hook) pass without it; every file's first
    line is the editor hint to the published schema, which the files pass."""
    sandbox.store.create("accounts", {"externalId": "acme", "name": "ACME"})
    sandbox.store.create(
        "inviteLinks", {"title": "Dealer sign-up", "access": "CODE", "code": "Sesame-77"}
    )
    out = tmp_path / "portal"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "${env:INVITE_CODE_1}" in (out / "inviteLinks.yaml").read_text()
    monkeypatch.delenv("INVITE_CODE_1", raising=False)
    result = invoke(["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "environment variable INVITE_CODE_1 is not set, so the value" in result.stderr
    files = sorted(out.glob("*.yaml"))
    assert {hinted_schema(f) for f in files} == {ROOT / "schemas" / "konvsync.schema.json"}
    checked = check_jsonschema(ROOT / "schemas" / "konvsync.schema.json", files)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_warnings_stand_beside_the_errors(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset variable's warning (its values were not checked) is still
    said when the config also has an error: it may be why."""
    monkeypatch.delenv("TEAM_NAME", raising=False)
    config = write_config(
        """\
        konvsync: 1
        variables: [TEAM_NAME]
        groups:
          - {externalId: team, name: "${env:TEAM_NAME}"}
          - {externalId: other, name: Other, permissions: [NOT_ONE]}
        """
    )
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    assert "warning:" in result.stderr and "TEAM_NAME" in result.stderr, result.stderr
    assert "NOT_ONE" in result.stderr
    # --format json: both in its one document, nothing on stderr but the error line
    as_json = invoke(["validate", "--format", "json", str(config)])
    assert as_json.exit_code == 1
    document = validated(as_json.stdout, "validate")
    assert ["TEAM_NAME" in w["message"] for w in document["warnings"]] == [True]
    assert ["NOT_ONE" in p["message"] for p in document["problems"]] == [True]
    assert [line for line in as_json.stderr.splitlines() if "TEAM_NAME" in line] == []


def test_an_item_that_is_not_a_mapping_is_told_so_not_a_rule_between_fields(
    write_config: Callable[..., Path],
) -> None:
    """The schema's rules between an invite link's fields (OPEN takes no
    code; account or accountMatchField) hold vacuously or fail vacuously for
    an item that is no mapping at all (a title written alone): the message
    is that it is not a mapping, not a rule it cannot break."""
    config = write_config(
        """\
        konvsync: 1
        inviteLinks:
          - Dealer sign-up
          - [a]
          - {title: Open code, access: OPEN, code: x1}
        """
    )
    for args in (["validate", str(config)], ["validate", "--format", "json", str(config)]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert "inviteLinks.[0]: 'Dealer sign-up' is not of type 'object'" in result.output
        assert "inviteLinks.[1]: ['a'] is not of type 'object'" in result.output
        assert result.output.count("access OPEN takes no code") == 1, result.output
        assert "not both" not in result.output


def test_a_reference_in_a_key_is_told_it_is_not_substituted(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``${env:...}`` is substituted in values only: a key holding one (an
    object's field, a custom field) is told so, not only "unknown"."""
    monkeypatch.setenv("REGION", "name")
    path = write_config(
        "konvsync: 1\nvariables: [REGION]\n"
        "accountFields:\n  - {key: tier, label: Tier, type: TEXT}\n"
        "accounts:\n"
        "  - externalId: acme\n    name: ACME\n    ${env:REGION}: x\n"
        "    customFields:\n      ${env:REGION}: y\n"
    )
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "${env:REGION}" in line]
    assert len(lines) == 2, result.stderr
    assert all("substituted in values, not in keys" in line for line in lines), result.stderr


def test_a_key_yaml_reads_as_another_value_is_named_as_written(tmp_path: Path) -> None:
    """A CI workflow left in the config folder: YAML 1.1 reads its ``on:``
    as the key True, and the message named "True", a key the file does not
    have. It names ``on``, and what YAML made of it."""
    (tmp_path / "konvsync.yaml").write_text(
        "konvsync: 1\ngroups:\n  - {externalId: a, name: A}\n", encoding="utf-8"
    )
    workflow = tmp_path / "ci.yml"
    workflow.write_text("name: ci\non:\n  push:\n", encoding="utf-8")
    result = invoke(["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert (
        f"{workflow}:2:1: on: unknown key ('on' was unexpected, which YAML reads as True)"
        in result.stderr
    ), result.stderr
    assert "True: unknown key" not in result.stderr


def test_a_custom_field_key_refused_as_yaml_read_it_is_its_entry_s_only_problem(
    tmp_path: Path,
) -> None:
    """A key YAML reads as another number or a boolean (``010:`` is 8,
    ``on:`` is true) is refused at its place, and its value is then checked
    against no field: it was, against the field the key names only as YAML
    read it, and a second problem named that field as YAML read the key
    ("custom field 8 is written 0123", "custom field True is written yes")."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\n"
        "accountFields:\n"
        '  - {key: "8", label: Eight, type: TEXT}\n'
        "accounts:\n"
        "  - externalId: acme\n"
        "    name: ACME\n"
        "    customFields:\n"
        "      010: 0123\n"
        "      on: yes\n"
    )
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    problems = [line for line in result.stderr.splitlines() if line.startswith(str(config))]
    assert [line.split(":")[1:3] for line in problems] == [["8", "7"], ["9", "7"]], result.stderr
    assert "custom field key is written 010" in problems[0]
    assert "custom field key is written on" in problems[1]


@pytest.mark.parametrize("written", ["True", "FALSE", "true"])
def test_a_yaml_boolean_for_a_field_the_portal_defines_is_taken_as_before(
    tmp_path: Path, written: str
) -> None:
    """A custom field defined in the portal only (``--allow-external-refs``,
    or another team's under ``policy.scope``) has a type validate cannot
    know: ``True`` and ``FALSE`` are the booleans true and false there, as
    they were before they were named as written for the fields the config
    defines (where a TEXT field would get "true" in their place)."""
    config = tmp_path / "konvsync.yaml"
    config.write_text(
        "konvsync: 1\n"
        "accounts:\n"
        "  - externalId: acme\n"
        "    name: ACME\n"
        "    customFields:\n"
        f"      active: {written}\n"
    )
    result = invoke(["validate", "--allow-external-refs", str(config)])
    assert result.exit_code == 0, result.output


def test_lists_nested_too_deeply_to_compare_are_a_problem_not_a_crash(
    write_config: Callable[..., Path],
) -> None:
    """Two lists nested some hundreds of levels deep (fewer than YAML reads)
    where items must differ: jsonschema's ``uniqueItems`` compares them
    recursively and ran out of stack ("unexpected RecursionError ... please
    report it")."""
    deep = "[" * 400 + "]" * 400
    config = write_config(
        f"konvsync: 1\ngroups:\n  - {{externalId: g1, name: One, permissions: [{deep}, {deep}]}}\n"
    )
    result = invoke(["validate", str(config)])
    assert result.exit_code == 1, result.output
    assert "unexpected" not in result.stderr, result.stderr
    assert f"{config.name}:1:1: a value is nested too deeply to check" in result.output
