"""The independent reference for the node's schema validator: python-jsonschema (draft
2020-12) with ``pattern`` given its ECMA-262 meaning. ``federation/schema.py`` validates
with jsonschema-rs; tests/test_schema_validator.py and tests/test_schemas.py compare the
two, and tests/test_schemas_ajv.py compares both with Ajv (JavaScript)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
EXAMPLES = SCHEMAS / "examples"


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every ``*.schema.json`` of ``schemas/``, by ``$id``, read here (not through
    ``federation``)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        if EXAMPLES not in path.parents:
            document = json.loads(path.read_text(encoding="utf-8"))
            found[document["$id"]] = document
    return found


def _without_dialect(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "$schema"}


@cache
def _registry() -> Registry:
    # Without ``$schema`` in the registered contents, a ``$ref`` keeps the ECMA-262
    # validator below instead of switching to the stock draft 2020-12 class.
    return Registry().with_resources(
        (schema_id, DRAFT202012.create_resource(_without_dialect(document)))
        for schema_id, document in schemas().items()
    )


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """``pattern`` as ECMA-262 has it: ``$`` only at the very end (Python's ``$`` also
    matches before a final newline). Our patterns are ASCII-only (tests/test_schemas_ajv.py
    checks), so Python's ``re`` reads the rest alike."""
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if isinstance(instance, str) and not re.search(anchored, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@cache
def validator(schema_id: str) -> Draft202012Validator:
    result: Draft202012Validator = _EcmaValidator(
        _without_dialect(schemas()[schema_id]), registry=_registry()
    )
    return result
