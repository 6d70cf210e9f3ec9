"""The queries every plan, drift and export sends (each kind's read query
and the viewer query), with the shape of their answers (``answers``), as
``python -m konvsync.cli.generate`` writes them into ``read_queries.json``
from the kinds' ``.graphql`` files and the contract.

They let those commands run without graphql-core: importing it takes 55 ms,
and building the contract's schema and parsing the documents 15 ms more, at
every run (6 µs of CPU per object at 10,000 users; python -X importtime and
benchmarks/sync_bench.py). Each query's text is its operation and the
fragments it uses, cut from its ``.graphql`` file as written there. The file
keeps the digest of those sources: when they differ from it (a document
edited without regenerating), the queries are made from the sources as every
other document is (``api.documents``), so what is sent always fits them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from konvsync.kinds import KINDS
from konvsync.kinds.base import Kind
from konvsync.support.resources import konvert_sdl

if TYPE_CHECKING:
    from konvsync.api.documents import Selection

Shape = list[Any]
"""An answer's shape (``answers.Shape``)."""

HERE = Path(__file__).resolve().parent
FILE = HERE / "read_queries.json"
VIEWER = HERE / "viewer.graphql"


@dataclass(frozen=True)
class ReadQuery:
    text: str
    field: str
    """The root field the pages are under (``users``)."""


@cache
def viewer_query() -> str:
    return VIEWER.read_text(encoding="utf-8")


def read_query(kind: Kind, selection: Selection | None = None) -> ReadQuery:
    """``kind``'s read query (with ``selection``: only those fields)."""
    if selection is None:
        known = _generated().get("reads", {}).get(kind.name)
        if known is not None:
            return ReadQuery(known["text"], known["field"])
    from konvsync.api.documents import operation_text  # graphql-core (see above)

    root = kind.operation(kind.read_operation).selection_set.selections[0]
    field: str = getattr(root, "name").value  # noqa: B009 - a FieldNode
    return ReadQuery(operation_text(kind, kind.read_operation, selection), field)


def shapes(document_text: str) -> dict[str, Shape] | None:
    """The generated shapes of a query's answer, if it is one of these."""
    found: dict[str, Shape] | None = _generated().get("shapes", {}).get(document_text)
    return found


@cache
def _generated() -> dict[str, Any]:
    try:
        return fitting(json.loads(FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def fitting(generated: dict[str, Any]) -> dict[str, Any]:
    """``generated`` if it was made from the sources in use, else nothing."""
    return generated if generated.get("sources") == _sources_digest(KINDS) else {}


def _read_kinds(kinds: Sequence[Kind]) -> list[Kind]:
    """The kinds read by a query of their own (locations come with accounts)
    whose document is in the package (a kind a test declares has none)."""
    documents = HERE.parent / "kinds"
    return [k for k in kinds if k.read_via is None and (documents / k.operations_file).exists()]


def _sources_digest(kinds: Sequence[Kind], contract: str | None = None) -> str:
    """A digest of the contract (``schemas/konvert.graphql`` by default),
    the viewer query and the kinds' documents."""
    digest = hashlib.sha256()
    documents = [k.document_text for k in _read_kinds(kinds)]
    texts = (contract or konvert_sdl(), viewer_query(), *documents)
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def generated_text(kinds: Sequence[Kind], contract: str) -> str:
    """``read_queries.json`` for ``kinds`` and the ``contract`` (SDL)."""
    from graphql import OperationDefinitionNode, build_schema, parse

    from konvsync.api.answers import document_shapes
    from konvsync.api.documents import fragments_used

    reads: dict[str, dict[str, str]] = {}
    for k in _read_kinds(kinds):
        if not k.has_operation(k.read_operation):
            continue
        source = k.document_text
        document = parse(source)
        operation = next(
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
            and d.name is not None
            and d.name.value == k.read_operation
        )
        parts = [operation, *fragments_used(document, operation)]
        text = "\n\n".join(source[p.loc.start : p.loc.end] for p in parts if p.loc) + "\n"
        root = operation.selection_set.selections[0]
        reads[k.name] = {"text": text, "field": getattr(root, "name").value}  # noqa: B009
    documents = [viewer_query(), *(read["text"] for read in reads.values())]
    schema = build_schema(contract)
    data = {
        "comment": "generated by python -m konvsync.cli.generate, do not edit "
        "(see konvsync/api/read_queries.py)",
        "sources": _sources_digest(kinds, contract),
        "reads": reads,
        "shapes": {text: document_shapes(text, schema) for text in documents},
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
