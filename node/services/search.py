"""Network-wide search over every current object of every accepted origin.

SQLite FTS5 (``unicode61 remove_diacritics 2``: "numerique" finds "numérique"), ranked
by bm25 with the title weighing most; filters by kind, origin, commune, theme and, for
events, a date range. Past events are left out unless asked for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from federation.timeutil import format_ts, utc_now

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_RESULTS = 100


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    kind: str | None = None
    origin: str | None = None
    commune: str | None = None
    theme: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    include_past: bool = False
    limit: int = 20
    offset: int = 0


def fts_expression(text: str) -> str:
    """Every word must match, the last one as a prefix (typing "proj" finds "projecteur")."""
    words = _WORD.findall(text)
    if not words:
        return ""
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


async def search(query: SearchQuery) -> tuple[list[dict[str, Any]], int]:
    """Matching objects (best first) and the total number of matches."""
    where: list[str] = ["o.kind != 'place'"] if not query.kind else ["o.kind = ?"]
    values: list[Any] = [] if not query.kind else [query.kind]
    expression = fts_expression(query.q)
    source = "objects o"
    order = "o.starts_at IS NULL, o.starts_at, o.title"
    if expression:
        source = "search_index JOIN objects o ON o.id = search_index.rowid"
        where.append("search_index MATCH ?")
        values.append(expression)
        order = "bm25(search_index, 10.0, 1.0, 4.0, 3.0, 3.0), o.starts_at"
    for column, value in (
        ("o.origin", query.origin),
        ("o.commune", query.commune),
        ("o.theme", query.theme),
    ):
        if value:
            where.append(f"{column} = ? COLLATE NOCASE")
            values.append(value)
    where.append("o.origin NOT IN (SELECT id FROM origins WHERE frozen)")
    if not query.include_past:
        where.append("(o.kind != 'event' OR coalesce(o.ends_at, o.starts_at) >= ?)")
        values.append(format_ts(utc_now()))
    if query.date_from:
        where.append("(o.kind != 'event' OR coalesce(o.ends_at, o.starts_at) >= ?)")
        values.append(query.date_from)
    if query.date_to:
        where.append("(o.kind != 'event' OR o.starts_at <= ?)")
        values.append(query.date_to)
    clause = " AND ".join(where)
    async with in_transaction() as conn:
        total = (
            await conn.execute_query_dict(f"SELECT count(*) AS n FROM {source} WHERE {clause}", values)
        )[0]["n"]
        rows = await conn.execute_query_dict(
            f"SELECT o.origin, o.kind, o.oid, o.title, o.theme, o.place, o.commune, o.seq,"
            f" o.updated, o.starts_at, o.ends_at, o.payload FROM {source} WHERE {clause}"
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            [*values, min(query.limit, MAX_RESULTS), query.offset],
        )
    return [_result(row) for row in rows], total


def _result(row: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(row["payload"])
    result = {
        "origin": row["origin"],
        "kind": row["kind"],
        "id": row["oid"],
        "title": row["title"],
        "description": payload.get("description", ""),
        "theme": row["theme"] or None,
        "place": row["place"],
        "commune": row["commune"],
        "seq": row["seq"],
        "updated": row["updated"],
    }
    for name in ("start", "end", "location", "level", "category", "quantity", "audience"):
        if name in payload:
            result[name] = payload[name]
    return result
