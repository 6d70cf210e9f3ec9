"""Diffing in memory (issue 5): 50,000 unchanged users plus 5,000 accounts
with a location each must take under 2 s on the project's 2-core machine.

    python benchmarks/diff_bench.py [--users 50000] [--accounts 5000] [--changed 0]

Builds the desired state through the real config loader and the remote state
through the real normalizer (from API-shaped nodes), then times
``diff_state`` alone and prints the figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from konvsync.config.loader import load_config
from konvsync.plan.diff import diff_state
from konvsync.plan.remote import normalize_nodes


def config_text(users: int, accounts: int, groups: int) -> str:
    lines = ["konvsync: 1", "accountFields:", "  - {key: tier, label: Tier, type: TEXT}", "groups:"]
    lines += [
        f"  - {{externalId: g{i}, name: G{i}, permissions: [VIEW_ACCOUNT_USERS]}}"
        for i in range(groups)
    ]
    lines.append("accounts:")
    lines += [
        f"  - {{externalId: a{i}, name: A{i}, userGroups: [g{i % groups}], "
        f"customFields: {{tier: gold}}, locations: [{{name: HQ, phone: '{i}'}}]}}"
        for i in range(accounts)
    ]
    lines.append("users:")
    lines += [
        f"  - {{email: U{i}@example.com, firstName: F{i}, lastName: L, title: T, "
        f"account: a{i % accounts}, groups: [g{i % groups}]}}"
        for i in range(users)
    ]
    return "\n".join(lines) + "\n"


def remote_nodes(
    users: int, accounts: int, groups: int, changed: int
) -> dict[str, list[dict[str, Any]]]:
    group_nodes = [
        {
            "id": f"grp_{i}",
            "externalId": f"g{i}",
            "name": f"G{i}",
            "permissions": ["VIEW_ACCOUNT_USERS"],
        }
        for i in range(groups)
    ]
    account_nodes = [
        {
            "id": f"acc_{i}",
            "externalId": f"a{i}",
            "name": f"A{i}",
            "website": None,
            "userGroups": [{"id": f"grp_{i % groups}", "externalId": f"g{i % groups}"}],
            "customFields": [{"key": "tier", "value": "gold"}],
            "locations": [{"id": f"loc_{i}", "name": "HQ", "phone": str(i), "address": None}],
        }
        for i in range(accounts)
    ]
    user_nodes = [
        {
            "id": f"usr_{i}",
            "email": f"u{i}@example.com",
            "firstName": f"F{i}",
            "lastName": "L",
            "title": "T" if i >= changed else "Old",
            "account": {"id": f"acc_{i % accounts}", "externalId": f"a{i % accounts}"},
            "groups": [{"id": f"grp_{i % groups}", "externalId": f"g{i % groups}"}],
        }
        for i in range(users)
    ]
    return {"groups": group_nodes, "accounts": account_nodes, "users": user_nodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--changed", type=int, default=0, help="users whose title differs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "portal.yaml"
        path.write_text(config_text(args.users, args.accounts, args.groups))
        desired = load_config(str(path))
    remote = normalize_nodes(remote_nodes(args.users, args.accounts, args.groups, args.changed))
    started = time.perf_counter()
    changes = diff_state(desired, remote)
    seconds = time.perf_counter() - started
    objects = args.users + 2 * args.accounts + args.groups
    print(
        f"diff: {objects:,} objects ({args.users:,} users, {args.accounts:,} accounts with a "
        f"location, {args.groups} groups), {len(changes)} changes: {seconds:.3f} s "
        "(target < 2 s for 0 changes)"
    )


if __name__ == "__main__":
    main()
