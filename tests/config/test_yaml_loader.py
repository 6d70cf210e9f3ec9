"""The position-keeping YAML loader means what ``yaml.safe_load`` means
(except that timestamps stay strings), and refuses what it should."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from konvsync.config.yaml_loader import YamlLoadError, YamlMap, load_yaml

SAMPLES = [
    "a: 1\nb: [yes, no, on, off, true, ~, null, 1.5, 0x1F, 1e3, 1.5e+3, '3', \"x\"]\n",
    "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n  z: 4\n",
    "one: &o {a: 1, b: 1}\ntwo: &t {b: 2, c: 2}\nboth:\n  <<: [*o, *t]\n  c: 3\n",
    "one: &o {a: 1}\ntwo: &t {a: 2}\nm:\n  <<: *o\n  <<: *t\n",
    "list: &l [1, 2]\nagain: *l\nnested: {k: [*l, *l]}\n",
    "? complex\n: value\nplain: text with colon\nfolded: >\n  a\n  b\nliteral: |\n  x\n  y\n",
    "explicit: !!str 123\nint: !!int '7'\nempty:\nflow: {a: [1, {b: 2}], c: d}\n",
    "- a\n- - b\n  - c\n- {d: e}\n",
    "just a scalar\n",
    "unicode: caf\u00e9 \u2603\nquoted: 'it''s'\n",
]


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize("text", SAMPLES)
def test_same_meaning_as_safe_load(text: str) -> None:
    ours = plain(load_yaml(text, "f.yaml").data)
    theirs = yaml.safe_load(text)
    assert repr(ours) == repr(theirs)


def test_positions_and_merged_keys() -> None:
    data = load_yaml("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", "f.yaml").data
    child = data["child"]
    assert isinstance(child, YamlMap)
    assert child.key_source("y").line == 4 and child.key_source("x").line == 1
    assert list(child) == ["x", "y"]


def test_timestamps_stay_strings() -> None:
    assert load_yaml("d: 2024-02-30\nt: 2001-12-14t21:59:43.10-05:00\n", "f").data == {
        "d": "2024-02-30",
        "t": "2001-12-14t21:59:43.10-05:00",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "2:1: duplicate key 'a' (first at line 1)"),
        ("x: *nowhere\n", "1:4: unknown or recursive alias *nowhere"),
        ("a: &r [*r]\n", "unknown or recursive alias *r"),
        ("x: !!python/name:os.system\n", "unsupported YAML tag tag:yaml.org,2002:python/name"),
        ("x: !custom {a: 1}\n", "unsupported YAML tag !custom"),
        ("m: {<<: [1, 2]}\n", "<< must merge a mapping or a list of mappings"),
        ("[a]: 1\n", "mapping keys must be plain scalars"),
        ("a: 1\n---\nb: 2\n", "2:1: invalid YAML: expected a single document"),
        ("a: [1\n", "invalid YAML"),
        ("a: .nan\n", "1:4: .nan is not a finite number"),
        ("a: [-.Inf]\n", "1:5: -.Inf is not a finite number"),
        ("a: 1.0e+999\n", "1.0e+999 is not a finite number"),
        ("a: !!float .inf\n", "is not a finite number"),
        ("a: " + "9" * 101 + "\n", "number with 101 characters; konvsync reads numbers of at most"),
        ("a: " + "1" * 5000 + "\n", "number with 5,000 characters"),
        ("a: !!int word\n", "1:4: invalid int value"),
        ("a: !!bool word\n", "1:4: invalid bool value"),
        ("a: !!int\n", "1:4: invalid int value"),
        ('a: !!float ""\n', "1:4: invalid float value"),
        ('a: !!bool ""\n', "1:4: invalid bool value"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(YamlLoadError) as caught:
        load_yaml(text, "f.yaml")
    assert message in str(caught.value)


def test_empty_document() -> None:
    assert load_yaml("", "f").data is None
    assert load_yaml("# only a comment\n", "f").data is None
    assert load_yaml("---\n", "f").data is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('a: 1\nb: "\u00fc\x01"\n', "f.yaml:2:6:"),
        ('\ufeffa: 1\r\nb: "\u00fc\u00fc\x7f"\r\n', "f.yaml:2:7:"),
        ("a: 1\n# caf\u00e9\u2028c: 2\nd: x\x1c\n", "f.yaml:4:5:"),
    ],
)
def test_a_character_yaml_does_not_take_is_placed_on_its_line(text: str, where: str) -> None:
    """A control character pasted into a value (U+0001, U+007F) stopped the
    read at ``1:1`` with the reader's two-line text (``\\n  in "<unicode
    string>", position 51``, a byte offset): the line and column are the
    character's, the message one line naming it."""
    with pytest.raises(YamlLoadError) as caught:
        load_yaml(text, "f.yaml")
    message = str(caught.value)
    assert message.startswith(where), message
    assert "invalid YAML:" in message and "U+00" in message, message
    assert "\n" not in message and "position" not in message, message
