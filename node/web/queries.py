"""What the pages show, read from the database: places, their offers, the network
directory and the peers' state. Thin reads; every write goes through services.log."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from federation.timeutil import format_ts, utc_now

from ..models import CurrentObject, ForkEvidence, Origin, Peer
from ..services.objects import object_json

#: Kinds a place offers, in the order pages show them.
OFFER_KINDS = ("event", "skill", "equipment", "resource")
#: How many objects of one kind a place page lists.
PAGE_LIMIT = 200


async def place_of(origin: str) -> dict[str, Any] | None:
    row = await CurrentObject.get_or_none(origin=origin, kind="place", oid="place")
    return object_json(row) if row else None


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
        offers[kind] = [object_json(row) for row in await query.limit(PAGE_LIMIT)]
    return offers


async def find_object(origin: str, kind: str, oid: str) -> dict[str, Any] | None:
    row = await CurrentObject.get_or_none(origin=origin, kind=kind, oid=oid)
    return object_json(row) if row else None


async def own_objects(origin: str, kind: str) -> list[dict[str, Any]]:
    """All of this node's objects of ``kind`` (past events included), for the admin."""
    order = ("starts_at", "id") if kind == "event" else ("title", "id")
    rows = await CurrentObject.filter(origin=origin, kind=kind).order_by(*order)
    return [object_json(row) for row in rows]


async def directory(own_origin: str) -> list[dict[str, Any]]:
    """Every origin we hold: its place, commune, offers by kind and freshness."""
    async with in_transaction() as conn:
        counted = await conn.execute_query_dict(
            f"SELECT origin, kind, count(*) AS n FROM objects"
            f" WHERE kind IN ({', '.join('?' for _ in OFFER_KINDS)}) GROUP BY origin, kind",
            list(OFFER_KINDS),
        )
    counts: dict[str, dict[str, int]] = {}
    for row in counted:
        counts.setdefault(row["origin"], {})[row["kind"]] = int(row["n"])
    forks = {row.origin for row in await ForkEvidence.all()}
    places: list[dict[str, Any]] = []
    for origin in await Origin.all().order_by("name", "id"):
        by_kind = counts.get(origin.id, {})
        places.append(
            {
                "id": origin.id,
                "name": origin.name or "",
                "commune": origin.commune or "",
                "self": origin.id == own_origin,
                "seq": origin.head_seq,
                "counts": by_kind,
                "objects": sum(by_kind.values()),
                "last_received": origin.last_received,
                "first_seen": origin.first_seen,
                "frozen": origin.frozen,
                "fork": origin.id in forks,
            }
        )
    places.sort(key=lambda place: (not place["self"], place["name"].casefold(), place["id"]))
    return places


async def peers() -> list[dict[str, Any]]:
    names = {o.id: o.name for o in await Origin.all()}
    return [
        {
            "url": peer.url,
            "origin": peer.origin,
            "name": names.get(peer.origin or "") or "",
            "source": peer.source,
            "state": peer.state,
            "last_attempt": peer.last_attempt,
            "last_success": peer.last_success,
            "failures": peer.consecutive_failures,
            "next_attempt": peer.next_attempt,
            "last_error": peer.last_error or "",
            "entries_received": peer.entries_received,
        }
        for peer in await Peer.all().order_by("url")
    ]
