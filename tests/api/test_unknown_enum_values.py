"""A portal whose enums have values the contract does not list (a
``Permission`` or ``AccountFieldType`` added after it): in the schema only,
konvsync works as on the contract's portal; in an answer, konvsync cannot
show or keep the object whole (the configuration cannot name the value, so
an update of the group's permissions would drop it), so it stops before
writing anything and says why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from konvsync.support.resources import konvert_sdl
from tests.api.test_input_check import taken_whole
from tests.conftest import SandboxFactory, invoke

ConfigWriter = Callable[..., Path]
NEWER = (
    konvert_sdl()
    .replace("  VIEW_ACCOUNT_USERS\n", "  VIEW_ACCOUNT_USERS\n  MANAGE_EVENTS\n", 1)
    .replace("  SELECT\n", "  SELECT\n  MULTI_SELECT\n", 1)
)
CONFIG = """\
    konvsync: 1
    policy: {prune: [groups, accountFields], max_delete_percent: 100}
    groups:
      - {externalId: sales, name: Sales team, permissions: [MANAGE_NEWS]}
      - {externalId: support, name: Support}
    accountFields: [{key: tier, label: Tier, type: TEXT}]
    """


def test_values_in_the_schema_only_change_nothing(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter
) -> None:
    assert "MANAGE_EVENTS" in NEWER and "MULTI_SELECT" in NEWER
    sandbox = sandbox_factory(sdl=NEWER)
    config = write_config(CONFIG)
    taken_whole(sandbox, config)


@pytest.mark.parametrize("held_by", ["group", "account field"])
def test_an_object_holding_a_value_the_contract_does_not_list_stops_every_command(
    sandbox_factory: SandboxFactory, write_config: ConfigWriter, held_by: str
) -> None:
    """Before: the same stop, worded as for a broken answer ("is
    "MANAGE_EVENTS" (a string), not a value of enum Permission!"), which
    did not say the portal may simply be newer nor why konvsync stops."""
    sandbox = sandbox_factory(sdl=NEWER)
    if held_by == "group":
        sandbox.store.create(
            "groups",
            {"externalId": "sales", "name": "Sales", "permissions": ["MANAGE_EVENTS"]},
        )
        where, value, enum = "groups.nodes[0].permissions[0]", "MANAGE_EVENTS", "Permission"
    else:
        sandbox.store.create(
            "accountFields",
            {"key": "colours", "label": "Colours", "type": "MULTI_SELECT", "options": ["red"]},
        )
        where, value, enum = "accountFields.nodes[0].type", "MULTI_SELECT", "AccountFieldType"
    before = {k: sandbox.store.objects(k) for k in ("groups", "accountFields")}
    config = write_config(CONFIG)
    out = str(config.parent / "exported")
    for command in (["plan", config], ["apply", config, "--auto-approve"], ["drift", config]):
        result = invoke(["--endpoint", sandbox.url, *map(str, command)])
        assert result.exit_code == 1, result.output
        assert (
            f'{where} is "{value}", a value of enum {enum} the contract does not list (is the '
            "portal newer than this konvsync?): konvsync does not act on an answer it cannot "
            "read whole"
        ) in result.stderr, result.stderr
        assert "Traceback" not in result.output
    exported = invoke(["--endpoint", sandbox.url, "export", "--out", out])
    assert exported.exit_code == 1, exported.output
    assert "the contract does not list" in exported.stderr
    assert not (config.parent / "exported" / "konvsync.yaml").exists()
    assert {k: sandbox.store.objects(k) for k in before} == before
