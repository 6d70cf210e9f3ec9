"""``classify``: what each failed request calls for, safe to resend or not."""

from __future__ import annotations

import aiohttp
import pytest

from konvsync.api.retries import HttpStatus, NotSent, classify, retry_after


@pytest.mark.parametrize(
    ("failure", "safe", "unsafe"),
    [
        (HttpStatus(429, "2"), "retry", "retry"),
        (HttpStatus(503, None), "retry", "retry"),
        (HttpStatus(502, None), "retry", "ambiguous"),
        (HttpStatus(504, None), "retry", "ambiguous"),
        (HttpStatus(500, None), "fail", "fail"),
        (HttpStatus(403, None), "fail", "fail"),
        (NotSent("refused"), "retry", "retry"),
        (TimeoutError(), "retry", "ambiguous"),
        (aiohttp.ServerDisconnectedError(), "retry", "ambiguous"),
        (ValueError("not a transport failure"), "fail", "fail"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_classify(failure: BaseException, safe: str, unsafe: str) -> None:
    assert classify(failure, retry_safe=True) == safe
    assert classify(failure, retry_safe=False) == unsafe


def test_retry_after_is_capped_and_defaults_to_a_second() -> None:
    assert retry_after("120", cap=60.0) == 60.0
    assert retry_after(None, cap=60.0) == 1.0
    assert retry_after("soon", cap=60.0) == 1.0
    assert retry_after("-3", cap=60.0) == 0.0
