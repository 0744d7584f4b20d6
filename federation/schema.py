"""JSON Schema validation of the wire format against the files in ``schemas/``.

Schemas are identified by ``$id`` (``urn:papi:header``, ``urn:papi:payload/event``...) and
refer to each other by it (``urn:papi:datetime``, ``urn:papi:ref``...). They ship with the
package (``federation/_schemas`` in a wheel) and are read from the repository's
``schemas/`` directory in a source checkout.

Validation is jsonschema-rs (draft 2020-12, compiled once per schema). Its regular
expressions have the ECMA-262 meaning the protocol gives ``pattern`` for our patterns
(ASCII classes, ``$`` only at the very end, ``.`` never a newline);
``tests/test_schemas_ajv.py`` checks it against Ajv on tricky strings and
``tests/test_schema_validator.py`` against python-jsonschema.

A failure is a ``SchemaError`` that says, as data, which member is wrong (``field``), which
rule it breaks (``keyword``) and that rule's value (``limit``), so that callers choose
their own words (the API's 422 body, the French admin forms) without reading the message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SchemaError

if TYPE_CHECKING:  # jsonschema-rs is imported by the first validation (about 5 MiB)
    import jsonschema_rs
    from jsonschema_rs import ValidationError

#: Patterns longer than this are not quoted in messages (the date patterns spell out the
#: calendar in hundreds of characters).
_QUOTED_PATTERN = 80


def schemas_dir() -> Path:
    """Where the schema files are: package data first, then the source checkout."""
    packaged = Path(__file__).parent / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


@cache
def documents() -> dict[str, dict[str, Any]]:
    """Every schema of the wire format, by ``$id``."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(schemas_dir().rglob("*.schema.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        found[document["$id"]] = document
    return found


def document(schema_id: str) -> dict[str, Any]:
    """The schema ``schema_id`` as stored (for closed lists and bounds shown to people)."""
    try:
        return documents()[schema_id]
    except KeyError:
        raise LookupError(f"no schema with $id {schema_id!r} in {schemas_dir()}") from None


@cache
def _registry() -> jsonschema_rs.Registry:
    import jsonschema_rs

    return jsonschema_rs.Registry(documents().items(), draft=jsonschema_rs.Draft202012)


def _compile(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    # ``RegexOptions``: the linear-time engine (no backtracking, so no input makes a
    # pattern slow); ``format`` is an annotation in draft 2020-12, as in Ajv's default.
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(
        schema,
        registry=_registry(),
        validate_formats=False,
        pattern_options=jsonschema_rs.RegexOptions(),
    )


@cache
def _validator(schema_id: str) -> jsonschema_rs.Validator:
    return _compile(document(schema_id))


def is_valid(schema_id: str, instance: Any) -> bool:
    """Whether ``instance`` (a JSON value) matches the schema ``schema_id``."""
    try:
        return _validator(schema_id).is_valid(instance)
    except ValueError:  # see validate
        return False


def validate(schema_id: str, instance: Any) -> None:
    """Raise ``SchemaError`` about the first offending member, in the order of the
    document (jsonschema-rs walks an object's members in their order)."""
    try:
        # Only the first error: each error carries a copy of its culprit, so asking for
        # all of them (``iter_errors``) costs the square of a large object's size.
        _validator(schema_id).validate(instance)
    except ValueError as exc:
        from jsonschema_rs import ValidationError

        if isinstance(exc, ValidationError):
            raise _schema_error(exc) from None
        # A Python value JSON has no form for (bytes, an integer key); a lone surrogate
        # in a string that a pattern checks (no signed entry can hold one: RFC 8785); or
        # a culprit nested too deeply for jsonschema-rs to copy into its error.
        raise SchemaError(f"document is invalid: {exc}", "") from None


# -- from jsonschema-rs's errors to ours ---------------------------------------------------


def _keyword(error: ValidationError) -> str:
    # jsonschema-rs reports a missing member of ``dependentRequired`` as ``required``.
    if error.schema_path and error.schema_path[-1] == "dependentRequired":
        return "dependentRequired"
    return error.kind.name


def _alternatives(error: ValidationError) -> list[str]:
    """The member names of an ``anyOf`` whose branches each just require one member and
    all failed for want of it (``digest``, ``vector`` or ``buckets``), else []."""
    from jsonschema_rs import ValidationErrorKind

    if not isinstance(error.kind, ValidationErrorKind.AnyOf):
        return []
    names: list[str] = []
    for branch in error.kind.context:
        if len(branch) != 1 or not isinstance(branch[0].kind, ValidationErrorKind.Required):
            return []
        if branch[0].instance_path != error.instance_path:
            return []
        names.append(branch[0].kind.property)
    return names


def _deepest(error: ValidationError) -> ValidationError:
    """Inside a failed ``oneOf``/``anyOf``, the most specific error: branches that fail
    only for being of another type are left out, then the deepest error wins."""
    from jsonschema_rs import ValidationErrorKind

    kind = error.kind
    if not isinstance(kind, ValidationErrorKind.AnyOf | ValidationErrorKind.OneOfNotValid):
        return error
    branches = [branch for branch in kind.context if branch]
    relevant = [
        branch
        for branch in branches
        if not any(
            isinstance(e.kind, ValidationErrorKind.Type) and e.instance_path == error.instance_path
            for e in branch
        )
    ] or branches
    candidates = [e for branch in relevant for e in branch]
    if not candidates:
        return error
    best = min(candidates, key=lambda e: (-len(e.instance_path), _keyword(e)))
    return _deepest(best)


def _path(parts: Sequence[str | int], *more: str) -> str:
    return ".".join([*(str(part) for part in parts), *more])


def _where(field: str) -> str:
    return f"'{field}'" if field else "document"


def _dependency(error: ValidationError, needed: str) -> str:
    """The member present in ``error.instance`` whose ``dependentRequired`` rule asks for
    ``needed`` (read in the schema at the error's keyword location), "" if unknown."""
    uri, _, pointer = (error.absolute_keyword_location or "").partition("#")
    parts = pointer.split("/")
    # jsonschema-rs points below the keyword (``#/dependentRequired/0``): stop at it.
    if "dependentRequired" in parts:
        parts = parts[: len(parts) - parts[::-1].index("dependentRequired")]
    node: Any = documents().get(uri, {})
    for part in filter(None, parts):
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~"), {})
            if isinstance(node, dict)
            else {}
        )
    present = error.instance if isinstance(error.instance, dict) else {}
    return next((name for name, needs in node.items() if name in present and needed in needs), "")


