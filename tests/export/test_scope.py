"""``konvsync export --scope``: only what a scope owns, with the scope in
konvsync.yaml, so that the export plans as "No changes." and prunes nothing
of anyone else's; bad values and a kept policy with another scope are
refused before anything is read or written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from konvsync.app.seeding import seed_store
from konvsync.kinds import TOP_LEVEL_KINDS
from konvsync.sandbox.server import RunningSandbox
from tests.conftest import invoke

PORTAL = """\
konvsync: 1
groups:
  - {externalId: staff, name: Staff}
  - {externalId: dealer-sales, name: Dealer sales}
accounts:
  - {externalId: hq, name: HQ, locations: [{name: Head office}]}
  - {externalId: dealer-1, name: Dealer One, userGroups: [dealer-sales], locations: [{name: Main}]}
  - {externalId: dist-1, name: Dist One}
users:
  - {email: boss@hq.example, firstName: B, lastName: Oss, account: hq, groups: [staff]}
  - {email: ann@dealer.example, firstName: Ann, lastName: Lee, account: dealer-1, groups: [staff]}
  - {email: bob@dist.example, firstName: Bob, lastName: Ray, account: dist-1}
"""


def test_export_writes_what_a_scope_owns(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    seed_store(sandbox.store, str(write_config(PORTAL, "seed.yaml")))
    out = tmp_path / "team-a"
    scope = ["--scope", "accounts=dealer-*", "--scope", "users.account=dealer-*"]
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), *scope])
    assert result.exit_code == 0, result.output
    assert "Exported 1 accounts, 1 users" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["accounts.yaml", "konvsync.yaml", "users.yaml"]
    header = yaml.safe_load((out / "konvsync.yaml").read_text())
    assert header["policy"] == {
        "scope": {"accounts": ["dealer-*"], "users": {"account": ["dealer-*"]}}
    }
    accounts = yaml.safe_load((out / "accounts.yaml").read_text())["accounts"]
    assert accounts == [
        {
            "externalId": "dealer-1",
            "name": "Dealer One",
            "userGroups": ["dealer-sales"],
            "locations": [{"name": "Main"}],
        }
    ]
    users = yaml.safe_load((out / "users.yaml").read_text())["users"]
    assert [u["email"] for u in users] == ["ann@dealer.example"]

    plan = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert plan.exit_code == 0 and "No changes." in plan.stdout, plan.output
    # With pruning on, the export still deletes nothing of anyone else's.
    (out / "konvsync.yaml").write_text(
        (out / "konvsync.yaml")
        .read_text()
        .replace("policy:\n", "policy:\n  prune: [accounts, users]\n")
    )
    pruned = invoke(["--endpoint", sandbox.url, "plan", str(out), "--detailed-exitcode"])
    assert pruned.exit_code == 0 and "No changes." in pruned.stdout, pruned.output


def test_exclude_and_every_kind_named(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    seed_store(sandbox.store, str(write_config(PORTAL, "seed.yaml")))
    result = invoke(
        [
            "--endpoint",
            sandbox.url,
            "export",
            "--scope",
            "groups=*",
            "--scope",
            "groups.exclude=staff",
            "--kinds",
            "groups,accountFields",
        ]
    )
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert document["policy"] == {"scope": {"groups": {"externalId": ["*"], "exclude": ["staff"]}}}
    assert [g["externalId"] for g in document["groups"]] == ["dealer-sales"]
    assert document["accountFields"] == []  # named by --kinds, owned whole


def test_bad_scope_values_are_usage_errors(sandbox: RunningSandbox) -> None:
    for value, message in [
        ("accounts", "--scope 'accounts': give KIND=GLOB, KIND.FIELD=GLOB or KIND.exclude=GLOB"),
        ("locations=x", "(locations follow their account's scope)"),
        ("widgets=x", f"(KIND one of {', '.join(k.name for k in TOP_LEVEL_KINDS)})"),
        ("users.title=x", "--scope 'users.title=x': users are scoped by email, account, exclude"),
    ]:
        result = invoke(["--endpoint", sandbox.url, "export", "--scope", value])
        assert result.exit_code == 1 and message in result.stderr, (value, result.output)
    assert sandbox.state.requests["/api"] == 0  # refused before anything was read
    both = invoke(
        ["--endpoint", sandbox.url, "export", "--scope", "users=*", "--target", "users/x"]
    )
    assert both.exit_code == 1 and "does not go with --out, --kinds or --scope" in both.stderr


def test_a_kept_policy_must_have_the_same_scope(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    seed_store(sandbox.store, str(write_config(PORTAL, "seed.yaml")))
    out = tmp_path / "team-a"
    out.mkdir()
    kept = "konvsync: 1\npolicy:\n  prune: [accounts]  # ours\n  scope:\n    accounts: [dealer-*]\n"
    (out / "konvsync.yaml").write_text(kept)
    other = invoke(
        [
            "--endpoint",
            sandbox.url,
            "export",
            "--out",
            str(out),
            "--force",
            "--scope",
            "accounts=dist-*",
        ]
    )
    assert other.exit_code == 1
    assert (
        f"{out / 'konvsync.yaml'}: --force keeps its policy, and its policy.scope (accounts "
        "['dealer-*']) is not --scope (accounts ['dist-*']); nothing was written" in other.stderr
    )
    assert (out / "konvsync.yaml").read_text() == kept and sorted(out.iterdir()) == [
        out / "konvsync.yaml"
    ]
    same = invoke(
        [
            "--endpoint",
            sandbox.url,
            "export",
            "--out",
            str(out),
            "--force",
            "--scope",
            "accounts=dealer-*",
        ]
    )
    assert same.exit_code == 0, same.output
    written = (out / "konvsync.yaml").read_text()
    assert written.count("policy:") == 1 and "prune: [accounts]  # ours" in written
    plan = invoke(["--endpoint", sandbox.url, "plan", str(out)])
    assert plan.exit_code == 0 and "No changes." in plan.stdout, plan.output


def test_a_kept_scope_without_scope_is_refused(
    sandbox: RunningSandbox, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """``export --force`` into a team's folder without ``--scope`` kept its
    policy.scope and wrote every team's objects under it: a configuration
    that lists what it does not own (validate and plan fail on it). It is
    refused as a different --scope is, before anything is written."""
    seed_store(sandbox.store, str(write_config(PORTAL, "seed.yaml")))
    out = tmp_path / "team-a"
    out.mkdir()
    kept = "konvsync: 1\npolicy:\n  prune: [accounts]\n  scope:\n    accounts: [dealer-*]\n"
    (out / "konvsync.yaml").write_text(kept)
    result = invoke(["--endpoint", sandbox.url, "export", "--out", str(out), "--force"])
    assert result.exit_code == 1, result.output
    assert (
        f"{out / 'konvsync.yaml'}: --force keeps its policy, and its policy.scope (accounts "
        "['dealer-*']) is not --scope (none); nothing was written" in result.stderr
    )
    assert (out / "konvsync.yaml").read_text() == kept and sorted(out.iterdir()) == [
        out / "konvsync.yaml"
    ]
