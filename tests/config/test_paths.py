"""Which files a config folder means (``config/paths.py``), through the CLI:
symlinked folders are followed (loops and second links read once), the
extension matches in any case, and every file that looks like config but is
not read is named; ``validate`` and ``plan`` say how many files they read.

Issue 23, item 1: a folder with ``prune: [users]`` whose users partly sit in
a symlinked folder validated with fewer users, and ``apply`` deleted the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke

USERS = 32
MOVED = 7


def _user(i: int) -> str:
    return f"  - {{email: u{i:02}@example.test, firstName: F{i}, lastName: L{i}}}\n"


def _portal_with_a_linked_team(tmp_path: Path) -> Path:
    """portal/konvsync.yaml (25 users, prune users) and portal/teams ->
    ../shared-teams/ holding the other 7."""
    portal = tmp_path / "portal"
    portal.mkdir()
    head = "konvsync: 1\npolicy:\n  prune: [users]\nusers:\n"
    kept = "".join(_user(i) for i in range(USERS - MOVED))
    (portal / "konvsync.yaml").write_text(head + kept, encoding="utf-8")
    shared = tmp_path / "shared-teams"
    shared.mkdir()
    moved = "".join(_user(i) for i in range(USERS - MOVED, USERS))
    (shared / "team.yaml").write_text("users:\n" + moved, encoding="utf-8")
    (portal / "teams").symlink_to("../shared-teams", target_is_directory=True)
    return portal


def _users_in(sandbox: RunningSandbox) -> list[str]:
    nodes = sandbox.store.page("users", 100, None)["nodes"]
    return sorted(node["email"] for node in nodes)


def test_users_in_a_symlinked_folder_are_read_and_never_pruned(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    flat = tmp_path / "flat.yaml"
    flat.write_text("konvsync: 1\nusers:\n" + "".join(_user(i) for i in range(USERS)))
    created = invoke(["--endpoint", sandbox.url, "apply", str(flat), "--auto-approve"])
    assert created.exit_code == 0, created.output
    portal = _portal_with_a_linked_team(tmp_path)

    valid = invoke(["validate", str(portal)])
    assert valid.exit_code == 0, valid.output
    assert f"valid ({USERS} users); 2 files read." in valid.stdout

    applied = invoke(["--endpoint", sandbox.url, "apply", str(portal), "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert "No changes." in applied.stdout, applied.output
    assert "Config: 2 files read" in applied.stderr
    assert len(_users_in(sandbox)) == USERS

    planned = invoke(["--endpoint", sandbox.url, "plan", str(portal), "--detailed-exitcode"])
    assert planned.exit_code == 0 and "No changes." in planned.stdout, planned.output


def test_yaml_extensions_match_in_any_case(tmp_path: Path) -> None:
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "konvsync.yaml").write_text("konvsync: 1\n")
    (portal / "users.YAML").write_text("users:\n" + _user(1))
    (portal / "groups.Yml").write_text("groups:\n  - {externalId: g, name: G}\n")
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert "valid (1 groups, 1 users); 3 files read." in result.stdout
    assert "warning" not in result.stderr


def test_files_that_look_like_config_are_named_not_skipped_silently(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    portal = tmp_path / "portal"
    (portal / ".drafts").mkdir(parents=True)
    (portal / "konvsync.yaml").write_text("konvsync: 1\nusers:\n" + _user(1))
    leftovers = ["users.yaml~", ".users.yaml.swp", "users.yml.bak", "#users.yaml#", "users.json"]
    for name in [*leftovers, ".hidden.yaml", "README.md", "notes.txt"]:
        (portal / name).write_text("users:\n" + _user(2))
    (portal / ".drafts" / "next.yaml").write_text("users:\n" + _user(3))
    (portal / ".git").mkdir()
    (portal / ".git" / "config.yml").write_text("x: 1\n")

    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert "valid (1 users); 1 file read." in result.stdout
    named = [line for line in result.stderr.splitlines() if ": warning: not read: " in line]
    for name in [*leftovers, ".hidden.yaml", ".drafts"]:
        assert any(line.startswith(f"{portal / name}:") for line in named), (name, named)
    assert len(named) == len(leftovers) + 2, named  # README.md, notes.txt and .git: no word

    planned = invoke(["--endpoint", sandbox.url, "plan", str(portal)])
    assert planned.exit_code == 0, planned.output
    assert f"Warning: {portal / 'users.yaml~'}:1:1: not read:" in planned.stdout
    assert "Config: 1 file read" in planned.stderr


def test_link_loops_and_second_links_are_read_once_and_named(tmp_path: Path) -> None:
    portal = tmp_path / "portal"
    (portal / "groups").mkdir(parents=True)
    (portal / "konvsync.yaml").write_text("konvsync: 1\n")
    (portal / "groups" / "a.yaml").write_text("groups:\n  - {externalId: a, name: A}\n")
    (portal / "groups" / "up").symlink_to("..", target_is_directory=True)
    (portal / "again").symlink_to("groups", target_is_directory=True)
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert "valid (1 groups); 2 files read." in result.stdout
    assert f"{portal / 'groups' / 'up'}:1:1: warning: not read: a link back to" in result.stderr
    assert f"{portal / 'again'}:1:1: warning: not read: the same folder as" in result.stderr


def test_a_file_reached_through_a_link_too_is_read_once_and_named(tmp_path: Path) -> None:
    """As a folder reached twice: the file itself is read, the link to it named
    (before, both were read and every object in it was a duplicate key)."""
    portal = tmp_path / "portal"
    (portal / "shared").mkdir(parents=True)
    (portal / "konvsync.yaml").write_text("konvsync: 1\n")
    (portal / "shared" / "groups.yaml").write_text("groups:\n  - {externalId: a, name: A}\n")
    (portal / "a-groups.yaml").symlink_to("shared/groups.yaml")  # sorts before its target
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert "valid (1 groups); 2 files read." in result.stdout
    shared = portal / "shared" / "groups.yaml"
    assert (
        f"{portal / 'a-groups.yaml'}:1:1: warning: not read: the same file as {shared}, "
        "which is read once" in result.stderr
    )


def test_verbose_lists_every_file_read(tmp_path: Path) -> None:
    portal = _portal_with_a_linked_team(tmp_path)
    result = invoke(["-v", "validate", str(portal)])
    assert result.exit_code == 0, result.output
    listed = [line for line in result.stderr.splitlines() if "config file: " in line]
    assert listed == [
        f"INFO konvsync.config: config file: {portal / 'konvsync.yaml'}",
        f"INFO konvsync.config: config file: {portal / 'teams' / 'team.yaml'}",
    ]


def test_a_folder_with_only_files_not_read_says_which(tmp_path: Path) -> None:
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "users.yaml.orig").write_text("konvsync: 1\n")
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 1
    assert "no *.yaml or *.yml files in this directory (not read: " in result.stderr
    assert "users.yaml.orig" in result.stderr


def test_a_file_not_read_is_named_beside_the_problems_it_may_cause(tmp_path: Path) -> None:
    """A group defined in an editor's leftover copy is not read: the user it
    should serve refers to an unknown group, and the warning that names the
    leftover stands beside that error (it was dropped when the config was
    invalid, where it matters most)."""
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "users.yaml").write_text(
        "konvsync: 1\nusers:\n"
        "  - {email: u@example.test, firstName: F, lastName: L, groups: [sales]}\n",
        encoding="utf-8",
    )
    (portal / "groups.yaml~").write_text(
        "groups:\n  - {externalId: sales, name: Sales}\n", encoding="utf-8"
    )
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    warned = [line for line in lines if "groups.yaml~:1:1: warning: not read" in line]
    assert warned, result.stderr
    assert any("'sales'" in line and "users.yaml:3:" in line for line in lines), result.stderr
    assert lines.index(warned[0]) < len(lines) - 1
    assert lines[-1].startswith("Error: configuration invalid")


def test_a_link_that_leads_nowhere_stops_the_run_and_nothing_is_pruned(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """``teams -> ../shared-teams`` when the shared folder is not there (a
    submodule not checked out, a moved folder) or the link loops: konvsync
    cannot tell whether it held config, and skipped it without a word, so
    apply deleted the 7 users it holds. Now an error naming the link."""
    flat = tmp_path / "flat.yaml"
    flat.write_text("konvsync: 1\nusers:\n" + "".join(_user(i) for i in range(USERS)))
    created = invoke(["--endpoint", sandbox.url, "apply", str(flat), "--auto-approve"])
    assert created.exit_code == 0, created.output
    portal = _portal_with_a_linked_team(tmp_path)
    (tmp_path / "shared-teams" / "team.yaml").unlink()
    (tmp_path / "shared-teams").rmdir()  # the link now leads nowhere
    (portal / "loop").symlink_to("loop")
    for args in (
        ["validate", str(portal)],
        ["--endpoint", sandbox.url, "apply", str(portal), "--auto-approve"],
    ):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert f"{portal / 'loop'}: a symbolic link konvsync cannot follow" in result.stderr, (
            result.output
        )
        assert f"{portal / 'teams'}: a symbolic link konvsync cannot follow" in result.stderr
    assert len(_users_in(sandbox)) == USERS


def test_a_file_name_that_is_not_utf8_is_named_not_an_unexpected_error(tmp_path: Path) -> None:
    """A config file whose name is not UTF-8 (bytes 0xff 0xfe, which Python
    holds as lone surrogates) ended validate, plan and apply in "unexpected
    UnicodeEncodeError" (the config's digest, the output, the report)."""
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "konvsync.yaml").write_text("konvsync: 1\ngroups: [{externalId: a, name: A}]\n")
    bad = os.fsdecode(b"\xff\xfe.yaml")
    (portal / bad).write_text("groups: [{externalId: b, name: B}]\n")
    for args in (["validate", str(portal)], ["validate", str(portal / bad)]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert "unexpected" not in result.output
        assert result.stderr == (
            f"Error: {portal}/\\udcff\\udcfe.yaml: the file name is not UTF-8 text, and "
            "konvsync names the files it reads in its output: rename it\n"
        ), result.output


def test_a_very_deep_folder_is_read_not_an_unexpected_error(tmp_path: Path) -> None:
    """1,100 folders deep (short names keep the path under PATH_MAX): the
    walk went one Python frame per folder and validate ended in
    "unexpected RecursionError"; a hidden folder that deep, in the check
    that names it, too."""
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "konvsync.yaml").write_text("konvsync: 1\n")
    made: list[Path] = []
    try:
        for top in ("a", ".h"):
            deep = portal / top
            deep.mkdir()
            made.append(deep)
            for _level in range(1100):  # os.makedirs recurses too
                deep /= "a"
                deep.mkdir()
                made.append(deep)
            (deep / "g.yaml").write_text(f"groups: [{{externalId: g{top}, name: G}}]\n")
            made.append(deep / "g.yaml")
        result = invoke(["validate", str(portal)])
    finally:  # deepest first: pytest's clean-up (shutil.rmtree) recurses too
        for path in reversed(made):
            path.unlink() if path.suffix else path.rmdir()
    assert result.exit_code == 0, result.output
    assert "valid (1 groups); 2 files read." in result.stdout
    assert f"{portal / '.h'}:1:1: warning: not read: a hidden folder" in result.stderr