def _schema_error(error: ValidationError) -> SchemaError:
    from jsonschema_rs import ValidationErrorKind

    names = _alternatives(error)
    if names:
        field = _path(error.instance_path)
        listed = ", ".join(f"'{name}'" for name in names)
        return SchemaError(f"{_where(field)} needs one of {listed}", field, "anyOf", names)
    error = _deepest(error)
    kind, keyword, at = error.kind, _keyword(error), error.instance_path
    field = _path(at)
    where, shown = _where(field), _shown(error.instance)
    match kind:
        case ValidationErrorKind.Required(name) if keyword == "dependentRequired":
            field = _path(at, name)
            reason = _dependency(error, name)
            message = f"missing field '{field}'" + (f", required with '{reason}'" if reason else "")
            return SchemaError(message, field, keyword, reason or None)
        case ValidationErrorKind.Required(name):
            field = _path(at, name)
            return SchemaError(f"missing required field '{field}'", field, keyword)
        case ValidationErrorKind.AdditionalProperties(unexpected):
            field = _path(at, sorted(unexpected)[0])
            return SchemaError(f"unknown field '{field}'", field, keyword)
        case ValidationErrorKind.Pattern(pattern):
            quoted = pattern if len(pattern) <= _QUOTED_PATTERN else "its pattern (see the schema)"
            return SchemaError(f"{where}: {shown} does not match {quoted}", field, keyword, pattern)
        case ValidationErrorKind.PropertyNames(inner):
            return SchemaError(
                f"{where}: member name {_shown(inner.instance)} is not allowed", field, keyword
            )
        case ValidationErrorKind.Type(types):
            expected = types[0] if len(types) == 1 else list(types)
            message = f"{where}: {shown} is not of type {' or '.join(types)}"
            return SchemaError(message, field, keyword, expected)
        case ValidationErrorKind.Enum(options):
            return SchemaError(
                f"{where}: {shown} is not one of the allowed values", field, keyword, options
            )
        case ValidationErrorKind.Constant(expected):
            return SchemaError(
                f"{where}: {shown} is not {_shown(expected)}", field, keyword, expected
            )
        case ValidationErrorKind.UniqueItems():
            return SchemaError(f"{where}: has non-unique elements", field, keyword)
        case ValidationErrorKind.FalseSchema():
            return SchemaError(f"{where}: is not allowed here", field, keyword)
    limit = getattr(kind, "limit", None)
    if limit is not None and keyword in _BOUNDS:
        return SchemaError(
            f"{where}: {_BOUNDS[keyword].format(limit=limit)}", field, keyword, limit
        )
    return SchemaError(f"{where}: {error.message}", field, keyword)


#: What a bound's keyword says of the value, in messages.
_BOUNDS = {
    "maxLength": "longer than {limit} characters",
    "minLength": "shorter than {limit} characters",
    "maxItems": "more than {limit} items",
    "minItems": "fewer than {limit} items",
    "maxProperties": "more than {limit} members",
    "minProperties": "fewer than {limit} members",
    "maximum": "greater than the maximum of {limit}",
    "minimum": "less than the minimum of {limit}",
    "exclusiveMaximum": "not less than {limit}",
    "exclusiveMinimum": "not greater than {limit}",
}


def _shown(value: Any) -> str:
    """A value in a message: short, JSON-like; a text cut after 60 characters, and an
    object or array named, not shown (it may be huge, or nested thousands deep)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."
