"""The process's start, ``konvsync`` and ``python -m konvsync``: the command
line, its modules loaded with the cyclic garbage collector paused
(``support.gcpause.pause_start``; ``cli.main`` ends the pause once the
command's own module is loaded, before the command runs)."""

from __future__ import annotations

from konvsync.support.gcpause import pause_start


def main() -> None:
    pause_start()
    from konvsync.cli.main import main as command_line  # loaded while paused

    command_line()
