"""Progress on stderr for the CLI: a bar with counts on a terminal; in a
pipe (CI logs), a line when a step starts, then one every few seconds while
it runs (``KONVSYNC_PROGRESS_INTERVAL``, default 5 s), and one when it ends."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import click

from konvsync.cli.streams import is_terminal
from konvsync.render.values import files_read

DEFAULT_INTERVAL = 5.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("KONVSYNC_PROGRESS_INTERVAL", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


class StderrProgress:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tty = is_terminal(sys.stderr)
        self.interval = _interval()
        self._last_label: str | None = None
        self._last_draw = 0.0
        self._last_line = 0.0
        self._reading: dict[str, int] = {}

    def step(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if done < total and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            width = 30
            filled = int(width * done / total) if total else width
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if done >= total else ""
            click.echo(f"\r{label:<28} [{bar}] {done}/{total}", err=True, nl=False)
            if end:
                click.echo("", err=True)
            return
        now = time.monotonic()
        if label != self._last_label:
            self._last_label = label
            self._last_line = now
            click.echo(f"{label}: {total} change(s)", err=True)
        elif done >= total:
            self._last_line = now
            # answered, not done: the summary says which of them failed
            click.echo(f"{label}: {done}/{total} answered", err=True)
        elif now - self._last_line >= self.interval:
            self._last_line = now
            click.echo(f"{label}: {done}/{total}", err=True)

    def loaded(self, files: list[str]) -> None:
        """Say how many files the config was read from (``-v`` logs each)."""
        if self.enabled:
            click.echo(f"Config: {files_read(files)} (-v lists them).", err=True)

    def loaded_from(self, paths: tuple[str, ...]) -> Callable[[list[str]], None] | None:
        """``loaded`` when a config path is a folder (which files it means is
        worth saying), else None."""
        return self.loaded if any(os.path.isdir(path) for path in paths) else None

    def page(self, kind_name: str, count: int) -> None:
        if not self.enabled:
            return
        if self.tty:
            click.echo(f"\rreading {kind_name}: {count}    ", err=True, nl=False)
            return
        self._reading[kind_name] = count
        now = time.monotonic()
        if self._last_line == 0.0:
            self._last_line = now  # the first line after one interval of reading
        elif now - self._last_line >= self.interval:
            self._last_line = now
            counts = ", ".join(f"{n} {k}" for k, n in self._reading.items())
            click.echo(f"reading the portal: {counts} so far", err=True)

    def clear(self) -> None:
        if self.enabled and self.tty:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
