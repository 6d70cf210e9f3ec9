"""The developers' command that writes (or with ``--check``, checks) every
part of the repository generated from the kinds (``render.generated``):

    python -m konvsync.cli.generate [ROOT]          # rewrite what is stale
    python -m konvsync.cli.generate --check [ROOT]  # exit 1 if anything is

ROOT is the source checkout (default: the current directory). It is not a
``konvsync`` command: users never need it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from konvsync.errors import ExitStatus
from konvsync.render.generated import generated_texts, stale_files


def main(argv: list[str]) -> ExitStatus:
    check = "--check" in argv
    roots = [a for a in argv if a != "--check"] or ["."]
    root = Path(roots[0])
    try:
        texts = generated_texts(root)
    except (OSError, ValueError) as exc:  # a file missing, unreadable or without its markers
        click.echo(f"cannot generate: {exc}")
        return ExitStatus.ERROR
    stale = stale_files(texts)
    names = ", ".join(str(path.relative_to(root)) for path in stale)
    if check:
        if stale:
            click.echo(f"out of date: {names}; run python -m konvsync.cli.generate")
            return ExitStatus.ERROR
        return ExitStatus.OK
    for path in stale:
        path.write_text(texts[path], encoding="utf-8")
    if stale:
        click.echo(f"rewrote {names}")
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
