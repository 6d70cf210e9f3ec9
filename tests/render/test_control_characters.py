"""Keys and values from the portal reach the terminal and the review page
with their control characters escaped, in every human-readable format."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from konvsync.render.values import show
from konvsync.sandbox.server import RunningSandbox
from konvsync.support.redact import _CONTROL, printable
from tests.conftest import invoke
from tests.hostile.server import Call, Case, Json, running_hostile_server

EVIL_KEY = "evil\x1b]0;owned\x07\x1b[2J"
EVIL_NAME = "name\x9b31m\u202egnp.exe\r\nPlan: 0 to add"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_plan_escapes_control_characters_from_the_portal(
    sandbox: RunningSandbox, write_config: Callable[..., Path], fmt: str
) -> None:
    sandbox.store.create("groups", {"externalId": EVIL_KEY, "name": EVIL_NAME})
    sandbox.store.create("groups", {"externalId": "kept", "name": EVIL_NAME})
    config = write_config("""\
        konvsync: 1
        policy: {prune: [groups]}
        groups: [{externalId: kept, name: Kept}]
        """)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", fmt])
    assert result.exit_code == 0, result.output
    for char in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert char not in result.output
    if fmt == "json":
        data = json.loads(result.stdout)
        assert {change["key"] for change in data["changes"]} == {EVIL_KEY, "kept"}
        return
    assert "evil\\x1b]0;owned\\x07\\x1b[2J" in result.stdout
    assert "\\x9b31m\\u202egnp.exe" in result.stdout
    assert "\nPlan: 0 to add" not in result.stdout.replace("Plan: 0 to add, 1", "")
    if fmt == "text":
        assert "  # groups/evil\\x1b]0;owned\\x07\\x1b[2J will be destroyed" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_plan_shows_invisible_characters_in_keys_and_values(
    sandbox: RunningSandbox, write_config: Callable[..., Path], fmt: str
) -> None:
    """A zero-width space, a word joiner, a soft hyphen or a BOM in a key
    showed as nothing: ``groups/sales\u200b`` read ``groups/sales`` in the
    plan a reviewer approves. The joiners of emoji sequences stay."""
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: "sales\\u200b", name: "Sales\\u2060\\xadTeam\\ufeff"}
          - {externalId: family, name: "\U0001f468\u200d\U0001f469\u200d\U0001f467"}
        """)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", fmt])
    assert result.exit_code == 0, result.output
    for char in ("\u200b", "\u2060", "\xad", "\ufeff"):
        assert char not in result.stdout
    assert "groups/sales\\u200b" in result.stdout
    if fmt == "text":  # the Markdown plan names the objects only
        assert "Sales\\u2060\\xadTeam\\ufeff" in result.stdout
        assert "\U0001f468\u200d\U0001f469" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plan_escapes_the_arabic_letter_mark_and_invisible_operators(
    sandbox: RunningSandbox, write_config: Callable[..., Path], fmt: str
) -> None:
    """The Arabic letter mark (U+061C) is a bidirectional control as LRM and
    RLM are (the Trojan Source list), and the invisible operators (U+2061 to
    U+2064), the Mongolian vowel separator, the deprecated format characters
    and the interlinear annotation characters show as nothing:
    ``groups/sales\u061c`` read ``groups/sales``. The JSON plan holds the same
    values, escaped."""
    config = write_config("""\
        konvsync: 1
        groups:
          - {externalId: "sales\\u061c", name: "Sales\\u2061\\u2062\\u2063\\u2064\\u180e\\ufff9Team\\u206a"}
        """)  # noqa: E501
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", fmt])
    assert result.exit_code == 0, result.output
    for char in "\u061c\u2061\u2062\u2063\u2064\u180e\ufff9\u206a":
        assert char not in result.stdout, repr(char)
    if fmt == "text":
        assert "groups/sales\\u061c" in result.stdout
        assert "Sales\\u2061\\u2062\\u2063\\u2064\\u180e\\ufff9Team\\u206a" in result.stdout
    else:
        created = json.loads(result.stdout)["changes"][0]
        assert created["key"] == "sales\u061c", created
        assert created["after"]["name"] == "Sales\u2061\u2062\u2063\u2064\u180e\ufff9Team\u206a"


SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
"""An emoji tag sequence: a black flag, the tag letters "gbsct", a cancel tag."""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plan_escapes_tag_characters_outside_an_emoji_flag(
    sandbox: RunningSandbox, write_config: Callable[..., Path], fmt: str
) -> None:
    """Tag characters (U+E0000 to U+E007F) show as nothing: ``sales``
    followed by the tag letters "ok" read ``groups/sales``, and text can
    hide in them. Only inside a subdivision flag (a black flag, the tag
    letters of a region and a subdivision code, a cancel tag) do they stay;
    a longer sequence behind a black flag is escaped. The JSON plan holds the same values (the tags
    as surrogate-pair escapes, which JSON decoders read as one character)."""
    hidden = "".join(f"\\U{0xE0000 + ord(c):08x}" for c in "gbsctpassword")
    config = write_config(f"""\
        konvsync: 1
        groups:
          - {{externalId: "sales\\U000e006f\\U000e006b", name: "Team \\U000e007f{SCOTLAND}"}}
          - {{externalId: flagged, name: "\\U0001f3f4{hidden}\\U000e007f"}}
        """)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "\U000e006f" not in result.stdout and "\U000e006b" not in result.stdout
    assert result.stdout.count("\U000e007f") == result.stdout.count(SCOTLAND) == 1
    assert "\U000e0070" not in result.stdout  # the "p" of a longer sequence than a flag has
    if fmt == "text":
        assert "groups/sales\\U000e006f\\U000e006b" in result.stdout
        assert f"Team \\U000e007f{SCOTLAND}" in result.stdout
    else:
        assert "sales\\udb40\\udc6f\\udb40\\udc6b" in result.stdout
        created = json.loads(result.stdout)["changes"][0]
        assert created["key"] == "sales\U000e006f\U000e006b", created
        assert created["after"]["name"] == f"Team \U000e007f{SCOTLAND}"


