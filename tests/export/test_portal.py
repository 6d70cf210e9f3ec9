"""``konvsync export`` through the CLI: round trip, stability, keyless objects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from konvsync.app.seeding import seed_store
from konvsync.kinds import TOP_LEVEL_KINDS
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import KEY, SECRET, invoke
from tests.hostile.legal_cases import TitlesBlank
from tests.hostile.server import running_hostile_server

EVERY_KIND = """\
konvsync: 1
groups:
  - {externalId: sales, name: Sales, permissions: [VIEW_ACCOUNT_USERS, MANAGE_USERS],
     lmsModules: [sales-training, onboarding], damCategories: [price-lists]}
  - {externalId: empty, name: Nobody}
accountFields:
  - {key: tier, label: Tier, type: SELECT, options: [silver, gold], required: true}
  - {key: since, label: Since, type: DATE}
  - {key: vip, label: VIP, type: BOOLEAN}
accounts:
  - externalId: acme
    name: ACME
    website: https://acme.example
    userGroups: [sales]
    customFields: {tier: gold, since: "2020-02-02", vip: true}
    locations:
      - {name: HQ, phone: "+1 555", address: {street: 1 Main, city: Springfield, country: US}}
      - {name: Annex}
  - {externalId: bare, name: Bare, customFields: {tier: silver}}
users:
  - {email: Jane.Doe@Acme.example, firstName: Jane, lastName: Doe, title: VP, account: acme,
     groups: [sales]}
  - {email: solo@x.example, firstName: Solo, lastName: User}
inviteLinks:
  - {title: Dealer sign-up, access: CODE, code: Seed-Code-77, expiresAt: 2027-06-30,
     account: acme, allowedEmailDomains: [acme.example], groups: [sales], redirectPath: /lms}
  - {title: Walk-in, access: OPEN, active: false, accountMatchField: tier}
