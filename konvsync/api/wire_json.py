"""JSON on the wire: a request's body written and an answer's body read.

orjson does both in compiled code. Python's json module writes in C too,
but builds every small dict's text through its own machinery: a 10,000-user
cold apply sends 4.3 MB of requests (each create's variables a small
object), which json.dumps wrote in 46 ms of CPU. With orjson for both
directions the cold apply ran 8.63 -> 8.22 billion instructions (-4.7 %),
the no-op plan 5.79 -> 5.68 (benchmarks/instructions_bench.py).

Where orjson would not read a body as Python's json does, json reads it,
so that every answer means what it meant before:

- an integer of 19 digits or more, which orjson makes a float (lossy past
  2**64), where json keeps it exact for the contract's checks to refuse;
- what orjson refuses and json takes: ``NaN`` and ``Infinity``, a number
  past a float's range (json: infinity), a ``\\ud800`` escape (a lone
  surrogate, which ``client`` refuses with its path), a UTF-8 byte order
  mark, UTF-16 or UTF-32 text, nesting past 1,024 levels. json then takes
  it or raises, as it did.

orjson writes what json wrote, as UTF-8 where json escaped non-ASCII
characters (the same JSON text to any reader). What it cannot write, an
integer past 64 bits or a string with a lone surrogate, json writes. It
would write a float NaN as null, which no request of konvsync's can hold:
the contract has no Float, the config refuses non-finite numbers, a plan
file refuses them (``plan.planfile``) and the answers' checks refuse a
float wherever the contract types a value.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS = bytes(ord("0") if ord("0") <= byte <= ord("9") else ord(" ") for byte in range(256))
"""Every digit byte to ``0``, every other byte to a space: a long number is
then a run of zeros, found by ``in`` (20 us for a 27 KB page; a regular
expression took 225, more than json's whole read)."""
_LONG_INTEGER = b"0" * 19
"""orjson reads an integer exactly up to 64 bits; any with 19 digits or more
goes to json (a long digit run in a string does too, which costs only time)."""


def encoded(payload: Any) -> bytes:
    """``payload`` as JSON text in UTF-8."""
    try:
        return orjson.dumps(payload)
    except TypeError:  # an integer past 64 bits, a lone surrogate
        return json.dumps(payload).encode()


def decoded(body: bytes) -> Any:
    """The JSON value of ``body``, as ``json.loads`` reads it; raises as it
    raises (``ValueError``, ``UnicodeDecodeError``, ``RecursionError``)."""
    if _LONG_INTEGER not in body.translate(_DIGITS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # json's verdict, below
    return json.loads(body)
