"""What ``drift --write`` may end in, for the command line to catch: a write
refused or failed, the drift still shown. The work itself is
``drift.accept``, which ``app.drift`` loads only when ``--write`` runs (with
the YAML editing and checking it takes: ``yamltext``, ``lists``, ``verify``
...), as a drift without ``--write`` never needs it."""

from __future__ import annotations

from konvsync.drift.model import DriftReport
from konvsync.errors import OutputError, UnsafePlanError


class WriteRefused(UnsafePlanError):
    """``--write`` would remove too much (exit 3); ``report`` is still shown."""

    def __init__(self, report: DriftReport, reason: str) -> None:
        super().__init__(reason)
        self.report = report


class WriteFailed(OutputError):
    """``--write`` could not write (a read-only file; exit 1); nothing was
    written and ``report`` is still shown."""

    def __init__(self, report: DriftReport, reason: str) -> None:
        super().__init__(reason)
        self.report = report