def test_a_hidden_file_or_folder_read_through_a_link_is_not_named_as_not_read(
    tmp_path: Path,
) -> None:
    """``users.yaml -> .users.yaml`` and ``teams -> .teams`` (a checkout
    keeping the real files out of sight): both are read, through the links,
    and the warnings said ".users.yaml: not read: a hidden file" and
    ".teams: not read: a hidden folder". A hidden folder read only in part
    (a link to a folder inside it) is still named."""
    portal = tmp_path / "portal"
    (portal / ".teams").mkdir(parents=True)
    (portal / "konvsync.yaml").write_text("konvsync: 1\n")
    (portal / ".users.yaml").write_text("users:\n" + _user(1))
    (portal / "users.yaml").symlink_to(".users.yaml")
    (portal / ".teams" / "groups.yaml").write_text("groups: [{externalId: a, name: A}]\n")
    (portal / "teams").symlink_to(".teams", target_is_directory=True)
    (portal / ".more" / "inner").mkdir(parents=True)
    (portal / ".more" / "inner" / "g.yaml").write_text("groups: [{externalId: b, name: B}]\n")
    (portal / ".more" / "left.yaml").write_text("groups: [{externalId: c, name: C}]\n")
    (portal / "inner").symlink_to(".more/inner", target_is_directory=True)
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert "valid (2 groups, 1 users); 4 files read." in result.stdout
    assert result.stderr == f"{portal / '.more'}:1:1: warning: not read: a hidden folder\n"


