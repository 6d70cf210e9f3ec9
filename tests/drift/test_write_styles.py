"""``drift --write`` on YAML written by hand in styles export never writes:
comments on a key's line or after a block scalar's indicator, a key with
nothing after it, maps and lists in flow style over several lines, an
explicit document end (``...``). Only the drifted values change."""

from __future__ import annotations

from pathlib import Path

from konvsync.sandbox.server import RunningSandbox
from tests.drift.portal import HandEdits
from tests.drift.test_writeback import accepted, one_file


def test_a_comment_on_the_key_line_of_a_value_written_again_stays_there(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A block list or map written again in flow style (every item dropped),
    or a list that loses its last object, took the comment on its key's line
    with it, and the last item's comment took its place
    (``users: []   # only one``)."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    customFields:   # the values
      tier: gold    # the tier
groups:
  - externalId: g1
    name: G1
    permissions:   # who may
      - VIEW_ACCOUNT_USERS   # view
users:   # the team
  - {email: a@acme.example, firstName: A, lastName: Ay}   # only one
""",
    )
    portal = HandEdits(sandbox)
    portal.update_account("acme", customFields=[{"key": "region", "value": "west"}])
    portal.update_group("g1", permissions=["MANAGE_NEWS"])
    portal.delete_user("a@acme.example")
    assert accepted(sandbox, path) == (
        """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    customFields: {region: west}   # the values
groups:
  - externalId: g1
    name: G1
    permissions: [MANAGE_NEWS]   # who may
users: []   # the team
"""
    )


def test_a_list_emptied_and_given_new_objects_keeps_its_key_comment(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\r\npolicy: {prune: [groups]}\r\ngroups:   # the teams\r\n"
        "  - externalId: old   # leaving\r\n    name: Old\r\n",
    )
    portal = HandEdits(sandbox)
    portal.delete_group("old")
    portal.create_group(externalId="new", name="New")
    accepted(sandbox, path)
    assert path.read_bytes().decode() == (
        "konvsync: 1\r\npolicy: {prune: [groups]}\r\ngroups:   # the teams\r\n"
        "  - externalId: new\r\n    name: New\r\n"
    )


def test_a_kind_added_to_a_file_with_an_explicit_document_end_goes_before_it(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A new kind's list was appended after the file's ``...``, where YAML
    expects another document: --write refused (exit 1, "did not find
    expected <document start>")."""
    path = one_file(
        sandbox,
        tmp_path,
        "---\nkonvsync: 1\npolicy: {prune: [groups]}\n...\n# the end\n",
    )
    HandEdits(sandbox).create_group(externalId="new", name="New")
    assert accepted(sandbox, path) == (
        "---\nkonvsync: 1\npolicy: {prune: [groups]}\ngroups:\n  - externalId: new\n"
        "    name: New\n...\n# the end\n"
    )


def test_a_key_written_with_nothing_after_it_gets_the_portal_value(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``title:`` with nothing after it (null) was given the portal's value
    without a space (``title:D``): libyaml marks a plain scalar's style
    ``''``, not None, and the edited file did not load (exit 1, nothing
    written). A map's key written so stays where the portal lacks it."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    customFields:
      tier: gold
      region:
users:
  - email: d@acme.example
    firstName: D
    lastName: Dee
    title:
  - {email: e@acme.example, firstName: E, lastName: Eee}
""",
    )
    portal = HandEdits(sandbox)
    portal.update_user("d@acme.example", title="Lead")
    portal.update_account("acme", customFields=[{"key": "tier", "value": "silver"}])
    written = accepted(sandbox, path)
    assert "    title: Lead\n" in written, written
    assert "      tier: silver\n      region:\n" in written, written


def test_an_empty_list_given_objects_keeps_its_comment_on_the_key_line(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``groups: []   # none yet`` given a group created in the portal: the
    comment ended on the new group's last line (``name: NG   # none yet``)."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\npolicy: {prune: [groups]}\ngroups: []   # none yet\nusers: []\n",
    )
    HandEdits(sandbox).create_group(externalId="ng", name="NG")
    assert accepted(sandbox, path) == (
        "konvsync: 1\npolicy: {prune: [groups]}\ngroups:   # none yet\n"
        "  - externalId: ng\n    name: NG\nusers: []\n"
    )


def test_a_block_scalar_written_again_keeps_the_comment_on_its_indicator_line(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``title: |  # shown on the card`` given a new value lost its comment:
    it stood between the ``|`` and the text, both replaced."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
users:
  - email: c@acme.example
    firstName: C
    lastName: Cee
    title: |-  # shown on the card
      Head of
      Sales
  - email: d@acme.example
    firstName: D
    lastName: >   # family name
      Dee
""",
    )
    portal = HandEdits(sandbox)
    portal.update_user("c@acme.example", title="CEO")
    portal.update_user("d@acme.example", lastName="Doe")
    written = accepted(sandbox, path)
    assert "    title: |-  # shown on the card\n      CEO\n  - email" in written, written
    assert written.endswith("    lastName: >   # family name\n      Doe\n"), written


def test_a_block_scalar_given_a_new_value_stays_a_block(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A ``|`` block given a value of several lines became one quoted line
    (``title: "Head of\\nMarketing"``): its lines are written again under its
    indicator, at their indentation, in the file's line breaks. A folded
    block (``>``) joins lines, so a value of several lines is quoted there."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\r\nusers:\r\n  - email: c@acme.example\r\n    firstName: C\r\n"
        "    lastName: Cee\r\n    title: |\r\n        Head of\r\n        Sales\r\n\r\n"
        "  - email: d@acme.example\r\n    firstName: D\r\n    lastName: Dee\r\n"
        "    title: >-\r\n      Lead\r\n",
    )
    portal = HandEdits(sandbox)
    portal.update_user("c@acme.example", title="Head of\n  Field\n\nMarketing")
    portal.update_user("d@acme.example", title="Team\nLead")
    accepted(sandbox, path)
    assert path.read_bytes().decode() == (
        "konvsync: 1\r\nusers:\r\n  - email: c@acme.example\r\n    firstName: C\r\n"
        "    lastName: Cee\r\n    title: |\r\n        Head of\r\n          Field\r\n\r\n"
        "        Marketing\r\n\r\n"
        "  - email: d@acme.example\r\n    firstName: D\r\n    lastName: Dee\r\n"
        '    title: "Team\\nLead"\r\n'
    )


def test_a_block_scalar_with_an_indentation_indicator_keeps_its_lines_value(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """With an indentation indicator (``|2``) the block's lines start that
    many columns after its key, not where its first old line did: a first
    line written with more spaces gave every new line those spaces, and
    ``drift --write`` stopped (exit 1) on a value it had read right. The
    same for a custom field's value and an address part."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\naccountFields:\n  - {key: tier, label: Tier, type: TEXT}\n"
        "accounts:\n  - externalId: acme\n    name: ACME\n    customFields:\n"
        "      tier: |1\n         gold\n        plus\n    locations:\n      - name: HQ\n"
        "        address:\n          street: |2-  # two lines\n              Main 1\n"
        "            Floor 2\n          city: Paris\n"
        "users:\n  - email: c@acme.example\n    firstName: C\n    lastName: Cee\n"
        "    title: |2\n        Head\n      of\n",
    )
    portal = HandEdits(sandbox)
    portal.update_account("acme", customFields=[{"key": "tier", "value": "silver\nplus"}])
    portal.update_location("acme", "HQ", address={"street": "Main 2\nFloor 3", "city": "Paris"})
    portal.update_user("c@acme.example", title="Team\n  Lead")
    assert accepted(sandbox, path).endswith(
        "    customFields:\n      tier: |1\n       silver\n       plus\n    locations:\n"
        "      - name: HQ\n        address:\n          street: |2-  # two lines\n"
        "            Main 2\n            Floor 3\n          city: Paris\n"
        "users:\n  - email: c@acme.example\n    firstName: C\n    lastName: Cee\n"
        "    title: |2\n      Team\n        Lead\n"
    )


def test_a_block_scalar_on_the_last_line_without_a_line_break_is_edited(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A block scalar ending the file without a final line break stopped
    ``drift --write`` with an internal error (IndexError)."""
    path = one_file(
        sandbox,
        tmp_path,
        "konvsync: 1\nusers:\n  - email: c@acme.example\n    firstName: C\n"
        "    lastName: Cee\n    title: |\n      Head\n      of",
    )
    HandEdits(sandbox).update_user("c@acme.example", title="Team\nLead")
    assert accepted(sandbox, path).endswith("    title: |\n      Team\n      Lead")


def test_a_map_in_flow_style_keeps_its_key_order_and_quoting(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A map written in flow style was written again whole in the portal's
    key order (``{tier: gold, region: east}`` became ``{region: east, tier:
    silver}``), its quotes lost: a value that changes is now edited in place,
    and a map that gains or loses keys keeps the order of those it keeps."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
  - {key: size, label: Size, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    customFields: {tier: 'gold', region: east}   # values
    locations:
      - name: HQ
        address: {street: 1 Main St, city: "Springfield", country: US}
  - {externalId: beta, name: Beta, customFields: {tier: gold, region: east, size: S}}
""",
    )
    portal = HandEdits(sandbox)
    portal.update_account(
        "acme",
        customFields=[{"key": "region", "value": "east"}, {"key": "tier", "value": "silver"}],
    )
    portal.update_location(
        "acme", "HQ", address={"country": "US", "street": "1 Main St", "city": "Shelbyville"}
    )
    portal.update_account(
        "beta",
        customFields=[{"key": "size", "value": "L"}, {"key": "tier", "value": "gold"}],
    )
    written = accepted(sandbox, path)
    assert "    customFields: {tier: 'silver', region: east}   # values\n" in written, written
    assert '        address: {street: 1 Main St, city: "Shelbyville", country: US}\n' in written
    assert "customFields: {tier: gold, size: L}}\n" in written, written


def test_a_list_in_flow_style_loses_and_gains_items_in_place(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A list of values in flow style written one item a line, each with its
    comment, was written again on one line (``permissions: [MANAGE_NEWS,
    VIEW_PORTAL_METRIC_REPORTS]``): its layout and comments were lost. Items
    now leave it and join it in place."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
groups:
  - externalId: staff
    name: Staff
    permissions: [
      VIEW_ACCOUNT_USERS,   # everyone
      MANAGE_NEWS,          # the comms team
      MANAGE_USERS          # HR
    ]
  - {externalId: b, name: B, permissions: [MANAGE_NEWS, MANAGE_USERS, MANAGE_DAMS]}  # b
""",
    )
    portal = HandEdits(sandbox)
    portal.update_group(
        "staff", permissions=["MANAGE_NEWS", "VIEW_PORTAL_METRIC_REPORTS", "VIEW_ACCOUNT_USERS"]
    )
    portal.update_group("b", permissions=["MANAGE_USERS", "MANAGE_ACCOUNTS"])
    assert accepted(sandbox, path) == (
        """\
konvsync: 1
groups:
  - externalId: staff
    name: Staff
    permissions: [
      VIEW_ACCOUNT_USERS,   # everyone
      MANAGE_NEWS, VIEW_PORTAL_METRIC_REPORTS,          # the comms team
    ]
  - {externalId: b, name: B, permissions: [MANAGE_USERS, MANAGE_ACCOUNTS]}  # b
"""
    )


def test_a_map_value_written_as_nothing_gets_the_portal_value(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A map's key with nothing after it (``region:``, ``{tier: gold,
    region: }``, ``{tier: gold, region}``) given a value in the portal: the
    value was put after the field's own key (``customFields: west``), and
    the edited file did not load (exit 1, "would leave the configuration
    invalid", nothing written). In flow style this worked before a flow
    map was edited in place."""
    path = one_file(
        sandbox,
        tmp_path,
        """\
konvsync: 1
accountFields:
  - {key: tier, label: Tier, type: TEXT}
  - {key: region, label: Region, type: TEXT}
accounts:
  - externalId: acme
    name: ACME
    customFields:
      tier: gold
      region:
  - {externalId: beta, name: Beta, customFields: {tier: gold, region: }}
  - {externalId: gamma, name: Gamma, customFields: {tier: gold, region}}
""",
    )
    portal = HandEdits(sandbox)
    west = [{"key": "tier", "value": "gold"}, {"key": "region", "value": "west"}]
    for key in ("acme", "beta", "gamma"):
        portal.update_account(key, customFields=west)
    written = accepted(sandbox, path)
    assert "      tier: gold\n      region: west\n" in written, written
    assert "customFields: {tier: gold, region: west }}\n" in written, written
    assert "customFields: {tier: gold, region: west}}\n" in written, written
