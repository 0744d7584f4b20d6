"""Network-wide search over every current object of every accepted origin.

One service for ``GET /api/v1/search`` and the ``/search`` page. SQLite FTS5 over title,
description (and the other free-text fields), theme or category, place name and commune,
with the ``unicode61 remove_diacritics 2`` tokenizer: "numerique" finds "numérique" and
the other way round. The index is an external-content table over ``objects`` kept by
triggers (node/db.py), so it changes in the very transaction of a publish or an ingest.

Ranking and order:

- with words: bm25, the title weighing most (title 10, theme 4, place 3, commune 3,
  body 1); when only events are asked for, the soonest first, then bm25;
- without words: upcoming events first (soonest first), then the rest by title.

Filters: kind, origin, commune, theme (or equipment category), and a date range that
keeps the events overlapping it (a date range alone means "events"). Past events are
left out unless ``include_past``; objects of frozen origins (proven fork) never show.
By default the offers are searched: skills, equipment and events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from federation.timeutil import format_ts, utc_now

from .objects import api_timestamp, load_payload

_WORD = re.compile(r"\w+", re.UNICODE)
_DATE_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Days typed by people are days of the Pays de Brest.
LOCAL_TZ = ZoneInfo("Europe/Paris")


def day_bound(text: str, end_of_day: bool) -> str | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY`` as RFC 3339 at the start (or end) of that day,
    Paris time; None if it is not a date."""
    text = text.strip()
    match = _DATE_FR.match(text)
    if match:
        text = f"{match.group(3)}-{int(match.group(2)):02d}-{int(match.group(1)):02d}"
    if not _DATE_ISO.match(text):
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return None
    moment = day.replace(hour=23, minute=59, second=59) if end_of_day else day
    return moment.replace(tzinfo=LOCAL_TZ).isoformat()


MAX_RESULTS = 100
#: Counting stops here: past it, "more than MAX_COUNT results" is all a person needs, and
#: an exact count of a common word costs a scan of every match.
MAX_COUNT = 1000
#: Ranking considers at most this many matches, the most recently indexed first: bm25 over
#: every match of a word found in most objects would cost a scan of them all.
MAX_RANKED = 1000
#: What a search without ``kind`` looks through: the offers of the places.
DEFAULT_KINDS = ("skill", "equipment", "event")
#: Kinds whose objects have a period (``start``/``end``), hence date filters.
DATED_KINDS = ("event", "booking")
#: bm25 weights, in the column order of ``search_index``: title, body, theme, place, commune.
_BM25 = "bm25(search_index, 10.0, 1.0, 4.0, 3.0, 3.0)"
#: Markers around the matched words of a snippet (control characters never found in
#: text, so the caller escapes the snippet first, then turns them into markup).
MARK_START, MARK_END = "\x02", "\x03"


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
    """Every word must match, the last one as a prefix (typing "proj" finds "projecteur").
    Words are quoted, so no FTS5 syntax can come from the user."""
    words = _WORD.findall(text)
    if not words:
        return ""
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _highlight_expression(text: str) -> str:
    """Any of the words, whole: what snippets highlight. (A prefix here would make FTS5
    expand it over the whole index for each row: 1 ms a row for a common word.)"""
    return " OR ".join(f'"{word}"' for word in _WORD.findall(text))


def _conditions(query: SearchQuery, matching: bool) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    values: list[Any] = []
    dated = bool(query.date_from or query.date_to)
    if query.kind:
        where.append("o.kind = ?")
        values.append(query.kind)
    elif dated:
        where.append("o.kind = 'event'")
    else:
        where.append(f"o.kind IN ({', '.join('?' for _ in DEFAULT_KINDS)})")
        values.extend(DEFAULT_KINDS)
    if matching:
        expression = fts_expression(query.q)
        # The index also holds commune and theme: filtering there first lets it intersect
        # posting lists instead of checking every match (exact equality is checked below).
        for column, value in (("commune", query.commune), ("theme", query.theme)):
            if value and _WORD.search(value):
                phrase = " ".join(_WORD.findall(value))
                expression = f'{expression} AND {column} : "{phrase}"'
        where.append("search_index MATCH ?")
        values.append(expression)
    for column, value in (
        ("o.origin", query.origin),
        ("o.commune", query.commune),
        ("o.theme", query.theme),
    ):
        if value:
            where.append(f"{column} = ? COLLATE NOCASE")
            values.append(value)
    where.append("o.origin NOT IN (SELECT id FROM origins WHERE frozen)")
    undated = f"o.kind NOT IN ({', '.join(repr(k) for k in DATED_KINDS)})"
    if not query.include_past:
        where.append(f"({undated} OR coalesce(o.ends_at, o.starts_at) >= ?)")
        values.append(format_ts(utc_now()))
    if query.date_from:
        where.append(f"({undated} OR coalesce(o.ends_at, o.starts_at) >= ?)")
        values.append(query.date_from)
    if query.date_to:
        where.append(f"({undated} OR o.starts_at <= ?)")
        values.append(query.date_to)
    return where, values


