"""What the pages show, read from the database: places, their offers, the network
directory and the peers' state. Thin reads; every write goes through services.log.

Objects come out through ``display.shown``: pages can rely on the types of their members
whatever was stored."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from federation.timeutil import format_ts, utc_now

from ..models import CurrentObject, Origin
from ..services import directory
from ..services.objects import SERVER_FIELDS, object_json
from ..services.peers import peer_json
from .display import shown

#: Kinds a place offers, in the order pages show them.
OFFER_KINDS = directory.OFFER_KINDS
#: How many objects of one kind a place page lists.
PAGE_LIMIT = 200


def _shown(row: CurrentObject) -> dict[str, Any]:
    return shown(row.kind, object_json(row))


async def place_of(origin: str) -> dict[str, Any] | None:
    row = await CurrentObject.get_or_none(origin=origin, kind="place", oid="place")
    return _shown(row) if row else None


async def stored_payload(origin: str, kind: str, oid: str) -> dict[str, Any] | None:
    """An object's payload as stored (no server fields), for the forms that edit it."""
    row = await CurrentObject.get_or_none(origin=origin, kind=kind, oid=oid)
    if row is None:
        return None
    return {k: v for k, v in object_json(row).items() if k not in SERVER_FIELDS}


async def origin_row(origin: str) -> Origin | None:
    return await Origin.get_or_none(id=origin)


async def offers_of(origin: str, *, include_past: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The objects of ``origin`` by kind: upcoming events (soonest first), skills and
    equipment (by title)."""
    offers: dict[str, list[dict[str, Any]]] = {}
    now = format_ts(utc_now())
    for kind in OFFER_KINDS:
        query = CurrentObject.filter(origin=origin, kind=kind)
        if kind == "event":
            if not include_past:
                query = query.filter(
                    Q(ends_at__gte=now) | Q(ends_at__isnull=True, starts_at__gte=now)
                )
            query = query.order_by("starts_at", "id")
        else:
            query = query.order_by("title", "id")
        offers[kind] = [_shown(row) for row in await query.limit(PAGE_LIMIT)]
    return offers


async def find_object(origin: str, kind: str, oid: str) -> dict[str, Any] | None:
    row = await CurrentObject.get_or_none(origin=origin, kind=kind, oid=oid)
    return _shown(row) if row else None


async def own_objects(origin: str, kind: str) -> list[dict[str, Any]]:
    """All of this node's objects of ``kind`` (past events included), for the admin."""
    order = ("starts_at", "id") if kind == "event" else ("title", "id")
    rows = await CurrentObject.filter(origin=origin, kind=kind).order_by(*order)
    return [_shown(row) for row in rows]


async def directory_page(own_origin: str, page: int, *, shown_only: bool = False) -> directory.Page:
    """Page ``page`` (from 1) of the places this node holds, this node's first;
    ``shown_only``: without those membership hides (the public pages)."""
    size = directory.PAGE_SIZE
    async with in_transaction() as conn:
        return await directory.origins_page(
            conn, own_origin, size, (page - 1) * size, shown_only=shown_only
        )


async def peers(page: int) -> tuple[list[dict[str, Any]], int]:
    """Page ``page`` (from 1) of the peers, with their place names, and their number."""
    size = directory.PAGE_SIZE
    rows, total = await directory.peers_page(size, (page - 1) * size)
    origins = [peer.origin for peer in rows if peer.origin]
    names = {o.id: o.name for o in await Origin.filter(id__in=origins)} if origins else {}
    # As in /api/v1/nodes (one serialisation of a peer), with the name of its place.
    items = [{**peer_json(peer), "name": names.get(peer.origin or "") or ""} for peer in rows]
    return items, total
