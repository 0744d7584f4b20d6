"""Validation of object payloads: the kind's JSON Schema, then the checks a schema cannot
express (an event's ``end`` after its ``start``, the rules of a recurring event's series,
a decision taken by the owner of what it decides about). Used by the local API and by
ingest alike."""

from __future__ import annotations

from typing import Any

from . import recurrence, schema
from .errors import SchemaError
from .membership import vouch_violation
from .timeutil import parse_ts

#: Cooperation between places (BRIEF 8, docs/protocol.md "Cooperation").
COOPERATION_KINDS = (
    "loan",
    "loan_decision",
    "registration",
    "registration_decision",
    "help_request",
    "help_offer",
)
KINDS = (
    "place", "skill", "equipment", "event", "booking", "vouch", *COOPERATION_KINDS, "resource",
    "key", "report",
)  # fmt: skip
#: Kinds whose payload schema exists in this version.
SUPPORTED_KINDS = KINDS
#: The field naming what a decision decides about: only its owner may write it.
OWNED_FIELD = {"loan_decision": "equipment", "registration_decision": "event"}
#: Kinds with a pair of days ``(first, last)``, the last not before the first.
_DAY_PERIODS = {"loan": ("start", "end"), "loan_decision": ("start", "end"),
                "help_request": ("from", "to")}  # fmt: skip


def validate_payload(kind: str, payload: Any) -> None:
    """Raise ``SchemaError`` (with ``field``) when ``payload`` is not a valid ``kind``."""
    if kind not in SUPPORTED_KINDS:
        raise SchemaError(
            f"kind {kind!r} is not supported by this version", "kind", "enum", list(SUPPORTED_KINDS)
        )
    schema.validate(f"urn:papi:payload/{kind}", payload)
    if kind in ("event", "booking"):
        _check_period(payload)
    if kind == "event" and "recurrence" in payload:
        recurrence.series(payload)  # raises SchemaError when a rule of the series is broken
    if kind in _DAY_PERIODS:
        first, last = _DAY_PERIODS[kind]
        # Days are ASCII 'YYYY-MM-DD' (urn:papi:day): they compare as text.
        if payload[last] < payload[first]:
            raise SchemaError(f"'{last}' must not be before '{first}'", last, "notBefore", first)
    if kind == "help_request" and (payload["state"] == "closed") != ("accepted_offer" in payload):
        raise SchemaError(
            "'accepted_offer' is given exactly when the state is 'closed'",
            "state",
            "acceptedOffer",
            "closed",
        )


def oid_violation(kind: str, oid: str, op: str, payload: Any) -> str | None:
    """Why an entry's ``oid`` (or ``op``) breaks its kind's rule, or None: a ``key``
    object is the one object ``key``, always a ``put`` with its payload (its keys are
    needed to check the entries after it); a vouch is ``vouch_oid(subject)``."""
    if kind == "key":
        if oid != "key":
            return "the oid of a key entry is 'key'"
        if op != "put" or payload is None:
            return "a key entry is a put that carries its payload"
    if kind == "vouch" and op == "put" and vouch_violation(oid, payload) is not None:
        return "the oid of a vouch is 'v' + base64url(SHA-256(subject))"
    return None


def owner_violation(kind: str, origin: str, payload: Any) -> str | None:
    """The field of a decision whose thing is not ``origin``'s own, or None.

    A loan or registration decision decides about an item or event of its own log only:
    the borrower cannot approve its own request, nor can a third place decide for the
    lender. Every implementation refuses such an entry (code ``not_owner``)."""
    name = OWNED_FIELD.get(kind)
    if name is None or not isinstance(payload, dict):
        return None
    value = payload.get(name)
    if not isinstance(value, str) or value.partition("/")[0] != origin:
        return name
    return None


def _check_period(payload: dict[str, Any]) -> None:
    try:
        start = parse_ts(payload["start"])
    except ValueError as exc:
        raise SchemaError(
            f"'start' is not an RFC 3339 date-time: {exc}", "start", "format", "date-time"
        ) from None
    if "end" not in payload:
        return
    try:
        end = parse_ts(payload["end"])
    except ValueError as exc:
        raise SchemaError(
            f"'end' is not an RFC 3339 date-time: {exc}", "end", "format", "date-time"
        ) from None
    if end <= start:
        raise SchemaError("'end' must be after 'start'", "end", "after", "start")
