"""Reading current objects, and their JSON form in the API (payload + server fields).

Everything read back from ``objects`` is treated as possibly odd (data stored by an older
version, or dated at the edge of the calendar): reading it never raises."""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.errors import SchemaError
from federation.recurrence import occurrences, wire_text
from federation.timeutil import format_ts, parse_ts, utc_now

from ..store import objects as rows
from ..store.objects import ObjectRow

#: Collection names of the API and the entry kinds they hold.
COLLECTIONS = {
    "skills": "skill",
    "equipment": "equipment",
    "events": "event",
    "resources": "resource",
}
#: Fields the server adds to a payload; a client may send them back, they are dropped.
#: ``next_occurrences``: the upcoming sessions of a recurring event, computed when read.
#: ``seats_left``: an event's seats not taken by confirmed registrations, computed when read.
#: The kinds a place offers to the network (what search looks through), in the order the
#: search form lists them.
OFFER_KINDS = ("skill", "equipment", "event", "resource")
SERVER_FIELDS = ("id", "origin", "kind", "seq", "updated", "next_occurrences", "seats_left")
#: How many upcoming sessions of a recurring event ``next_occurrences`` lists.
NEXT_OCCURRENCES = 5
#: A body that carries one object of the largest kind: a resource's payload may be 1 MiB of
#: canonical JSON (federation.entry), and sent with ``\uXXXX`` escapes a character of 2 to 4
#: UTF-8 bytes takes 6 to 12 bytes: three times as many.
LARGE_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024


def body_limit(max_body_bytes: int, kind: str | None) -> int:
    """The request body bound for an object of ``kind`` (push requests: ``"resource"``)."""
    return max(max_body_bytes, LARGE_BODY_BYTES) if kind == "resource" else max_body_bytes


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_not_json)


def load_payload(text: str | None) -> dict[str, Any]:
    """A stored payload as a dict; ``{}`` when it is not a JSON object (or holds
    ``NaN``, which no JSON answer could carry)."""
    if not isinstance(text, str):
        return {}
    try:
        payload = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}


def raw_text(value: object) -> str:
    """A stored value as text, for when it cannot be shown otherwise: strings as they
    are, anything else as compact JSON (``None`` is empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


#: A timestamp already as the API shows them (``format_ts``), or a text of that shape.
_AS_SHOWN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z", re.ASCII)


def api_timestamp(text: Any) -> Any:
    """A stored timestamp as the API shows every timestamp: RFC 3339 in UTC with ``Z``.
    A value that is not a timestamp, or that UTC cannot hold (year 9999 at ``-23:59``),
    is returned as stored."""
    if not isinstance(text, str):
        return text
    if _AS_SHOWN.fullmatch(text) and not text.endswith(".000000Z"):
        # What the rest would give back: the text itself when it is a date, and when
        # it is not one (a 30 February, a year before 1000) too.
        return text
    try:
        normal = format_ts(parse_ts(text))
        parse_ts(normal)  # years before 1000 do not come back as four digits
    except (ValueError, OverflowError):
        return text
    return normal


def beyond_utc(payload: Any) -> str:
    """The member (``start`` or ``end``) of a payload that UTC cannot hold (``9999-12-31
    T23:59-23:59`` is year 10000 in UTC), "" if none: such a payload is refused with a
    422 rather than failing when its columns are computed."""
    for name in ("start", "end"):
        value = payload.get(name) if isinstance(payload, dict) else None
        if not isinstance(value, str):
            continue
        try:
            parse_ts(value).astimezone(UTC)
        except OverflowError:
            return name
        except ValueError:
            continue
    return ""


def next_occurrences(payload: dict[str, Any]) -> list[dict[str, str]] | None:
    """The sessions of a recurring event that are not over yet (at most
    ``NEXT_OCCURRENCES``), each ``{"start", "end"}`` in RFC 3339 with the Europe/Paris
    offset (no ``end`` when the event has none); None for an event without
    ``recurrence`` (or one whose series cannot be read)."""
    if "recurrence" not in payload:
        return None
    try:
        found = occurrences(payload, after=utc_now(), limit=NEXT_OCCURRENCES)
    except (SchemaError, TypeError, AttributeError):
        return None
    sessions = []
    for occurrence in found:
        session = {"start": wire_text(occurrence.start)}
        if occurrence.end is not None:
            session["end"] = wire_text(occurrence.end)
        sessions.append(session)
    return sessions


def object_json(row: ObjectRow) -> dict[str, Any]:
    payload = load_payload(row.payload)
    item = {
        **payload,
        "id": row.oid,
        "origin": row.origin,
        "kind": row.kind,
        "seq": row.seq,
        "updated": api_timestamp(row.updated),
    }
    if row.kind == "event":
        upcoming = next_occurrences(payload)
        if upcoming is not None:
            item["next_occurrences"] = upcoming
    return item


async def get_object(conn: BaseDBAsyncClient, origin: str, kind: str, oid: str) -> ObjectRow | None:
    return await rows.one(conn, origin=origin, kind=kind, oid=oid)


async def list_objects(
    conn: BaseDBAsyncClient, origin: str, kind: str, limit: int, offset: int
) -> list[ObjectRow]:
    return await rows.of_kind(conn, origin=origin, kind=kind, limit=limit, offset=offset)