def test_an_empty_config_path_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``konvsync apply base "$OVERLAY"`` with the variable unset: the empty
    path was the current folder, read as one more config path (every YAML
    file below it), and validate said "valid"."""
    (tmp_path / "konvsync.yaml").write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    base = tmp_path / "base"
    base.mkdir()
    (base / "konvsync.yaml").write_text("konvsync: 1\n")
    monkeypatch.chdir(tmp_path)
    for args in (
        ["validate", ""],
        ["--endpoint", "http://127.0.0.1:1", "plan", str(base), ""],
        ["--endpoint", "http://127.0.0.1:1", "apply", "", "--auto-approve"],
        ["--endpoint", "http://127.0.0.1:1", "drift", ""],
        ["--endpoint", "http://127.0.0.1:1", "doctor", "--config", ""],
    ):
        result = invoke(args)
        assert result.exit_code == 1, (args, result.output)
        assert ": the path is empty" in result.stderr, (args, result.output)
        assert "cannot reach" not in result.output


def test_a_config_path_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    """A name over the file system's 255 bytes (a variable pasted twice into
    the path): "unexpected OSError: [Errno 36] File name too long"."""
    long_name = str(tmp_path / ("a" * 300))
    (tmp_path / "konvsync.yaml").write_text("konvsync: 1\n")
    for args in (["validate", long_name], ["validate", str(tmp_path), long_name]):
        result = invoke(args)
        assert result.exit_code == 1, result.output
        assert result.stderr == f"Error: {long_name}: File name too long\n", result.output


def test_a_file_whose_path_is_too_long_to_open_is_one_line(tmp_path: Path) -> None:
    """A folder deep enough that it can be listed but the path of a file in
    it is over PATH_MAX (4,096 bytes on Linux): the file cannot be opened by
    its path. validate ended in "unexpected OSError: [Errno 36] File name too
    long ... please report it"; it is one line naming the file."""
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "konvsync.yaml").write_text("konvsync: 1\n")
    deep, fd = portal, os.open(portal, os.O_RDONLY)
    try:
        while len(str(deep)) < 3800:  # made relative to a folder: the paths get too long
            os.mkdir("d" * 200, dir_fd=fd)
            below = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            deep, fd = deep / ("d" * 200), below
        name = "g" * 250 + ".yaml"
        written = os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
        os.write(written, b"groups: [{externalId: g, name: G}]\n")
        os.close(written)
    finally:
        os.close(fd)
    assert len(str(deep / name)) > 4096
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and "unexpected" not in result.stderr, result.output
    assert result.stderr.startswith(f"Error: {deep / name}: "), result.output
    assert result.stderr.endswith(": File name too long\n"), result.output


