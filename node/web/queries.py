"""What the pages show, read from the database: places, their offers, the network
directory and the peers' state. Thin reads; every write goes through services.log.

Objects come out through ``display.shown``: pages can rely on the types of their members
whatever was stored."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import format_ts, utc_now

from ..db import Database
from ..services import directory
from ..services.objects import SERVER_FIELDS, object_json
from ..services.peers import peer_json
from ..store import objects, origins
from ..store.objects import ObjectRow
from ..store.origins import OriginRow
from .display import shown

#: Kinds a place offers, in the order pages show them.
OFFER_KINDS = directory.OFFER_KINDS
#: How many objects of one kind a place page lists.
PAGE_LIMIT = 200


def _shown(row: ObjectRow) -> dict[str, Any]:
    return shown(row.kind, object_json(row))


async def place_of(conn: BaseDBAsyncClient, origin: str) -> dict[str, Any] | None:
    row = await objects.one(conn, origin=origin, kind="place", oid="place")
    return _shown(row) if row else None


async def stored_payload(
    conn: BaseDBAsyncClient, origin: str, kind: str, oid: str
) -> dict[str, Any] | None:
    """An object's payload as stored (no server fields), for the forms that edit it."""
    row = await objects.one(conn, origin=origin, kind=kind, oid=oid)
    if row is None:
        return None
    return {k: v for k, v in object_json(row).items() if k not in SERVER_FIELDS}


async def origin_row(conn: BaseDBAsyncClient, origin: str) -> OriginRow | None:
    return await origins.origin(conn, origin_id=origin)


async def offers_of(
    conn: BaseDBAsyncClient, origin: str, *, include_past: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """The objects of ``origin`` by kind: upcoming events (soonest first), skills and
    equipment (by title)."""
    offers: dict[str, list[dict[str, Any]]] = {}
    now = format_ts(utc_now())
    for kind in OFFER_KINDS:
        upcoming = kind == "event" and not include_past
        rows = await objects.of_kind(
            conn, origin=origin, kind=kind, limit=PAGE_LIMIT, not_over_at=now if upcoming else None
        )
        offers[kind] = [_shown(row) for row in rows]
    return offers


async def find_object(
    conn: BaseDBAsyncClient, origin: str, kind: str, oid: str
) -> dict[str, Any] | None:
    row = await objects.one(conn, origin=origin, kind=kind, oid=oid)
    return _shown(row) if row else None


async def own_objects(conn: BaseDBAsyncClient, origin: str, kind: str) -> list[dict[str, Any]]:
    """All of this node's objects of ``kind`` (past events included), for the admin."""
    return [_shown(row) for row in await objects.of_kind(conn, origin=origin, kind=kind)]


async def directory_page(
    db: Database, own_origin: str, page: int, *, shown_only: bool = False
) -> directory.Page:
    """Page ``page`` (from 1) of the places this node holds, this node's first;
    ``shown_only``: without those membership hides (the public pages)."""
    size = directory.PAGE_SIZE
    async with db.transaction() as conn:
        return await directory.origins_page(
            conn, own_origin, size, (page - 1) * size, shown_only=shown_only
        )


async def peers(conn: BaseDBAsyncClient, page: int) -> tuple[list[dict[str, Any]], int]:
    """Page ``page`` (from 1) of the peers, with their place names, and their number."""
    size = directory.PAGE_SIZE
    rows, total = await directory.peers_page(conn, size, (page - 1) * size)
    names = await origins.names(conn, origin_ids=[peer.origin for peer in rows if peer.origin])
    # As in /api/v1/nodes (one serialisation of a peer), with the name of its place.
    items = [{**peer_json(peer), "name": names.get(peer.origin or "") or ""} for peer in rows]
    return items, total
