"""The bounded reads of current objects that calendars, feeds and the widget publish:
never of frozen origins, filtered as those formats allow (``services.published`` checks
the filters and decodes the payloads). Every read is one statement on the connection
given (``conn``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ..models import CurrentObject
from .objects import ObjectText


async def _read(
    conn: BaseDBAsyncClient, where: list[str], values: list[Any], order: str, limit: int
) -> list[ObjectText]:
    clause = " AND ".join([*where, "o.origin NOT IN (SELECT id FROM origins WHERE frozen)"])
    rows = await conn.execute_query_dict(
        "SELECT o.origin, o.kind, o.oid, o.seq, o.updated, o.payload FROM objects o"
        f" WHERE {clause} ORDER BY {order} LIMIT ?",
        [*values, limit],
    )
    return [
        ObjectText(
            str(r["origin"]), str(r["kind"]), str(r["oid"]), int(r["seq"]), str(r["updated"]),
            r["payload"],
        )
        for r in rows
    ]  # fmt: skip


def _scope(origin: str | None, commune: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    values: list[Any] = []
    if origin:
        where.append("o.origin = ?")
        values.append(origin)
    if commune:
        where.append("o.commune = ? COLLATE NOCASE")
        values.append(commune)
    return where, values


async def calendar_events(
    conn: BaseDBAsyncClient,
    *,
    origin: str | None,
    commune: str | None,
    not_over_at: str,
    audience: str | None,
    theme: str | None,
    theme_match: str | None,
    limit: int,
) -> list[ObjectText]:
    """Events not over at ``not_over_at`` (UTC text), soonest first; ``theme``: those of
    that theme, or whose title or description match the FTS5 expression ``theme_match``."""
    where, values = _scope(origin, commune)
    where += ["o.kind = 'event'", "coalesce(o.ends_at, o.starts_at) >= ?"]
    values.append(not_over_at)
    if audience:
        where.append("json_extract(o.payload, '$.audience') = ?")
        values.append(audience)
    if theme:
        where.append(
            "(o.theme = ? OR o.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?))"
        )
        values += [theme, theme_match]
    return await _read(conn, where, values, "o.starts_at, o.id", limit)


async def recent(
    conn: BaseDBAsyncClient,
    *,
    origin: str | None,
    commune: str | None,
    kinds: Sequence[str],
    limit: int,
) -> list[ObjectText]:
    """The most recently changed objects of ``kinds``, newest first."""
    where, values = _scope(origin, commune)
    where.append(f"o.kind IN ({', '.join('?' for _ in kinds)})")
    values += kinds
    return await _read(conn, where, values, "o.updated DESC, o.id DESC", limit)


async def event(conn: BaseDBAsyncClient, *, origin: str, oid: str) -> ObjectText | None:
    where = ["o.origin = ?", "o.kind = 'event'", "o.oid = ?"]
    items = await _read(conn, where, [origin, oid], "o.id", 1)
    return items[0] if items else None


async def upcoming_events(
    conn: BaseDBAsyncClient, *, origin: str, not_over_at: str, limit: int
) -> list[ObjectText]:
    where = ["o.origin = ?", "o.kind = 'event'", "coalesce(o.ends_at, o.starts_at) >= ?"]
    return await _read(conn, where, [origin, not_over_at], "o.starts_at, o.id", limit)


async def equipment(conn: BaseDBAsyncClient, *, origin: str, limit: int) -> list[ObjectText]:
    where = ["o.origin = ?", "o.kind = 'equipment'"]
    return await _read(conn, where, [origin], "o.title COLLATE NOCASE, o.id", limit)


async def place_payloads(conn: BaseDBAsyncClient, *, origins: Iterable[str]) -> dict[str, Any]:
    """The decoded place profiles of ``origins`` (whatever JSON they hold)."""
    wanted = sorted(set(origins))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
        chosen = wanted[start : start + 500]
        rows = await (
            CurrentObject.filter(kind="place", oid="place", origin__in=chosen)
            .using_db(conn)
            .values("origin", "payload")
        )
        for row in rows:
            try:
                found[row["origin"]] = json.loads(row["payload"])
            except ValueError:
                continue
    return found
