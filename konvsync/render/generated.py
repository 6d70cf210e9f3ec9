"""Everything in the repository that is generated from ``konvsync/kinds/``
(and the refusal checks), written or checked by one command:

- the generated parts of every ``schemas/*.schema.json`` (``schema_parts``;
  each kind's part of the config schema also from the contract,
  ``schemas/konvert.graphql``),
- the overlay schema (``config.overlay.overlay_schema``) and the README's
  kinds table and YAML reference (``readme``), made from the config schema
  as just generated;
- the config schema compiled to fastjsonschema's code
  (``konvsync/config/schema_validators.py``, ``config.fast_schema``);
- the models of every operation konvsync sends, with their answers'
  shapes (``konvsync/api/operations.json``, ``api.operations``);
- the facts of the contract that apply's check of the portal's schema
  compares (``konvsync/api/schema_facts.json``, ``api.schema_facts``).

The command is ``cli.generate``. The published schemas stay files: konvsync
reads them at run time and the wheel ships them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphql import GraphQLError, build_schema

from konvsync.api import documents, schema_facts
from konvsync.config import fast_schema
from konvsync.config.overlay import OVERLAY_SCHEMA_FILE, overlay_schema
from konvsync.kinds import KINDS, Kind
from konvsync.render.readme import update_readme
from konvsync.render.schema_parts import generate_schema_text, schema_text

CONFIG_SCHEMA = "konvsync.schema.json"
CONTRACT = "konvert.graphql"
OPERATION_MODELS = "konvsync/api/operations.json"
SCHEMA_FACTS = "konvsync/api/schema_facts.json"


def generated_texts(root: Path, kinds: Sequence[Kind] = KINDS) -> dict[Path, str]:
    """Each generated file under ``root`` with the text it should have."""
    out: dict[Path, str] = {}
    contract_file = root / "schemas" / CONTRACT
    contract_text = contract_file.read_text(encoding="utf-8")
    try:
        contract = build_schema(contract_text)
    except (GraphQLError, TypeError) as exc:  # not GraphQL, or not a valid schema
        raise ValueError(f"{contract_file}: {exc}") from None
    for path in sorted((root / "schemas").glob("*.schema.json")):
        try:
            out[path] = generate_schema_text(path.read_text(encoding="utf-8"), kinds, contract)
        except ValueError as exc:  # an unknown part, or a kind the contract does not fit
            raise ValueError(f"{path}: {exc}") from None
    readme = root / "README.md"
    config_text = out[root / "schemas" / CONFIG_SCHEMA]
    # the overlay schema: the config schema, as just generated, made lenient
    overlay = overlay_schema(json.loads(config_text))
    out[root / "schemas" / OVERLAY_SCHEMA_FILE] = schema_text(overlay)
    config_schema = json.loads(config_text)
    out[readme] = update_readme(readme.read_text(encoding="utf-8"), kinds, config_schema)
    out[root / fast_schema.MODULE] = _validators_text(root / fast_schema.MODULE, config_schema)
    out[root / OPERATION_MODELS] = documents.generated_text(kinds, contract_text)
    out[root / SCHEMA_FACTS] = schema_facts.generated_text(kinds, contract_text)
    return out


def _validators_text(path: Path, config_schema: dict[str, Any]) -> str:
    """The generated validators: the file as it is when it was made from
    this schema (another fastjsonschema release may write other code for
    it, which is no reason to call it stale), else made anew."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if fast_schema.module_is_current(current, config_schema):
        return current
    return fast_schema.module_text(config_schema)


def stale_files(texts: dict[Path, str]) -> list[Path]:
    """The files of ``texts`` (``generated_texts``) missing or with another text."""
    return [
        path
        for path, text in texts.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
