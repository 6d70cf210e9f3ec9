"""Logging for the CLI: stderr, redacted, more with each ``-v``."""

from __future__ import annotations

import logging
import sys

from konvsync.support.redact import RedactingFormatter


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter(
            "%(levelname)s: %(message)s"
            if verbosity <= 0
            else "%(levelname)s %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_konvsync", False):
            root.removeHandler(existing)
    handler._konvsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("konvsync").setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
