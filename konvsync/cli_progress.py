"""Progress on stderr for the CLI: a bar with counts on a terminal, plain
lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import time

import click


class StderrProgress:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last_label: str | None = None
        self._last_draw = 0.0

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
        elif label != self._last_label:
            self._last_label = label
            click.echo(f"{label}: {total} change(s)", err=True)

    def page(self, kind_name: str, count: int) -> None:
        if self.enabled and self.tty:
            click.echo(f"\rreading {kind_name}: {count}    ", err=True, nl=False)

    def clear(self) -> None:
        if self.enabled and self.tty:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
