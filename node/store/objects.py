"""The current version of each object (``objects``: one row per origin, kind and oid,
written only by the store path, ``services.store``), read by key and a kind at a time."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from ..models import CurrentObject


@dataclass(frozen=True)
class ObjectRow:
    """An object as stored: its payload (JSON text) and the columns derived from it."""

    id: int
    origin: str
    kind: str
    oid: str
    seq: int
    payload: str
    updated: str
    title: str
    theme: str
    place: str
    commune: str
    starts_at: str | None
    ends_at: str | None


def _row(row: CurrentObject) -> ObjectRow:
    return ObjectRow(
        row.id, row.origin, row.kind, row.oid, row.seq, row.payload, row.updated, row.title,
        row.theme, row.place, row.commune, row.starts_at, row.ends_at,
    )  # fmt: skip


async def one(*, origin: str, kind: str, oid: str) -> ObjectRow | None:
    row = await CurrentObject.get_or_none(origin=origin, kind=kind, oid=oid)
    return _row(row) if row else None


async def exists(*, origin: str, kind: str, oid: str) -> bool:
    return await CurrentObject.exists(origin=origin, kind=kind, oid=oid)


async def of_kind(
    *,
    origin: str,
    kind: str,
    limit: int | None = None,
    offset: int = 0,
    not_over_at: str | None = None,
) -> list[ObjectRow]:
    """The objects of ``origin`` of ``kind``: events by start, the others by title;
    ``not_over_at`` (UTC text): only those that do not end (or, without an end, start)
    before it."""
    query = CurrentObject.filter(origin=origin, kind=kind)
    if not_over_at is not None:
        query = query.filter(
            Q(ends_at__gte=not_over_at) | Q(ends_at__isnull=True, starts_at__gte=not_over_at)
        )
    query = query.order_by(*(("starts_at", "id") if kind == "event" else ("title", "id")))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_row(row) for row in await query]
