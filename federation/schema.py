"""JSON Schema validation of the wire format against the files in ``schemas/``.

Schemas are identified by ``$id`` (``urn:papi:header``, ``urn:papi:payload/event``...).
They ship with the package (``federation/_schemas`` in a wheel) and are read from the
repository's ``schemas/`` directory in a source checkout.
"""

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

from . import fastschema
from .errors import SchemaError


def schemas_dir() -> Path:
    """Where the schema files are: package data first, then the source checkout."""
    packaged = Path(__file__).parent / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


@cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(schemas_dir().rglob("*.schema.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        schemas[document["$id"]] = document
    # The registered contents carry no ``$schema``: a ``$ref`` then keeps our validator
    # class (and its ECMA-262 ``pattern``) instead of switching to the stock draft 2020-12
    # validator, which would accept "abc\n" for ``^...$`` inside the referenced schema.
    registry: Registry = Registry().with_resources(
        (schema_id, DRAFT202012.create_resource(_without_dialect(document)))
        for schema_id, document in schemas.items()
    )
    return registry, schemas


def _without_dialect(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "$schema"}


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    # ECMA-262 ``$`` never matches before a final newline; Python's does. Anchor on \Z so
    # that "abc\n" is refused here exactly as in other implementations.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _compile(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _pattern}
)


@cache
def validator(schema_id: str) -> Draft202012Validator:
    registry, schemas = _registry()
    try:
        document = schemas[schema_id]
    except KeyError:
        raise LookupError(f"no schema with $id {schema_id!r} in {schemas_dir()}") from None
    result: Draft202012Validator = _Validator(_without_dialect(document), registry=registry)
    return result


def _field_of(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed: dict[str, Any] = (
            error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        )
        extras = sorted(key for key in error.instance if key not in allowed)
        if extras:
            return f"{path}.{extras[0]}" if path else extras[0]
    if error.validator == "required" and isinstance(error.validator_value, list):
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [key for key in error.validator_value if key not in present]
        if missing:
            return f"{path}.{missing[0]}" if path else missing[0]
    if error.validator == "dependentRequired" and _dependencies(error):
        needed = _dependencies(error)[0][1]
        return f"{path}.{needed}" if path else needed
    return path


def _dependencies(error: ValidationError) -> list[tuple[str, str]]:
    """(present field, missing field it requires) pairs of a ``dependentRequired`` error."""
    rules = error.validator_value if isinstance(error.validator_value, dict) else {}
    present = error.instance if isinstance(error.instance, dict) else {}
    return [
        (name, needed)
        for name, needs in rules.items()
        if name in present
        for needed in needs
        if needed not in present
    ]


def _message_of(error: ValidationError, field: str) -> str:
    if error.validator == "additionalProperties":
        return f"unknown field '{field}'"
    if error.validator == "required":
        return f"missing required field '{field}'"
    if error.validator == "dependentRequired" and _dependencies(error):
        name, needed = _dependencies(error)[0]
        return f"missing field '{needed}', required with '{name}'"
    where = f"'{field}'" if field else "document"
    if error.validator == "pattern" and isinstance(error.instance, str):
        # The date patterns spell out the calendar: hundreds of characters of regex.
        pattern = str(error.validator_value)
        shown = pattern if len(pattern) <= 80 else "its pattern (see the schema)"
        return f"{where}: {error.instance!r} does not match {shown}"
    return f"{where}: {error.message}"


@cache
def _fast_check(schema_id: str) -> fastschema.Check | None:
    return fastschema.compile_schema(schema_id, _registry()[1], _compile)


def is_valid_fast(schema_id: str, document: Any) -> bool:
    """True only when the exact fast path proves ``document`` valid (see fastschema)."""
    check = _fast_check(schema_id)
    if check is None:
        return False
    try:
        return check(document)
    except (fastschema.Unsure, RecursionError):
        return False


def validate(schema_id: str, document: Any) -> None:
    """Raise ``SchemaError`` naming the first offending field (deterministic order)."""
    if is_valid_fast(schema_id, document):
        return
    errors = sorted(
        validator(schema_id).iter_errors(document),
        key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)),
    )
    if errors:
        # An "anyOf" of alternatives that are each a "required" says little about what is
        # wrong when another error of the same place says more ("scope" without "vector").
        plain = [e for e in errors if not _is_alternatives(e)]
        error = (
            plain[0] if plain and plain[0].absolute_path == errors[0].absolute_path else errors[0]
        )
        if _is_alternatives(error):
            names = [name for e in error.context or [] for name in e.validator_value]
            path = ".".join(str(part) for part in error.absolute_path)
            listed = ", ".join(f"'{name}'" for name in names)
            raise SchemaError(f"{f'{path!r}' if path else 'document'} needs one of {listed}", path)
        # The most specific error is the deepest one under the first path.
        best = error
        if error.context:
            best = min(error.context, key=lambda e: -len(list(e.absolute_path)))
        field = _field_of(best)
        raise SchemaError(_message_of(best, field), field)


def _is_alternatives(error: ValidationError) -> bool:
    """An ``anyOf`` failed because none of its ``required`` alternatives is present."""
    return (
        error.validator == "anyOf"
        and bool(error.context)
        and all(e.validator == "required" and not e.absolute_path for e in error.context or [])
    )
