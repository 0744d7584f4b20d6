"""Validation of object payloads: the kind's JSON Schema, then the checks a schema cannot
express (an event's ``end`` after its ``start``). Used by the local API and by ingest alike."""

from __future__ import annotations

from typing import Any

from . import schema
from .errors import SchemaError
from .timeutil import parse_ts

KINDS = ("place", "skill", "equipment", "event", "booking", "vouch", "key", "resource")
#: Kinds whose payload schema exists in this version; ``key`` (rotation) comes later.
SUPPORTED_KINDS = ("place", "skill", "equipment", "event", "booking", "vouch", "resource")


def validate_payload(kind: str, payload: Any) -> None:
    """Raise ``SchemaError`` (with ``field``) when ``payload`` is not a valid ``kind``."""
    if kind not in SUPPORTED_KINDS:
        raise SchemaError(f"kind {kind!r} is not supported by this version", "kind")
    schema.validate(f"urn:papi:payload/{kind}", payload)
    if kind in ("event", "booking"):
        _check_period(payload)


def _check_period(payload: dict[str, Any]) -> None:
    try:
        start = parse_ts(payload["start"])
    except ValueError as exc:
        raise SchemaError(f"'start' is not an RFC 3339 date-time: {exc}", "start") from None
    if "end" not in payload:
        return
    try:
        end = parse_ts(payload["end"])
    except ValueError as exc:
        raise SchemaError(f"'end' is not an RFC 3339 date-time: {exc}", "end") from None
    if end <= start:
        raise SchemaError("'end' must be after 'start'", "end")
