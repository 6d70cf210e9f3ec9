"""konvsync's standard output and error as CI pipelines and terminals give
them.

- A terminal or pipe in an encoding that cannot show every character (a
  Latin-1 locale, a Windows pipe in cp1252) shows what it cannot as an
  escape (``\\u2603``), as control characters already are, instead of
  failing; JSON and YAML documents are written in UTF-8 whatever the
  locale, as their specifications say (RFC 8259, YAML 1.2), so that what
  reads them gets the portal's text.
- A reader that quits early (``konvsync plan | head -1``) or a closed
  stdout (``>&-``) is one error line on stderr (exit 1) that says what the
  command had already written (``drift --write``'s files, ``plan --out``'s
  plan), never a traceback; a stderr that cannot be written (``2>&-``, no
  reader left, a full disk) loses the notes and progress, not the
  command's result.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import io
import os
import sys
from typing import TextIO

import click

from konvsync.errors import OutputClosed


def prepare() -> None:
    """Before anything is printed: characters a stream's encoding lacks are
    escaped, and what is said on a stderr that cannot be written (closed,
    without a reader, on a full disk) is lost rather than stopping the
    command."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not _is_utf(stream.encoding or "ascii"):
            stream.reconfigure(errors="backslashreplace")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (for the process)
    elif not isinstance(sys.stderr, _BestEffort):
        sys.stderr = _BestEffort(sys.stderr)


class _BestEffort(io.TextIOBase):
    """A text stream whose writes that fail are dropped (stderr: notes,
    progress, warnings; an error line has nowhere else to go either)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.flush()

    def isatty(self) -> bool:
        return is_terminal(self._stream)

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` (perhaps None: closed) is a terminal."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed
        return False


def show(text: str, *, document: bool = False, nl: bool = True, done: str = "") -> None:
    """Print the command's result on stdout. ``document``: JSON or YAML,
    written in UTF-8. ``done``: what the command has already written or
    done (``saved the plan to x.plan``), said should stdout be closed."""
    stream = sys.stdout
    try:
        if stream is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        encoding = getattr(stream, "encoding", None)
        if document and encoding and not _is_utf(encoding):
            click.echo(text.encode("utf-8"), nl=nl)
        else:
            click.echo(text, nl=nl)
    except OSError as exc:
        raise output_closed(exc, done) from None


def show_before_error(text: str, document: bool = False) -> bool:
    """Print ``text`` (a refused plan in full, validate's problems) before
    the error it comes with is raised: a stdout that cannot be written
    loses the text, not the error (its exit code and its line on stderr).
    Whether it was shown."""
    try:
        show(text, document=document)
    except OutputClosed:
        discard_output()
        return False
    return True


def output_closed(exc: OSError, done: str = "") -> OutputClosed:
    """The error of a stdout that cannot be written (``exc``)."""
    reason = exc.strerror or str(exc)
    return OutputClosed(f"cannot write to standard output ({reason}){f'; {done}' if done else ''}")


def say(line: str) -> None:
    """One line on stderr, if it can be written: an error is said once, and
    a stderr that is gone (``2>&1 | head -1``) has no reader to say it to."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(line, err=True)


def discard_output() -> None:
    """After stdout failed: what is still buffered for it goes nowhere, so
    that the interpreter's last flush does not fail again ("Exception
    ignored ... BrokenPipeError")."""
    try:
        target = sys.stdout.fileno() if sys.stdout is not None else None
    except (OSError, ValueError):  # not a file (a test's stream)
        return
    if target is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, target)
    finally:
        os.close(devnull)


def _is_utf(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False
