"""What ingest keeps aside: entries that arrived beyond a gap in their log
(``pending_entries``, bounded by the caller) and which sender introduced each new origin
(``origin_admissions``, for its hourly budget). Every function runs in the caller's
transaction (``conn``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

# -- admissions -------------------------------------------------------------------------


async def admitted_among(conn: BaseDBAsyncClient, *, origins: Sequence[str]) -> set[str]:
    """Those of ``origins`` some sender introduced already."""
    marks = ",".join("?" * len(origins))
    rows = await conn.execute_query_dict(
        f"SELECT origin FROM origin_admissions WHERE origin IN ({marks})", list(origins)
    )
    return {row["origin"] for row in rows}


async def admissions_since(conn: BaseDBAsyncClient, *, sender: str, since: datetime) -> int:
    """How many origins ``sender`` introduced after ``since``."""
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM origin_admissions WHERE sender = ? AND at > ?", [sender, since]
    )
    return int(rows[0]["n"])


async def admit(
    conn: BaseDBAsyncClient, *, origins: Sequence[str], sender: str, now: datetime
) -> None:
    await conn.execute_many(
        "INSERT INTO origin_admissions (origin, sender, at) VALUES (?, ?, ?)",
        [[origin, sender, now] for origin in origins],
    )


# -- entries beyond a gap ---------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """An entry kept aside: its seq and its JSON document as received."""

    seq: int
    document: str


@dataclass(frozen=True)
class Totals:
    entries: int
    bytes: int


async def waiting_after(conn: BaseDBAsyncClient, *, origin: str, seq: int) -> list[Waiting]:
    """The entries of ``origin`` kept aside after ``seq``, in seq order."""
    rows = await conn.execute_query_dict(
        "SELECT seq, document FROM pending_entries WHERE origin = ? AND seq > ? ORDER BY seq",
        [origin, seq],
    )
    return [Waiting(row["seq"], row["document"]) for row in rows]


async def drop(conn: BaseDBAsyncClient, *, origin: str, seq: int) -> None:
    await conn.execute_query(
        "DELETE FROM pending_entries WHERE origin = ? AND seq = ?", [origin, seq]
    )


async def drop_through(conn: BaseDBAsyncClient, *, origin: str, seq: int) -> None:
    """Drop the entries of ``origin`` kept aside up to ``seq``."""
    await conn.execute_query(
        "DELETE FROM pending_entries WHERE origin = ? AND seq <= ?", [origin, seq]
    )


async def drop_origin(conn: BaseDBAsyncClient, *, origin: str) -> None:
    await conn.execute_query("DELETE FROM pending_entries WHERE origin = ?", [origin])


async def count_of(conn: BaseDBAsyncClient, *, origin: str) -> int:
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM pending_entries WHERE origin = ?", [origin]
    )
    return int(rows[0]["n"])


async def totals(conn: BaseDBAsyncClient) -> Totals:
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM pending_entries"
    )
    return Totals(int(rows[0]["n"]), int(rows[0]["bytes"]))


async def keep(
    conn: BaseDBAsyncClient,
    *,
    origin: str,
    seq: int,
    document: str,
    size: int,
    source: str,
    now: datetime,
) -> bool:
    """Keep an entry aside; False when one with its seq is kept already."""
    inserted, _ = await conn.execute_query(
        "INSERT INTO pending_entries (origin, seq, document, received_at, source, size)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin, seq) DO NOTHING",
        [origin, seq, document, now, source, size],
    )
    return bool(inserted)


async def biggest_source(conn: BaseDBAsyncClient) -> str | None:
    """The source (sender) whose entries kept aside take the most bytes."""
    rows = await conn.execute_query_dict(
        "SELECT source FROM pending_entries GROUP BY source ORDER BY SUM(size) DESC,"
        " COUNT(*) DESC LIMIT 1"
    )
    return str(rows[0]["source"]) if rows else None


@dataclass(frozen=True)
class Sized:
    id: int
    size: int


async def oldest_of(conn: BaseDBAsyncClient, *, source: str, limit: int) -> list[Sized]:
    """The entries ``source`` sent that are kept aside, oldest first."""
    rows = await conn.execute_query_dict(
        "SELECT id, size FROM pending_entries WHERE source = ? ORDER BY received_at, id LIMIT ?",
        [source, limit],
    )
    return [Sized(row["id"], row["size"]) for row in rows]


async def drop_ids(conn: BaseDBAsyncClient, *, ids: Sequence[int]) -> None:
    await conn.execute_many("DELETE FROM pending_entries WHERE id = ?", [[i] for i in ids])


async def drop_older(conn: BaseDBAsyncClient, *, before: datetime) -> int:
    """Drop the entries kept aside since before ``before``, and the admissions of that
    age of origins that never got a log here; how many entries."""
    count, _ = await conn.execute_query(
        "DELETE FROM pending_entries WHERE received_at < ?", [before]
    )
    await conn.execute_query(
        "DELETE FROM origin_admissions WHERE at < ? AND origin NOT IN"
        " (SELECT id FROM origins) AND origin NOT IN (SELECT origin FROM pending_entries)",
        [before],
    )
    return int(count)


# -- what the operator sees --------------------------------------------------------------


@dataclass(frozen=True)
class BySource:
    source: str
    entries: int
    bytes: int


@dataclass(frozen=True)
class ByOrigin:
    origin: str
    entries: int
    bytes: int
    first: int
    head: int


async def by_source(conn: BaseDBAsyncClient, *, top: int) -> list[BySource]:
    """The ``top`` sources holding the most bytes."""
    rows = await conn.execute_query_dict(
        "SELECT source, COUNT(*) AS n, SUM(size) AS bytes FROM pending_entries"
        " GROUP BY source ORDER BY bytes DESC, source LIMIT ?",
        [top],
    )
    return [BySource(row["source"], row["n"], row["bytes"]) for row in rows]


async def by_origin(conn: BaseDBAsyncClient, *, top: int) -> list[ByOrigin]:
    """The ``top`` origins holding the most bytes, with their first seq kept aside and
    the head of their log."""
    rows = await conn.execute_query_dict(
        "SELECT p.origin, COUNT(*) AS n, SUM(p.size) AS bytes, MIN(p.seq) AS first,"
        " COALESCE(o.head_seq, 0) AS head FROM pending_entries p LEFT JOIN origins o"
        " ON o.id = p.origin GROUP BY p.origin ORDER BY bytes DESC, p.origin LIMIT ?",
        [top],
    )
    return [
        ByOrigin(row["origin"], row["n"], row["bytes"], row["first"], row["head"]) for row in rows
    ]
