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

USAGE = "Usage: python -m konvsync.cli.generate [--check] [ROOT]"

HELP = f"""{USAGE}

  Rewrite every part of the repository generated from konvsync/kinds/ that
  is stale: the kind-dependent parts of schemas/, the overlay schema, the
  README's two references, konvsync/config/schema_validators.py,
  konvsync/api/operations.json and konvsync/api/schema_facts.json.

  ROOT is the source checkout (default: the current directory).

Options:
  --check     Write nothing; exit 1 naming what is stale.
  -h, --help  Show this message and exit.
"""


def main(argv: list[str]) -> ExitStatus:
    if "-h" in argv or "--help" in argv:
        click.echo(HELP, nl=False)
        return ExitStatus.OK
    check = "--check" in argv
    unknown = [a for a in argv if a.startswith("-") and a != "--check"]
    roots = [a for a in argv if not a.startswith("-")]
    if unknown:
        click.echo(f"Error: no such option {unknown[0]!r}. {USAGE}", err=True)
        return ExitStatus.ERROR
    if len(roots) > 1:
        click.echo(f"Error: one ROOT at most, not {roots[0]!r} and {roots[1]!r}. {USAGE}", err=True)
        return ExitStatus.ERROR
    root = Path(roots[0] if roots else ".")
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