"""
CODE_ENV = {"INVITE_CODE_1": "Seed-Code-77"}


def test_export_then_plan_has_no_changes(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["konvsync.yaml", *(f"{k.name}.yaml" for k in TOP_LEVEL_KINDS)]
    )
    exported = {"groups": 2, "accountFields": 3, "accounts": 2, "users": 2, "inviteLinks": 2}
    counts = ", ".join(f"{exported.get(k.name, 0)} {k.name}" for k in TOP_LEVEL_KINDS)
    assert f"Exported {counts} to " in result.stderr  # every kind, one more kind included
    assert "Seed-Code-77" not in "".join(p.read_text() for p in out.iterdir())
    links_text = (out / "inviteLinks.yaml").read_text()
    assert "code: ${env:INVITE_CODE_1}  # sensitive" in links_text
    assert "# url: https://sandbox.konvert.invalid/join/" in links_text
    links = yaml.safe_load(links_text)["inviteLinks"]
    assert links[0]["expiresAt"] == "2027-06-30T00:00:00Z"
    assert links[1] == {
        "title": "Walk-in",
        "access": "OPEN",
        "active": False,
        "accountMatchField": "tier",
    }
    groups = yaml.safe_load((out / "groups.yaml").read_text())["groups"]
    assert groups[1]["lmsModules"] == ["onboarding", "sales-training"]
    users = yaml.safe_load((out / "users.yaml").read_text())["users"]
    assert users[0]["email"] == "Jane.Doe@Acme.example"  # as the portal spells it
    assert "title" not in users[1] and "account" not in users[1]  # defaults left out
    fields = yaml.safe_load((out / "accountFields.yaml").read_text())["accountFields"]
    # The portal's defaults (Field.export_default: options [], required false) are left out.
    assert {f["key"]: f for f in fields}["since"] == {
        "key": "since",
        "label": "Since",
        "type": "DATE",
    }
    assert {f["key"]: f for f in fields}["tier"]["required"] is True
    accounts = yaml.safe_load((out / "accounts.yaml").read_text())["accounts"]
    assert [loc["name"] for loc in accounts[0]["locations"]] == ["Annex", "HQ"]
    assert accounts[0]["locations"][1] == {
        "name": "HQ",
        "phone": "+1 555",
        "address": {"street": "1 Main", "city": "Springfield", "country": "US"},
    }  # no "account": a location is written inside its account
    assert accounts[0]["customFields"] == {"since": "2020-02-02", "tier": "gold", "vip": "true"}
    header_text = (out / "konvsync.yaml").read_text()
    assert "#   INVITE_CODE_1: code of invite link 'Dealer sign-up'" in header_text
    header = yaml.safe_load(header_text)
    # Where the config format names the variables it may read, the export declares them.
    assert header.pop("variables", ["INVITE_CODE_1"]) == ["INVITE_CODE_1"]
    assert header == {"konvsync": 1, "endpoint": sandbox.url, "portal": "Konvsync Sandbox"}
    plan = invoke(
        ["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"], env=CODE_ENV
    )
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.stdout
    assert invoke(["validate", str(out)], env=CODE_ENV).exit_code == 0


def test_second_export_is_byte_identical(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    first = invoke(["--endpoint", sandbox.url, "export"])
    second = invoke(["--endpoint", sandbox.url, "export"])
    assert first.exit_code == 0 and first.stdout == second.stdout
    document = yaml.safe_load(first.stdout)
    assert [g["externalId"] for g in document["groups"]] == ["empty", "sales"]
    assert document["groups"][1]["permissions"] == ["MANAGE_USERS", "VIEW_ACCOUNT_USERS"]


def test_objects_without_a_key_become_comments_with_a_warning(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    store = sandbox.store
    legacy = store.create("groups", {"name": "Legacy", "permissions": ["MANAGE_NEWS"]})
    store.create(
        "users",
        {"email": "u@x.example", "firstName": "U", "lastName": "V", "groupIds": [legacy["id"]]},
    )
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0
    assert "Warning: group grp_1 ('Legacy') has no externalId" in result.stderr
    assert "konvsync then adopts it by name" in result.stderr
    text = (out / "groups.yaml").read_text()
    assert "# group grp_1 has no externalId; to adopt it, add it above with one:" in text
    assert yaml.safe_load(text) == {"groups": []}
    assert "users" not in yaml.safe_load((out / "users.yaml").read_text())["users"][0]
    assert "refers to group grp_1, which has no natural key" in result.stderr
    # to stdout, where no groups.yaml is written, the warning names none
    printed = invoke(["--endpoint", sandbox.url, "export"])
    assert printed.exit_code == 0
    assert "# group grp_1 has no externalId; to adopt it" in printed.stdout
    assert (
        "Warning: group grp_1 ('Legacy') has no externalId: written as a comment under "
        "groups; to manage it"
    ) in printed.stderr
    assert ".yaml" not in printed.stderr


def test_kinds_filter_and_errors(sandbox: RunningSandbox) -> None:
    sandbox.store.create("groups", {"externalId": "g", "name": "G"})
    only = invoke(["--endpoint", sandbox.url, "export", "--kinds", "groups"])
    assert only.exit_code == 0
    assert set(yaml.safe_load(only.stdout)) == {"konvsync", "endpoint", "portal", "groups"}
    bad = invoke(["--endpoint", sandbox.url, "export", "--kinds", "groups,widgets"])
    assert bad.exit_code == 1 and "unknown kind(s) widgets" in bad.stderr


def test_unwritable_output_is_one_line_and_writes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(blocker / "out")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {blocker / 'out'}")
    assert "nothing was written" in result.stderr and "Traceback" not in result.output
    config = tmp_path / "c.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    planned = invoke(
        ["--endpoint", sandbox.url, "plan", str(config), "--out", str(blocker / "plan.json")]
    )
    assert planned.exit_code == 1 and "cannot write" in planned.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_into_a_config_folder_needs_force_and_keeps_the_policy(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "portal"
    out.mkdir()
    header = (
        "konvsync: 1\n"
        "endpoint: production\n"
        "policy:\n"
        "  # keep the admins\n"
        "  prune: [groups]\n"
        "  protect: {groups: [sales]}\n"
        "\n"
        "groups: []\n"
    )
    (out / "konvsync.yaml").write_text(header)
    (out / "extra.yaml").write_text("users: []\n")
    before = {p.name: p.read_text() for p in out.iterdir()}
    refused = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert refused.exit_code == 1
    assert f"Error: {out} holds konvsync configuration (extra.yaml, konvsync.yaml)" in (
        refused.stderr
    )
    assert "Nothing was written" in refused.stderr
    assert {p.name: p.read_text() for p in out.iterdir()} == before

    forced = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    written = (out / "konvsync.yaml").read_text()
    assert "  # keep the admins\n  prune: [groups]\n  protect: {groups: [sales]}\n" in written
    assert yaml.safe_load(written)["policy"] == {
        "prune": ["groups"],
        "protect": {"groups": ["sales"]},
    }
    assert "also holds extra.yaml, which the export did not write" in forced.stderr
    (out / "extra.yaml").unlink()
    plan = invoke(
        ["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"], env=CODE_ENV
    )
    assert plan.exit_code == 0, plan.output


def test_export_target_prints_one_object(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    user = invoke(["--endpoint", sandbox.url, "export", "--target", "users/JANE.DOE@acme.example"])
    assert user.exit_code == 0, user.output
    assert yaml.safe_load(user.stdout) == {
        "users": [
            {
                "email": "Jane.Doe@Acme.example",
                "firstName": "Jane",
                "lastName": "Doe",
                "title": "VP",
                "account": "acme",
                "groups": ["sales"],
            }
        ]
    }
    account = invoke(["--endpoint", sandbox.url, "export", "--target", "accounts/acme"])
    assert account.exit_code == 0, account.output
    (acme,) = yaml.safe_load(account.stdout)["accounts"]
    assert [loc["name"] for loc in acme["locations"]] == ["Annex", "HQ"]
    missing = invoke(["--endpoint", sandbox.url, "export", "--target", "groups/nope"])
    assert missing.exit_code == 1
    assert "Error: --target 'groups/nope': the portal has no group 'nope'" in missing.stderr
    bad = invoke(["--endpoint", sandbox.url, "export", "--target", "locations/acme/HQ"])
    assert bad.exit_code == 1 and "give KIND/KEY" in bad.stderr
    link = invoke(["--endpoint", sandbox.url, "export", "--target", "inviteLinks/Dealer sign-up"])
    assert link.exit_code == 0, link.output
    assert "code: ${env:INVITE_CODE_1}" in link.stdout
    assert (
        "Warning: sensitive values are not exported: ${env:INVITE_CODE_1} stands for the code "
        "of invite link 'Dealer sign-up'"
    ) in link.stderr, link.stderr
    assert "Seed-Code" not in link.output


def test_export_refuses_every_file_plan_would_read(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """export looked for ``*.yaml`` and ``*.yml`` itself: ``Users.YAML`` and a
    symlinked ``teams`` folder, which plan reads, did not count, so it wrote
    over a folder holding configuration (and plan then found every user twice)."""
    shared = tmp_path / "shared-teams"
    shared.mkdir()
    (shared / "team.yaml").write_text("users: []\n")
    for name, make in (
        ("Users.YAML", lambda out: (out / "Users.YAML").write_text("users: []\n")),
        ("teams", lambda out: (out / "teams").symlink_to(shared, target_is_directory=True)),
    ):
        out = tmp_path / f"out-{name}"
        out.mkdir()
        make(out)
        refused = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
        assert refused.exit_code == 1, refused.output
        assert f"Error: {out} holds konvsync configuration" in refused.stderr
        assert sorted(p.name for p in out.iterdir()) == [name]


def test_export_names_the_folder_as_given_with_one_slash(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """The README's `export --out portal/`: the summary says "to portal/",
    not "to portal//"."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = f"{tmp_path / 'exported'}/"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", out], env=CODE_ENV)
    assert result.exit_code == 0, result.output
    assert f" to {out} (6 files)." in result.stderr
    assert "//" not in result.stderr


