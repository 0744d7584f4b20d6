"""Reading current objects, and their JSON form in the API (payload + server fields)."""

from __future__ import annotations

import json
from typing import Any

from ..models import CurrentObject

#: Collection names of the API and the entry kinds they hold.
COLLECTIONS = {"skills": "skill", "equipment": "equipment", "events": "event"}
#: Fields the server adds to a payload; a client may send them back, they are dropped.
SERVER_FIELDS = ("id", "origin", "kind", "seq", "updated")


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