def test_konvsyncs_own_folder_with_the_editor_schema_is_not_named_as_config(
    tmp_path: Path,
) -> None:
    """The README's editor set-up (``mkdir -p .konvsync && konvsync schema >
    .konvsync/schema.json``) and the embedded sandbox (``.konvsync/
    sandbox.db``), run in a config folder, made every validate and plan of
    it warn ".konvsync: not read: a hidden folder" (for the schema's
    .json), and a plan that deletes say so again beside its deletes.
    ``.konvsync`` is konvsync's own folder: what konvsync writes there is
    not config. A YAML file put there is still named."""
    portal = tmp_path / "portal"
    (portal / ".konvsync").mkdir(parents=True)
    (portal / "konvsync.yaml").write_text("konvsync: 1\nusers:\n" + _user(1))
    schema = invoke(["schema"])
    (portal / ".konvsync" / "schema.json").write_text(schema.stdout)
    (portal / ".konvsync" / "overlay.schema.json").write_text(schema.stdout)
    (portal / ".konvsync" / "sandbox.db").write_bytes(b"")

    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "", result.stderr

    (portal / ".konvsync" / "users.yaml").write_text("users:\n" + _user(2))
    result = invoke(["validate", str(portal)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"{portal / '.konvsync'}:1:1: warning: not read: a hidden folder\n"