class EvilUrl(Case):
    """Invite link creates are answered with a URL holding terminal escapes
    (the URL is the portal's, shown by apply for every link it creates)."""

    name = "invite-link-url-with-escapes"

    def answer(self, call: Call, answer: Json) -> Json:
        if call.operation == "CreateInviteLinkBatch":
            for value in (answer.get("data") or {}).values():
                if isinstance(value, dict):
                    value["url"] = f"https://portal.example/join/{EVIL_KEY}"
        return answer


def test_apply_escapes_the_urls_it_announces(
    sandbox: RunningSandbox, write_config: Callable[..., Path]
) -> None:
    config = write_config("""\
        konvsync: 1
        inviteLinks: [{title: Dealers, access: OPEN}]
        """)
    with running_hostile_server(sandbox.url, EvilUrl()) as portal:
        result = invoke(["--endpoint", portal.endpoint(), "apply", str(config), "--auto-approve"])
        happened = portal.rewritten
    assert happened, "the case never happened"
    assert result.exit_code == 0, result.output
    for char in ("\x1b", "\x07"):
        assert char not in result.output
    assert "url https://portal.example/join/evil\\x1b]0;owned\\x07\\x1b[2J" in result.stdout


@settings(max_examples=300, deadline=None)
@example("tab\tDEL\x7f")
@example(["tab\tDEL\x7f"])
@given(
    st.one_of(
        st.text(),
        st.lists(st.text(), max_size=4),
        st.lists(st.one_of(st.text(), st.integers(), st.none(), st.booleans()), max_size=3),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    )
)
def test_a_value_shows_as_its_json_with_control_characters_escaped(value: object) -> None:
    """``show`` writes a string and a list of strings itself (a user's
    groups, 10,000 of them in a cold apply's plan; an ASCII string without
    the escaping pass): as the JSON encoder would, then escaped."""
    encoded = json.dumps(value, ensure_ascii=False, sort_keys=True)
    assert show(value) == printable(encoded)


def test_no_character_printable_escapes_is_one_isprintable_accepts() -> None:
    """``printable`` passes a text that ``str.isprintable`` accepts as it is,
    without the search of its pattern: that holds only while no character
    the pattern finds (C0 and C1 controls, DEL, bidirectional and invisible
    characters, tags, lone surrogates) is printable."""
    found = [char for char in map(chr, range(sys.maxunicode + 1)) if _CONTROL.search(char)]
    assert len(found) > 200
    assert [char for char in found if char.isprintable()] == []


def test_markdown_shows_portal_text_in_warnings_and_reasons_as_text_not_markup(
    sandbox_factory: Callable[..., RunningSandbox], write_config: Callable[..., Path]
) -> None:
    """Warnings and a refusal's reason stand outside the comment's code
    blocks, and they quote the portal: a key such as ``ann<!--@...`` opened
    an HTML comment there that hid the rest of the review comment (every
    change listed below it) from the reviewer on GitHub and GitLab."""
    sandbox = sandbox_factory(portal_name="Prod <!-- *x*")
    store = sandbox.store
    group = store.create("groups", {"externalId": "dist-g", "name": "Dist"})
    for email in ("bob@dist.example", "ann<!--@dealer.example", "[cy](x)@dealer.example"):
        store.create(
            "users",
            {"email": email, "firstName": "F", "lastName": "L", "groupIds": [group["id"]]},
            None,
            {"sendWelcomeEmail": False},
        )
    config = write_config("""\
        konvsync: 1
        policy:
          scope: {groups: ["dist-*"], users: ["*@dist.example"]}
        groups:
          - {externalId: dist-team, renamedFrom: dist-g, name: Dist}
        users:
          - {email: bob@dist.example, firstName: F, lastName: L, groups: [dist-team]}
        """)
    result = invoke(["--endpoint", sandbox.url, "plan", str(config), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stdout.splitlines() if "outside policy.scope" in line)
    assert "<" not in warning and "[cy](x)" not in warning, warning
    assert "ann&lt;!--@dealer.example" in warning and "\\[cy\\](x)@dealer.example" in warning
    guarded = write_config("konvsync: 1\nportal: Staging\ngroups: [{externalId: g, name: G}]\n")
    refused = invoke(["--endpoint", sandbox.url, "plan", str(guarded), "--format", "markdown"])
    assert refused.exit_code == 3, refused.output
    reason = next(line for line in refused.stdout.splitlines() if "**Refused:**" in line)
    assert "<" not in reason and "*x*" not in reason, reason
    assert "Prod &lt;!-- \\*x\\*" in reason