def test_export_without_an_endpoint_names_only_what_export_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """export reads no config: "or 'endpoint:' in the config" sent users to
    a setting export never looks at."""
    monkeypatch.delenv("KONVSYNC_ENDPOINT", raising=False)
    result = invoke(["export"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: no endpoint: set --endpoint or KONVSYNC_ENDPOINT "
        "(production, staging, sandbox or a URL)"
    ]


def test_written_files_get_the_umask_or_keep_their_mode(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """Export, ``plan --out`` and ``apply --report`` wrote every file 0600
    (their temporary file's mode), whatever the umask: an exported config
    teammates or a CI user read was unreadable to them, and ``--force``
    changed the mode of the files it replaced."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "exported"
    out.mkdir()
    (out / "konvsync.yaml").write_text("konvsync: 1\n")
    (out / "konvsync.yaml").chmod(0o640)
    previous = os.umask(0o022)
    try:
        forced = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
        planned = invoke(
            ["--endpoint", sandbox.url, "plan", str(out), "--out", str(tmp_path / "p.json")],
            env=CODE_ENV,
        )
    finally:
        os.umask(previous)
    assert forced.exit_code == 0, forced.output
    assert planned.exit_code == 0, planned.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert modes.pop("konvsync.yaml") == 0o640  # replaced, its mode kept
    assert set(modes.values()) == {0o644}, modes
    assert (tmp_path / "p.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away"
)
def test_replaced_files_keep_their_owner(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """Run as root (a CI container writing a checkout mounted from the
    host), ``export --force`` and ``plan --out`` replaced a user's files by
    root's; they keep their owner and group now. New files are the
    writer's."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "exported"
    out.mkdir()
    replaced = [out / "konvsync.yaml", tmp_path / "p.json"]
    for path in replaced:
        path.write_text("{}\n")
        os.chown(path, 4321, 4322)
    forced = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    planned = invoke(
        ["--endpoint", sandbox.url, "plan", str(out), "--out", str(replaced[1])], env=CODE_ENV
    )
    assert planned.exit_code == 0, planned.output
    for path in replaced:
        assert path.read_text() != "{}\n"
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322), path
    assert {p.stat().st_uid for p in out.iterdir() if p.name != "konvsync.yaml"} == {0}


def _user_namespace_works() -> bool:
    """Whether ``unshare -r`` may run a command here (a rootless container)."""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-r", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or not _user_namespace_works(),
    reason="needs root to give a file away, and a user namespace",
)
def test_a_replaced_file_whose_owner_cannot_be_named_is_written_all_the_same(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """Root in a rootless container (a user namespace) sees a mounted
    checkout's files owned by an ID it does not map: setting that owner
    fails with EINVAL, not EPERM, and ``plan --out`` refused to replace the
    file ("Invalid argument; nothing was written"). It is written as the
    writer's own, as when the owner may not be kept."""
    config = write_config("konvsync: 1\naccounts: [{externalId: acme, name: ACME}]\n")
    planfile = tmp_path / "p.json"
    planfile.write_text("{}\n")
    os.chown(planfile, 4321, 4322)
    env = {**os.environ, "KONVERT_API_KEY": KEY, "KONVERT_API_SECRET": SECRET, **CODE_ENV}
    args = ["--endpoint", sandbox.url, "plan", str(config), "--out", str(planfile)]
    command = ["unshare", "-r", sys.executable, "-m", "konvsync", *args]
    planned = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    assert planfile.read_text() != "{}\n"


@pytest.mark.parametrize(
    "policy",
    [
        # a comment at the first column inside the block ended it: protect was dropped
        "policy:\n  prune: [groups]\n# never delete the admins\n  protect: {groups: [sales]}\n",
        # a quoted key was not found: the whole policy was dropped
        '"policy":\n  prune: [groups]\n  protect: {groups: [sales]}\n',
    ],
)
def test_export_force_keeps_the_whole_policy_or_refuses(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path, policy: str
) -> None:
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "portal"
    out.mkdir()
    (out / "konvsync.yaml").write_text("konvsync: 1\n" + policy + "groups: []\n")
    forced = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    written = (out / "konvsync.yaml").read_text()
    if forced.exit_code == 0:
        assert yaml.safe_load(written)["policy"] == {
            "prune": ["groups"],
            "protect": {"groups": ["sales"]},
        }, written
    else:
        assert forced.exit_code == 1, forced.output
        assert "nothing was written" in forced.stderr
        assert written == "konvsync: 1\n" + policy + "groups: []\n"
        assert sorted(p.name for p in out.iterdir()) == ["konvsync.yaml"]


def test_an_export_of_some_kinds_says_what_its_references_need(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """Users exported without the groups and accounts they refer to plan
    clean (the portal has them) but fail an offline validate: export says
    so, and the validate it names passes. An export holding what it refers
    to says nothing of the kind."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "users-only"
    result = invoke(["--endpoint", sandbox.url, "export", "--kinds", "users", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        "Warning: the exported users refer to accounts and groups, which this export leaves "
        "out: validate it with --allow-external-refs (plan checks them against the portal), "
        "or export those kinds too" in result.stderr
    )
    assert invoke(["validate", str(out)]).exit_code == 1
    assert invoke(["validate", "--allow-external-refs", str(out)]).exit_code == 0
    whole = invoke(["--endpoint", sandbox.url, "export", "--out", str(tmp_path / "all")])
    assert whole.exit_code == 0 and "leaves out" not in whole.stderr, whole.output


def test_export_force_into_a_folder_holding_a_fifo_does_not_wait_on_it(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``--force`` reads the folder's files for the keys they name; a FIFO
    there (no regular file, as plan would refuse it) is not opened: opening
    it waited for a writer, and the export hung."""
    import os
    import subprocess
    import sys

    out = tmp_path / "cfg"
    out.mkdir()
    (out / "konvsync.yaml").write_text("konvsync: 1\n", encoding="utf-8")
    os.mkfifo(out / "fifo.yaml")
    env = {
        **os.environ,
        "KONVERT_API_KEY": "sandbox-key",
        "KONVERT_API_SECRET": "sandbox-secret-not-for-production",
        "NO_COLOR": "1",
    }
    args = ["--endpoint", sandbox.url, "export", "--out", str(out), "--force"]
    finished = subprocess.run(
        [sys.executable, "-m", "konvsync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stderr
    assert "fifo.yaml, which the export did not write" in finished.stderr, finished.stderr


def test_emoji_are_written_as_they_are(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """libyaml escapes every character beyond the Basic Multilingual Plane:
    a group named "Launch 🚀" was exported as "Launch \\U0001F680", and
    ``drift --write`` wrote such escapes into a hand-written config."""
    sandbox.store.create("groups", {"externalId": "launch", "name": "Launch 🚀 team"})
    out = tmp_path / "portal"
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    text = (out / "groups.yaml").read_text(encoding="utf-8")
    assert "name: Launch 🚀 team\n" in text and "\\U" not in text, text
    planned = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert planned.exit_code == 0, planned.output
    group = sandbox.store.get("groups", key="launch")
    assert group is not None
    sandbox.store.update("groups", group["id"], {"name": "🚀 Launched"})
    written = invoke(["--endpoint", sandbox.url, "drift", "--write", str(out)])
    assert written.exit_code == 2, written.output
    assert "name: 🚀 Launched\n" in (out / "groups.yaml").read_text(encoding="utf-8")
    again = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert again.exit_code == 0, again.output


def test_export_force_over_a_folder_named_as_a_file_writes_nothing(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """A folder where export writes a file (``users.yaml/``, config split by
    team below it): the files before it in the export were renamed into
    place, konvsync.yaml and its policy replaced, and then the run ended
    "cannot write .users.yaml.x.tmp: Is a directory; nothing was written".
    Now it is refused, naming the folder, before any file is replaced."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "portal"
    (out / "users.yaml").mkdir(parents=True)
    (out / "users.yaml" / "team.yaml").write_text("users: []\n")
    config = "konvsync: 1\npolicy:\n  prune: [groups]\ngroups: []\n"
    (out / "konvsync.yaml").write_text(config)
    forced = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert forced.exit_code == 1, forced.output
    assert forced.stderr == (
        f"Error: cannot write {out / 'users.yaml'}: it is a folder; nothing was written\n"
    )
    assert (out / "konvsync.yaml").read_text() == config
    assert sorted(p.name for p in out.iterdir()) == ["konvsync.yaml", "users.yaml"]


def test_export_force_keeps_the_policy_of_a_file_saved_with_a_bom(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """A konvsync.yaml saved by a Windows editor (a byte-order mark, CRLF)
    whose first key is ``policy``: plan reads it, and ``export --force``
    refused it ("write it as a plain 'policy:' block at the start of a
    line"), the mark standing before ``policy:``."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "portal"
    out.mkdir()
    (out / "konvsync.yaml").write_bytes(
        b"\xef\xbb\xbfpolicy:\r\n  prune: [groups]\r\n  protect: {groups: [sales]}\r\n"
        b"konvsync: 1\r\n"
    )
    assert invoke(["validate", str(out)]).exit_code == 0
    forced = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    written = yaml.safe_load((out / "konvsync.yaml").read_text(encoding="utf-8"))
    assert written["policy"] == {"prune": ["groups"], "protect": {"groups": ["sales"]}}


def test_an_output_name_too_long_is_one_line(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """``export --out`` a name over the file system's 255 bytes: "unexpected
    OSError: [Errno 36] File name too long"; ``plan --out`` says it plainly."""
    config = tmp_path / "c.yaml"
    config.write_text("konvsync: 1\ngroups: [{externalId: g, name: G}]\n")
    long_name = tmp_path / ("a" * 300)
    for args in (
        ["export", "--out", str(long_name)],
        ["plan", str(config), "--out", str(long_name)],
    ):
        result = invoke(["--endpoint", sandbox.url, *args])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error: cannot write {long_name}"), result.output
        assert result.stderr.endswith(": File name too long; nothing was written\n"), result.output


def test_export_force_of_some_kinds_never_drops_another_kind_from_a_file_it_replaces(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """``export --force --kinds users`` into a folder whose konvsync.yaml
    lists the groups (with ``prune: [groups]``): the file was replaced by
    one with the settings and the kept policy only, exit 0 and no word, and
    the next apply deleted every group. Refused now; the same groups in a
    file of their own are left as they are, and the export goes ahead."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "portal"
    out.mkdir()
    settings = "konvsync: 1\npolicy:\n  prune: [groups]\n"
    groups = (
        "groups:\n  - {externalId: sales, name: Sales}\n  - {externalId: empty, name: Nobody}\n"
    )
    (out / "konvsync.yaml").write_text(settings + groups)
    args = ["--endpoint", sandbox.url, "export", "--out", str(out), "--force", "--kinds", "users"]
    refused = invoke(args)
    assert refused.exit_code == 1, refused.output
    assert refused.stderr == (
        f"Error: {out / 'konvsync.yaml'} holds groups, which this export (--kinds users) does "
        "not write: replacing the file would drop them from the configuration (and a pruned "
        "kind's objects from the portal at the next apply); nothing was written. Move them "
        "to a file of their own, or export those kinds too\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["konvsync.yaml"]
    assert (out / "konvsync.yaml").read_text() == settings + groups

    (out / "konvsync.yaml").write_text(settings)
    (out / "groups.yaml").write_text(groups)
    forced = invoke(args)
    assert forced.exit_code == 0, forced.output
    assert (out / "groups.yaml").read_text() == groups
    assert "users:" in (out / "users.yaml").read_text()


def test_export_force_never_drops_a_policy_written_outside_konvsync_yaml(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """``--force`` keeps the policy of konvsync.yaml; one written in another
    file it replaces (users.yaml, beside the users: a configuration may put
    it in any file) was dropped, exit 0 and no word: ``max_delete_percent``,
    ``scope`` and ``prune`` gone from the configuration. Refused now, as a
    kind the export does not write is; moved to konvsync.yaml, it is kept."""
    seed_store(sandbox.store, str(write_config(EVERY_KIND, "seed.yaml")))
    out = tmp_path / "portal"
    out.mkdir()
    policy = "policy:\n  prune: [users]\n  max_delete_percent: 5\n"
    users = "users:\n  - {email: jane@acme.example, firstName: Jane, lastName: Doe}\n"
    (out / "konvsync.yaml").write_text("konvsync: 1\n")
    (out / "users.yaml").write_text(policy + users)
    assert invoke(["validate", str(out)]).exit_code == 0
    args = ["--endpoint", sandbox.url, "export", "--out", str(out), "--force"]
    refused = invoke(args)
    assert refused.exit_code == 1, refused.output
    said = refused.stderr
    assert said.startswith(f"Error: {out / 'users.yaml'} holds the policy"), refused.output
    assert "nothing was written" in refused.stderr, refused.output
    assert sorted(p.name for p in out.iterdir()) == ["konvsync.yaml", "users.yaml"]
    assert (out / "users.yaml").read_text() == policy + users

    (out / "konvsync.yaml").write_text("konvsync: 1\n" + policy)
    (out / "users.yaml").write_text(users)
    forced = invoke(args)
    assert forced.exit_code == 0, forced.output
    assert policy in (out / "konvsync.yaml").read_text()


def test_a_list_that_refers_to_a_keyless_object_is_left_out_whole(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A user or an invite link in a keyless group and a keyed one: the
    export once wrote ``groups: [keyed]``, and the plan of the export then
    took the keyless group away from them (export, then plan, must say
    "No changes"). The list is left out whole: the config leaves it alone."""
    store = sandbox.store
    legacy = store.create("groups", {"name": "Legacy"})
    keyed = store.create("groups", {"externalId": "keyed", "name": "Keyed"})
    both = [legacy["id"], keyed["id"]]
    store.create(
        "users", {"email": "u@x.example", "firstName": "U", "lastName": "V", "groupIds": both}
    )
    store.create("inviteLinks", {"title": "Walk-in", "access": "OPEN", "groupIds": both})
    out = tmp_path / "exported"
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "groups" not in yaml.safe_load((out / "users.yaml").read_text())["users"][0]
    assert "groups" not in yaml.safe_load((out / "inviteLinks.yaml").read_text())["inviteLinks"][0]
    assert (
        "Warning: invite link Walk-in: groups refers to group grp_1, which has no natural "
        "key; its groups are left out of the export (a config made from it leaves them alone)"
    ) in result.stderr
    planned = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert planned.exit_code == 0, planned.output


def test_a_keyless_invite_link_is_written_as_a_comment_without_its_code(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """An invite link whose title is blank (the contract's ``String!`` takes
    one) has no key and is written as a comment: once with its code in
    plain text, where a secret must never go, and a warning that said
    "(None) ... adopts it by name" of a kind without a name."""
    sandbox.store.create("inviteLinks", {"title": "Blank", "access": "CODE", "code": "Kept-4711"})
    out = tmp_path / "exported"
    with running_hostile_server(sandbox.url, TitlesBlank("Blank")) as portal:
        result = invoke(["--endpoint", portal.url, "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "inviteLinks.yaml").read_text()
    assert "# invite link inv_1 has no title; give it one in the portal to manage it:" in text
    assert "#   code: (sensitive)" in text
    written = "".join(path.read_text() for path in out.iterdir())
    assert "Kept-4711" not in written + result.output
    assert (
        "Warning: invite link inv_1 has no title: written as a comment under inviteLinks; "
        "to manage it, give it a title in the portal"
    ) in result.stderr
    assert "None" not in result.stderr
