"""The request and answer bodies' JSON: read as Python's json reads them,
written so that any JSON reader reads the same values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konvsync.api.wire_json import decoded, encoded

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text()
    | st.sampled_from(["\ud800", "a\udfffb", "é", "\u2028", "\x00"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def _same(left: Any, right: Any) -> bool:
    """Equal, with every integer an int and no int a float or bool."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, float):
        return repr(left) == repr(right)  # NaN too
    return bool(left == right)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_what_is_written_reads_back_the_same(value: Any) -> None:
    assert _same(json.loads(encoded(value)), value)


@settings(max_examples=400, deadline=None)
@given(VALUES, st.booleans())
def test_an_answer_reads_as_json_reads_it(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(body)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            decoded(body)
        return
    assert _same(decoded(body), expected)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": [1e400, -1e400]}',
        b'{"a": NaN, "b": Infinity, "c": -Infinity}',
        b'{"a": 18446744073709551616, "b": -9223372036854775809}',
        b'{"a": 9223372036854775807, "b": 1234567890123456789012}',
        b'{"a": "\\ud800"}',
        b'{"a": "\xed\xa0\x80"}',  # a surrogate in UTF-8: json decodes with surrogatepass
        b'{"a": -0, "b": 1.0000000000000002, "c": 1E5}',
        '{"a": "ä"}'.encode("utf-16"),
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_what_json_reads_and_another_reader_may_not(body: bytes) -> None:
    try:
        expected = json.loads(body)
    except RecursionError:
        with pytest.raises(RecursionError):
            decoded(body)
        return
    assert _same(decoded(body), expected)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"a": 1} x', b"\xff\xfe\x00", b"'a'"],
)
def test_what_json_refuses_is_refused_alike(body: bytes) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)) as refused:
        json.loads(body)
    with pytest.raises(refused.type):
        decoded(body)
