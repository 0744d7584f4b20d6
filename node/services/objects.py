"""Reading current objects, and their JSON form in the API (payload + server fields)."""

from __future__ import annotations

import json
from typing import Any

from ..models import CurrentObject

#: Collection names of the API and the entry kinds they hold.
COLLECTIONS = {
    "skills": "skill",
    "equipment": "equipment",
    "events": "event",
    "resources": "resource",
}
#: Fields the server adds to a payload; a client may send them back, they are dropped.
SERVER_FIELDS = ("id", "origin", "kind", "seq", "updated")
#: A body that carries one object of the largest kind: a resource's payload may be 1 MiB of
#: canonical JSON (federation.entry), and sent with ``\uXXXX`` escapes a character of 2 to 4
#: UTF-8 bytes takes 6 to 12 bytes: three times as many.
LARGE_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024


def body_limit(max_body_bytes: int, kind: str | None) -> int:
    """The request body bound for an object of ``kind`` (push requests: ``"resource"``)."""
    return max(max_body_bytes, LARGE_BODY_BYTES) if kind == "resource" else max_body_bytes


def object_json(row: CurrentObject) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(row.payload)
    return {
        **payload,
        "id": row.oid,
        "origin": row.origin,
        "kind": row.kind,
        "seq": row.seq,
        "updated": row.updated,
    }


async def get_object(origin: str, kind: str, oid: str) -> CurrentObject | None:
    return await CurrentObject.get_or_none(origin=origin, kind=kind, oid=oid)


async def list_objects(origin: str, kind: str, limit: int, offset: int) -> list[CurrentObject]:
    query = CurrentObject.filter(origin=origin, kind=kind)
    order = ("starts_at", "id") if kind == "event" else ("title", "id")
    query = query.order_by(*order)
    return await query.offset(offset).limit(limit)