def _order(query: SearchQuery, matching: bool) -> str:
    """ORDER BY of the outer query, over ``c`` (candidates with their ``score``)."""
    if not matching:
        return "c.starts_at IS NULL, c.starts_at, c.title COLLATE NOCASE, c.id"
    if query.kind in DATED_KINDS or (not query.kind and (query.date_from or query.date_to)):
        return "c.starts_at, c.score, c.id"
    return "c.score, c.starts_at IS NULL, c.starts_at, c.id"


async def search(query: SearchQuery, *, snippets: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Matching objects (best first) and the total number of matches.

    With ``snippets``, each result also has ``snippet``: an extract of its text around
    the matched words, which are wrapped in ``MARK_START``/``MARK_END``.
    """
    matching = bool(fts_expression(query.q))
    where, values = _conditions(query, matching)
    clause = " AND ".join(where)
    if matching:
        matches = f"FROM search_index JOIN objects o ON o.id = search_index.rowid WHERE {clause}"
        # The most recently indexed matches, each with its bm25 score (lower is better).
        candidates = (
            f"SELECT o.*, {_BM25} AS score {matches}"
            f" ORDER BY search_index.rowid DESC LIMIT {MAX_RANKED}"
        )
    else:
        matches = f"FROM objects o WHERE {clause}"
        candidates = f"SELECT o.*, 0 AS score {matches}"
    async with in_transaction() as conn:
        counted = await conn.execute_query_dict(
            f"SELECT count(*) AS n FROM (SELECT 1 {matches} LIMIT {MAX_COUNT + 1})", values
        )
        rows = await conn.execute_query_dict(
            f"SELECT c.id, c.origin, c.kind, c.oid, c.title, c.theme, c.place, c.commune,"
            f" c.seq, c.updated, c.starts_at, c.ends_at, c.payload FROM ({candidates}) c"
            f" ORDER BY {_order(query, matching)} LIMIT ? OFFSET ?",
            [*values, max(0, min(query.limit, MAX_RESULTS)), max(0, query.offset)],
        )
        extracts: dict[int, str] = {}
        if snippets and matching and rows:
            # Snippets of the page's rows only: they cost a look at each row's text.
            found = await conn.execute_query_dict(
                f"SELECT rowid, snippet(search_index, 1, '{MARK_START}', '{MARK_END}', '…', 24)"
                f" AS snippet FROM search_index WHERE search_index MATCH ?"
                f" AND rowid IN ({', '.join('?' for _ in rows)})",
                [_highlight_expression(query.q), *(row["id"] for row in rows)],
            )
            extracts = {row["rowid"]: row["snippet"] for row in found}
    for row in rows:
        row["snippet"] = extracts.get(row["id"], "")
    results = [_result(row, snippets) for row in rows]
    return results, min(int(counted[0]["n"]), MAX_COUNT + 1)


def _result(row: dict[str, Any], snippets: bool) -> dict[str, Any]:
    payload = load_payload(row["payload"])
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
        "updated": api_timestamp(row["updated"]),
    }
    for name in (
        "start",
        "end",
        "location",
        "level",
        "category",
        "quantity",
        "audience",
        "capacity",
    ):
        if name in payload:
            result[name] = payload[name]
    if snippets:
        result["snippet"] = row["snippet"] or ""
    return result


async def facets() -> dict[str, list[str]]:
    """The communes and themes (or categories) found among searchable objects, for the
    filters of the search form."""
    async with in_transaction() as conn:
        communes = await conn.execute_query_dict(
            "SELECT DISTINCT commune FROM origins WHERE commune IS NOT NULL AND commune != ''"
            " AND NOT frozen ORDER BY commune COLLATE NOCASE"
        )
        themes = await conn.execute_query_dict(
            "SELECT DISTINCT theme FROM objects WHERE theme != '' AND kind IN (?, ?, ?)"
            " ORDER BY theme COLLATE NOCASE",
            list(DEFAULT_KINDS),
        )
    return {
        "communes": [row["commune"] for row in communes],
        "themes": [row["theme"] for row in themes],
    }
