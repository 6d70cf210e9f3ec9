"""``dump_list`` writes most entries without libyaml (``written_plainly``);
what it writes must be byte for byte what libyaml writes, and read back by
konvsync's loader as the value given, for every string a portal may hold
and for everything the fuzz suite generates."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from konvsync.config.substitution import escape
from konvsync.config.yaml_dump import EnvReference, dump, dump_list, plain, written_plainly
from konvsync.config.yaml_loader import load_yaml
from tests.fuzz.strategies import POOL, from_schema

TRICKY = [
    "yes", "No", "on", "~", "null", "NULL", "", " ", "12", "-3", "0x1F", "0o7", "1_000", "1e3",
    ".5", ".inf", ".NaN", "2024-01-02", "2024-01-02 10:00:00", "<<", "=", "-", "- a", "-a",
    "?x", "? x", ":x", "a:", "a: b", "a:b", "a #b", "a#b", "#x", "&a", "*a", "!x", "|", ">",
    "'q'", '"q"', "%x", "@x", "`x", "[x]", "{x}", "x,y", "...", "...x", "---", "--x", "a  b",
    " lead", "trail ", "tab\there", "line\nbreak", "nel\x85x", "ls\u2028x", "nbsp\xa0x",
    "zw\u200bx", "\u0430cme", "Müller", "東京", "emoji \U0001f600", "\ufeffbom", "soft\xadhyphen",
    "${env:HOME}", "$${x}", "$", "C#", "http://acme.example/a?b=c#d", "O'Brien", "x" * 130,
    ("word " * 30).strip(), "\\back", "e\u0301", "\ue000mark\ue001",
]  # fmt: skip
"""Strings near every rule of ``plain``, and some no rule lets through."""

TEXT = st.one_of(
    st.sampled_from(TRICKY + POOL),
    st.text(max_size=12),
    st.text(st.sampled_from("aZ0 :#-'\"$%{}[],.?!&*|>@`~\\\t\xe9\u200b\u0430"), max_size=10),
    st.from_regex(r"[A-Za-z][A-Za-z0-9 .@/+()-]{0,40}", fullmatch=True),
)
SCALAR = st.one_of(
    TEXT,
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    TEXT.map(EnvReference),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
ENTRY = st.dictionaries(TEXT, VALUE, min_size=1, max_size=6)


def loaded(text: str) -> Any:
    return load_yaml(text, "export.yaml").data


def escaped(value: Any) -> Any:
    """``value`` as the loader reads it back: ``${`` escaped as ``$${``."""
    if isinstance(value, EnvReference):
        return str(value)
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {escaped(key): escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escaped(item) for item in value]
    return value


def same_as_libyaml(entries: list[dict[str, Any]]) -> None:
    text = dump_list("users", entries)
    assert text == dump({"users": entries})
    for entry in entries:
        plainly = written_plainly(entry)
        assert plainly is None or plainly == dump([entry])


@settings(max_examples=600, deadline=None)
@given(st.lists(ENTRY, min_size=1, max_size=4))
def test_entries_are_written_as_libyaml_writes_them(entries: list[dict[str, Any]]) -> None:
    same_as_libyaml(entries)


@settings(max_examples=200, deadline=None)
@given(from_schema())
def test_what_the_fuzz_suite_generates_is_written_as_libyaml_writes_it(document: Any) -> None:
    for name, items in document.items() if isinstance(document, dict) else ():
        entries = [i for i in items if isinstance(i, dict) and i] if isinstance(items, list) else []
        if entries:
            same_as_libyaml(entries)
            assert loaded(dump_list(name, entries)) == {name: escaped(entries)}


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_a_plain_string_reads_back_as_itself(text: str) -> None:
    written = escape(text)  # as the loader reads it back, before substitution
    if plain(written) and len(f"- key: {written}") <= 120:  # longer lines break at a space
        assert loaded(f"- key: {written}\n") == [{"key": written}]
        assert dump([{"key": text}]) == f"- key: {written}\n"


def test_a_portals_usual_objects_are_written_without_libyaml() -> None:
    user = {
        "email": "jane.doe@acme.example",
        "firstName": "Jane",
        "lastName": "Müller-Lüdenscheidt",
        "title": "VP Sales (EMEA)",
        "account": "acme-corp",
        "groups": ["sales-east", "portal_admins"],
    }
    account = {
        "externalId": "acme",
        "name": "ACME Corp.",
        "website": "https://acme.example/partners?region=eu",
        "customFields": {"account_number": "A-1001", "tier": "Gold"},
        "locations": [{"name": "HQ", "phone": "+1 555 0100", "address": {"city": "Köln"}}],
    }
    for entry in (user, account):
        assert written_plainly(entry) == dump([entry])
    assert written_plainly({"title": "yes"}) is None  # quoted by libyaml
    for long_key in ("k" * 128, "k" * 129, "é" * 64, "é" * 65):  # 128 bytes at most
        same_as_libyaml([{"customFields": {long_key: "x"}}])
    assert written_plainly({"name": "zero\u200bwidth"}) is None  # escaped by libyaml


def test_every_item_of_a_list_is_held_to_the_line_width() -> None:
    """libyaml folds a long plain string at a space past 120 columns, in any
    item of a list; ``written_plainly`` once checked only the last item's
    line, and wrote a long first item on one line."""
    long_text = ("option " * 27).strip()
    for items in ([long_text, "short"], ["short", long_text, "other"], [long_text]):
        same_as_libyaml([{"key": "k", "options": items}])
        assert loaded(dump_list("accountFields", [{"options": items}])) == {
            "accountFields": [{"options": items}]
        }
