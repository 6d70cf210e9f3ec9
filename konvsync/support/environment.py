"""The environment's variables as UTF-8 text, whatever the locale: Python
decodes them with the locale's encoding, which reads a UTF-8 value (a CI
secret, ``Zoë``) as lone surrogates under an ASCII locale (``LC_ALL=C`` with
``PYTHONUTF8=0``) and as other letters under a Latin-1 one (``ZoÃ«``)."""

from __future__ import annotations

import os

from konvsync.support.text import LONE_SURROGATE


def environment_text(name: str) -> str | None:
    """The value of variable ``name`` read as UTF-8 (None: not set); bytes
    that are not UTF-8 become lone surrogates, as Python's own decoding
    makes them, for the caller to refuse (``not_utf8``)."""
    environb = getattr(os, "environb", None)
    if environb is None:  # Windows: the environment is text already
        return os.environ.get(name)
    value: bytes | None = environb.get(os.fsencode(name))
    return None if value is None else value.decode("utf-8", "surrogateescape")


def not_utf8(value: str | None) -> bool:
    """Whether ``value`` (from ``environment_text``) held bytes that are not
    UTF-8: its lone surrogates say so."""
    return value is not None and not value.isascii() and LONE_SURROGATE.search(value) is not None
