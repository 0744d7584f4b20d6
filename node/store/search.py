"""The reads of a search (``services.search``): the full-text index (``search_index``,
FTS5 over ``objects``, kept by the triggers of ``db.SEARCH_DDL``) and the objects'
columns, on the read-only connection a search runs on (``store.search_readers``), plus
the values the search form offers. Which stages run, the ranking by title and the
answer's shape are the service's."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from tortoise.backends.base.client import BaseDBAsyncClient

#: bm25 weights, in the column order of ``search_index``: title, body, theme, place, commune.
_BM25 = "bm25(search_index, 10.0, 1.0, 4.0, 3.0, 3.0)"

_COLUMNS = (
    "o.id, o.origin, o.kind, o.oid, o.title, o.theme, o.place, o.commune, o.seq, o.updated,"
    " o.starts_at, o.ends_at, o.payload"
)


class SearchRow(TypedDict):
    """An object as a search shows it; ``snippet`` and ``title_marked`` when asked."""

    id: int
    origin: str
    kind: str
    oid: str
    title: str
    theme: str
    place: str
    commune: str
    seq: int
    updated: str
    starts_at: str | None
    ends_at: str | None
    payload: str
    snippet: NotRequired[str]
    title_marked: NotRequired[str]


@dataclass(frozen=True)
class SearchFilters:
    """What a search keeps besides its words. ``not_over_at`` (UTC text): past events
    are left out (None: kept); ``kinds``: the kinds searched when ``kind`` is None and
    nothing else narrows them; ``default_licence``: what an absent licence counts as."""

    kinds: Sequence[str]
    default_licence: str
    not_over_at: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    kind: str | None = None
    origin: str | None = None
    commune: str | None = None
    theme: str | None = None
    licence: str | None = None
    #: Origins left out (frozen after a proven fork).
    left_out: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Conditions:
    """SQL conditions on ``objects o`` and their values."""

    where: list[str]
    values: list[Any]


def conditions(filters: SearchFilters) -> Conditions:
    """The conditions on ``objects o`` besides the words (no condition on the origin when
    none is left out: nothing then to check row by row)."""
    where: list[str] = []
    values: list[Any] = []
    # Dates and kind first: only dated kinds (events, bookings) have a start, so "no
    # start" means "undated", which the listing index (starts_at, ..., ends_at, kind)
    # answers without reading the row: browsing skips past events in the index alone.
    if filters.not_over_at is not None:
        where.append("(o.starts_at IS NULL OR coalesce(o.ends_at, o.starts_at) >= ?)")
        values.append(filters.not_over_at)
    if filters.date_from:
        where.append("(o.starts_at IS NULL OR coalesce(o.ends_at, o.starts_at) >= ?)")
        values.append(filters.date_from)
    if filters.date_to:
        where.append("(o.starts_at IS NULL OR o.starts_at <= ?)")
        values.append(filters.date_to)
    # "+o.kind": the kind is checked, never looked up by. An index led by the kind
    # (``objects_by_kind``, for membership) made browsing sort every object of the kinds
    # (80 ms at 30,000 objects) instead of walking the listing index (under 1 ms).
    if filters.kind:
        where.append("+o.kind = ?")
        values.append(filters.kind)
    elif filters.date_from or filters.date_to:
        where.append("+o.kind = 'event'")
    elif filters.licence:
        where.append("+o.kind = 'resource'")
    else:
        where.append(f"+o.kind IN ({', '.join('?' for _ in filters.kinds)})")
        values.extend(filters.kinds)
    for column, value in (("o.origin", filters.origin), ("o.commune", filters.commune)):
        if value:
            where.append(f"{column} = ? COLLATE NOCASE")
            values.append(value)
    if filters.theme:
        where.append(
            "(o.theme = ? COLLATE NOCASE OR (o.kind = 'resource' AND EXISTS (SELECT 1 FROM"
            " json_each(o.payload, '$.themes') t WHERE t.value = ? COLLATE NOCASE)))"
        )
        values.extend([filters.theme, filters.theme])
    if filters.licence:
        where.append("coalesce(json_extract(o.payload, '$.licence'), ?) = ? COLLATE NOCASE")
        values.extend([filters.default_licence, filters.licence])
    if filters.left_out:
        where.append(f"o.origin NOT IN ({', '.join('?' for _ in filters.left_out)})")
        values.extend(filters.left_out)
    return Conditions(where, values)


def frozen_origins(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT id FROM origins WHERE frozen")]


def _newest(
    columns: str,
    *,
    expression: str,
    where: Conditions,
    leave_out: Sequence[int],
    limit: int,
    below: int | None,
) -> tuple[str, list[Any]]:
    clause = " AND ".join(["search_index MATCH ?", *where.where])
    values: list[Any] = [expression, *where.values]
    if leave_out:
        clause += f" AND o.id NOT IN ({', '.join('?' for _ in leave_out)})"
        values += leave_out
    if below is not None:
        clause += " AND search_index.rowid < ?"
        values.append(below)
    return (
        f"SELECT {columns} FROM search_index JOIN objects o ON o.id = search_index.rowid"
        f" WHERE {clause} ORDER BY search_index.rowid DESC LIMIT {int(limit)}",
        values,
    )


def ranked_matches(
    db: sqlite3.Connection,
    *,
    expression: str,
    where: Conditions,
    leave_out: Sequence[int],
    limit: int,
    dated_first: bool,
) -> list[tuple[int, str | None, float, str]]:
    """(id, starts_at, bm25 score, title) of the ``limit`` most recently indexed objects
    matching the FTS5 ``expression`` and ``where``, but ``leave_out``, best first: by
    score (lower is better), then the soonest, then by id; with ``dated_first``, the
    soonest first, then by score. The newest are taken in the index's order, with
    ``LIMIT``: SQLite computes bm25 for the rows returned only (then sorts them, in C)."""
    sql, values = _newest(
        f"o.id, o.starts_at, {_BM25} AS score, o.title",
        expression=expression,
        where=where,
        leave_out=leave_out,
        limit=limit,
        below=None,
    )
    order = (
        "starts_at IS NULL, starts_at, score, id"
        if dated_first
        else "score, starts_at IS NULL, starts_at, id"
    )
    return [
        (int(row[0]), row[1], float(row[2]), row[3])
        for row in db.execute(f"SELECT * FROM ({sql}) ORDER BY {order}", values)
    ]


def newest_match_ids(
    db: sqlite3.Connection,
    *,
    expression: str,
    where: Conditions,
    leave_out: Sequence[int],
    limit: int,
    below: int,
) -> list[int]:
    """The ids of the next matches (as ``ranked_matches``) below the id ``below``."""
    sql, values = _newest(
        "o.id", expression=expression, where=where, leave_out=leave_out, limit=limit, below=below
    )
    return [int(row[0]) for row in db.execute(sql, values)]


def count_matches(
    db: sqlite3.Connection,
    *,
    expression: str,
    where: Conditions,
    leave_out: Sequence[int],
    limit: int,
    below: int,
) -> int:
    """How many ``newest_match_ids`` would give (at most ``limit``), without them."""
    sql, values = _newest(
        "1", expression=expression, where=where, leave_out=leave_out, limit=limit, below=below
    )
    (counted,) = db.execute(f"SELECT count(*) FROM ({sql})", values).fetchone()
    return int(counted)


class SnapshotReads:
    """Reads of other stores (``store.cooperation.DictReads``: the seats left of a page's
    events) on a search's connection, in its snapshot: each await finishes at once."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        cursor = self.db.execute(query, values or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _rows(cursor: sqlite3.Cursor) -> list[SearchRow]:
    names = [column[0] for column in cursor.description]
    return [cast(SearchRow, dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def listing(
    db: sqlite3.Connection, *, where: Conditions, count_limit: int, limit: int, offset: int
) -> tuple[int, list[SearchRow]]:
    """Without words: how many objects match (at most ``count_limit``) and a page of them,
    upcoming events first (soonest first), then the rest by title (the order of the
    ``objects_listing_by_start`` index)."""
    matches = f"FROM objects o WHERE {' AND '.join(where.where)}"
    (counted,) = db.execute(
        f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT {int(count_limit)})", where.values
    ).fetchone()
    rows = _rows(
        db.execute(
            f"SELECT {_COLUMNS} {matches}"
            " ORDER BY o.starts_at IS NULL, o.starts_at, o.title COLLATE NOCASE, o.id"
            " LIMIT ? OFFSET ?",
            [*where.values, limit, offset],
        )
    )
    return int(counted), rows


def rows(db: sqlite3.Connection, *, ids: Sequence[int]) -> list[SearchRow]:
    """The rows of ``ids``, in that order."""
    if not ids:
        return []
    found = _rows(
        db.execute(
            f"SELECT {_COLUMNS} FROM objects o WHERE o.id IN ({', '.join('?' for _ in ids)})",
            list(ids),
        )
    )
    by_id = {row["id"]: row for row in found}
    return [by_id[i] for i in ids if i in by_id]


def marked(
    db: sqlite3.Connection, *, terms: Sequence[str], ids: Sequence[int], start: str, end: str
) -> dict[int, tuple[str, str]]:
    """For each of ``ids`` that holds one of ``terms`` (whole terms): its title with the
    terms between ``start`` and ``end``, and a snippet of its body marked the same way."""
    found = db.execute(
        f"SELECT rowid, highlight(search_index, 0, '{start}', '{end}'),"
        f" snippet(search_index, 1, '{start}', '{end}', '…', 24)"
        f" FROM search_index WHERE search_index MATCH ?"
        f" AND rowid IN ({', '.join('?' for _ in ids)})",
        [" OR ".join(f'"{term}"' for term in terms), *ids],
    ).fetchall()
    return {rowid: (title, snippet) for rowid, title, snippet in found}


def text_holding(db: sqlite3.Connection, *, term: str) -> tuple[str, str] | None:
    """The title and body of one object that holds ``term`` (folded), if any."""
    found = db.execute(
        "SELECT o.title, o.body FROM search_index JOIN objects o ON o.id = search_index.rowid"
        " WHERE search_index MATCH ? LIMIT 1",
        [f'"{term}"'],
    ).fetchone()
    return None if found is None else (found[0], found[1])


@dataclass(frozen=True)
class Facets:
    """The communes of origins not frozen, and the ``theme`` column of the objects of
    ``kinds`` (a resource's themes one per line), each value once."""

    communes: list[str]
    themes: list[str]


def facets(db: sqlite3.Connection, *, kinds: Sequence[str]) -> Facets:
    communes = db.execute(
        "SELECT DISTINCT commune FROM origins WHERE commune IS NOT NULL AND commune != ''"
        " AND NOT frozen ORDER BY commune COLLATE NOCASE"
    ).fetchall()
    themes = db.execute(
        f"SELECT DISTINCT theme FROM objects WHERE theme != ''"
        f" AND kind IN ({', '.join('?' for _ in kinds)})",
        list(kinds),
    ).fetchall()
    return Facets([row[0] for row in communes], [row[0] for row in themes])


# -- the connections searches read on, and the index's vocabulary -------------------------


def database_file(conn: BaseDBAsyncClient) -> str | None:
    """The SQLite file of a node's connection (``db.Database.connection``, or its
    transaction's), which searches open read-only connections to; None: not a file."""
    # Within a transaction, Tortoise hands out a wrapper of the connection.
    filename = getattr(getattr(conn, "_parent", conn), "filename", None)
    return filename if isinstance(filename, str) and filename != ":memory:" else None


def open_reader(database: str, *, cache_kib: int, mmap_bytes: int = 0) -> sqlite3.Connection:
    """A read-only connection to ``database`` (transactions begun by hand), with a page
    cache of ``cache_kib`` KiB, the first ``mmap_bytes`` of the file read through a memory
    map, and the index's vocabulary as ``temp.search_terms``."""
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
    # SQLite maps the file when it is first read; if mapping fails, it reads as before.
    connection.execute(f"PRAGMA mmap_size = {int(mmap_bytes)}")
    connection.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms"
        " USING fts5vocab(main, search_index, row)"
    )
    return connection


def index_cookie(db: sqlite3.Connection) -> bytes | None:
    """The FTS5 structure record (row 10 of the index's ``_data`` table, part of FTS5's
    file format): it changes with every write to the index, so it tells whether a
    vocabulary read earlier is still the index's, at the cost of reading one small row."""
    rows = db.execute("SELECT block FROM search_index_data WHERE id = 10").fetchall()
    return bytes(rows[0][0]) if rows and rows[0][0] is not None else None


def largest_object_id(db: sqlite3.Connection) -> int:
    (size,) = db.execute("SELECT max(id) FROM objects").fetchone()
    return int(size or 0)


def term_documents(db: sqlite3.Connection) -> dict[str, int]:
    """Each term of the index, with how many objects hold it."""
    return dict(db.execute("SELECT term, doc FROM temp.search_terms"))
