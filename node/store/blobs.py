"""Attachments as rows: the blobs held (``blobs``: the index of the files under
``blobs/``), the ones to fetch (``blob_fetches``), and the attachments and photos the
live objects list (read from their payloads). The rules (quota, grace, what to keep)
and the lifecycle of a fetch (``services.blobs.BLOB_FETCH``) are ``services.blobs``';
functions here take the states as values, and a move names the states it moves from.
Every function takes the connection (``conn``): the node's, or the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ..models import Blob, BlobFetch

#: Every blob of every live object, one row each (origin, oid, title, name — a photo's
#: text alternative —, media_type, size, sha256).
_ATTACHMENTS = (
    "SELECT o.origin, o.oid, o.title, json_extract(a.value, '$.name') AS name,"
    " json_extract(a.value, '$.media_type') AS media_type,"
    " json_extract(a.value, '$.size') AS size, json_extract(a.value, '$.sha256') AS sha256"
    " FROM objects o, json_each(o.payload, '$.attachments') a WHERE o.kind = 'resource'"
    " UNION ALL "
    "SELECT o.origin, o.oid, o.title, json_extract(a.value, '$.alt') AS name,"
    " json_extract(a.value, '$.media_type') AS media_type,"
    " json_extract(a.value, '$.size') AS size, json_extract(a.value, '$.sha256') AS sha256"
    " FROM objects o, json_each(o.payload, '$.photos') a"
    " WHERE o.kind IN ('equipment', 'place')"
)


@dataclass(frozen=True)
class BlobRow:
    sha256: str
    size: int
    media_type: str | None
    keep_until: datetime | None


@dataclass(frozen=True)
class FetchRow:
    """A blob to fetch; ``tried`` is the JSON list of the peers asked last time."""

    sha256: str
    size: int
    state: str
    attempts: int
    next_attempt: datetime
    last_error: str | None
    tried: str
    updated: datetime | None


@dataclass(frozen=True)
class Reference:
    """A live object's attachment or photo that is a blob."""

    origin: str
    oid: str
    title: str
    name: str | None
    media_type: str | None
    size: int
    sha256: str


async def bytes_held(conn: BaseDBAsyncClient) -> int:
    rows = await conn.execute_query_dict("SELECT coalesce(sum(size), 0) AS n FROM blobs")
    return int(rows[0]["n"])


async def blob(conn: BaseDBAsyncClient, *, sha256: str) -> BlobRow | None:
    row = await Blob.filter(sha256=sha256).using_db(conn).first()
    return None if row is None else BlobRow(row.sha256, row.size, row.media_type, row.keep_until)


async def held_among(conn: BaseDBAsyncClient, *, shas: Iterable[str]) -> set[str]:
    wanted = sorted(set(shas))
    if not wanted:
        return set()
    return {row.sha256 for row in await Blob.filter(sha256__in=wanted).using_db(conn)}


async def all_held(conn: BaseDBAsyncClient) -> set[str]:
    return {row.sha256 for row in await Blob.all().using_db(conn).only("sha256")}


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


async def index(
    conn: BaseDBAsyncClient,
    *,
    sha256: str,
    size: int,
    media_type: str | None,
    keep_until: datetime | None,
    now: datetime,
    fetch_from: Sequence[str],
    fetch_to: str,
) -> bool:
    """Index a blob whose file is in place; one held already keeps the later of its
    ``keep_until`` and this one. Its fetch, if any (in one of ``fetch_from``), moves to
    ``fetch_to``. True when it is new."""
    rows = await conn.execute_query_dict("SELECT 1 FROM blobs WHERE sha256 = ?", [sha256])
    if rows and keep_until is not None:
        await conn.execute_query(
            "UPDATE blobs SET keep_until = max(coalesce(keep_until, ?), ?) WHERE sha256 = ?",
            [keep_until, keep_until, sha256],
        )
    elif not rows:
        await conn.execute_query(
            "INSERT INTO blobs (sha256, size, media_type, created, keep_until)"
            " VALUES (?, ?, ?, ?, ?)",
            [sha256, size, media_type, now, keep_until],
        )
    await conn.execute_query(
        "UPDATE blob_fetches SET state = ?, last_error = NULL, updated = ?"
        f" WHERE sha256 = ? AND state IN ({_marks(fetch_from)})",
        [fetch_to, now, sha256, *fetch_from],
    )
    return not rows


async def note_listed(
    conn: BaseDBAsyncClient,
    *,
    sizes: Mapping[str, int],
    now: datetime,
    state: str,
    again_from: Sequence[str],
) -> int:
    """Blobs (sha256: size) that stored objects list: those held lose their upload grace,
    the others get a fetch in ``state`` (a fetch row in one of ``again_from`` moves to
    ``state``). Returns how many are to fetch."""
    marks = ", ".join("?" for _ in sizes)
    rows = await conn.execute_query_dict(
        f"SELECT sha256 FROM blobs WHERE sha256 IN ({marks})", list(sizes)
    )
    present = {row["sha256"] for row in rows}
    if present:
        await conn.execute_many(
            "UPDATE blobs SET keep_until = NULL WHERE sha256 = ?", [[sha] for sha in present]
        )
    missing = [
        [sha, size, state, now, now, *again_from]
        for sha, size in sizes.items()
        if sha not in present
    ]
    if missing:
        await conn.execute_many(
            "INSERT INTO blob_fetches (sha256, size, state, attempts, next_attempt, tried, created)"
            " VALUES (?, ?, ?, 0, ?, '[]', ?) ON CONFLICT (sha256) DO UPDATE SET"
            " state = excluded.state, next_attempt = excluded.next_attempt"
            f" WHERE blob_fetches.state IN ({_marks(again_from)})",
            missing,
        )
    return len(missing)


def _reference(row: dict[str, Any]) -> Reference:
    return Reference(
        row["origin"], row["oid"], row["title"], row["name"], row["media_type"],
        int(row["size"]), row["sha256"],
    )  # fmt: skip


async def references(conn: BaseDBAsyncClient, *, sha256: str) -> list[Reference]:
    """The live attachments and photos that are ``sha256``, by origin and oid."""
    rows = await conn.execute_query_dict(
        f"SELECT * FROM ({_ATTACHMENTS}) WHERE sha256 = ? ORDER BY origin, oid", [sha256]
    )
    return [_reference(row) for row in rows]


async def drop_and_refetch(
    conn: BaseDBAsyncClient,
    *,
    sha256: str,
    error: str,
    now: datetime,
    state: str,
    again_from: Sequence[str],
) -> None:
    """Forget a held blob; fetch it again (with ``error`` as why) if an object lists it:
    a fetch row in ``state``, or the row there moved from one of ``again_from``. In the
    caller's write transaction."""
    await conn.execute_query("DELETE FROM blobs WHERE sha256 = ?", [sha256])
    rows = await conn.execute_query_dict(
        f"SELECT size FROM ({_ATTACHMENTS}) WHERE sha256 = ? LIMIT 1", [sha256]
    )
    if rows:
        await conn.execute_query(
            "INSERT INTO blob_fetches (sha256, size, state, attempts, next_attempt, tried,"
            " created, last_error) VALUES (?, ?, ?, 0, ?, '[]', ?, ?)"
            " ON CONFLICT (sha256) DO UPDATE SET state = excluded.state, next_attempt = ?,"
            f" last_error = excluded.last_error WHERE blob_fetches.state IN"
            f" ({_marks(again_from)})",
            [sha256, int(rows[0]["size"]), state, now, now, error, now, *again_from],
        )


async def drop_unlisted(conn: BaseDBAsyncClient, *, now: datetime) -> list[str]:
    """Delete the blobs no live object lists, past their ``keep_until``, and the fetches
    of blobs no live object lists (in the caller's write transaction). Returns the
    blobs deleted."""
    rows = await conn.execute_query_dict(
        f"SELECT sha256 FROM blobs WHERE (keep_until IS NULL OR keep_until < ?)"
        f" AND sha256 NOT IN (SELECT sha256 FROM ({_ATTACHMENTS}))",
        [now],
    )
    dropped = [row["sha256"] for row in rows]
    if dropped:
        await conn.execute_many("DELETE FROM blobs WHERE sha256 = ?", [[s] for s in dropped])
    await conn.execute_query(
        f"DELETE FROM blob_fetches WHERE sha256 NOT IN (SELECT sha256 FROM ({_ATTACHMENTS}))"
    )
    return dropped


def _fetch(row: BlobFetch) -> FetchRow:
    return FetchRow(
        row.sha256, row.size, row.state, row.attempts, row.next_attempt, row.last_error,
        row.tried, row.updated,
    )  # fmt: skip


async def fetches(conn: BaseDBAsyncClient, *, shas: Iterable[str]) -> dict[str, FetchRow]:
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    return {
        row.sha256: _fetch(row) for row in await BlobFetch.filter(sha256__in=wanted).using_db(conn)
    }


async def fetches_by_state(conn: BaseDBAsyncClient) -> dict[str, int]:
    rows = await conn.execute_query_dict(
        "SELECT state, count(*) AS n FROM blob_fetches GROUP BY state"
    )
    return {row["state"]: int(row["n"]) for row in rows}


async def wanted_shas(conn: BaseDBAsyncClient, *, states: Sequence[str], limit: int) -> list[str]:
    """The blobs whose fetch is in one of ``states``, oldest first."""
    rows = await (
        BlobFetch.filter(state__in=list(states)).using_db(conn).order_by("created").limit(limit)
    )
    return [row.sha256 for row in rows]


# -- the fetch worker's rows ----------------------------------------------------------------


async def fetch(conn: BaseDBAsyncClient, *, sha256: str) -> FetchRow | None:
    row = await BlobFetch.filter(sha256=sha256).using_db(conn).first()
    return None if row is None else _fetch(row)


async def fetch_wanted(conn: BaseDBAsyncClient, *, sha256: str) -> bool:
    """Whether the blob is still to fetch (its row was not dropped meanwhile)."""
    return await BlobFetch.filter(sha256=sha256).using_db(conn).exists()


async def fetches_due(
    conn: BaseDBAsyncClient, *, state: str, now: datetime, limit: int
) -> list[FetchRow]:
    """The rows in ``state`` due at ``now``, the most overdue first."""
    rows = (
        await BlobFetch.filter(state=state, next_attempt__lte=now)
        .using_db(conn)
        .order_by("next_attempt", "created")
        .limit(limit)
    )
    return [_fetch(row) for row in rows]


async def fetches_in(conn: BaseDBAsyncClient, *, state: str) -> list[FetchRow]:
    """The rows in ``state``, the oldest first."""
    return [
        _fetch(row)
        for row in await BlobFetch.filter(state=state).using_db(conn).order_by("created")
    ]


async def move_fetches(
    conn: BaseDBAsyncClient, *, from_state: str, to_state: str, next_attempt: datetime
) -> None:
    await (
        BlobFetch.filter(state=from_state)
        .using_db(conn)
        .update(state=to_state, next_attempt=next_attempt)
    )


async def schedule_fetch(
    conn: BaseDBAsyncClient, *, sha256: str, from_state: str, state: str, next_attempt: datetime
) -> bool:
    """The fetch, if still in ``from_state``, moves to ``state``, due at ``next_attempt``.
    Whether it moved."""
    moved = (
        await BlobFetch.filter(sha256=sha256, state=from_state)
        .using_db(conn)
        .update(state=state, next_attempt=next_attempt)
    )
    return bool(moved)


async def start_fetch(
    conn: BaseDBAsyncClient, *, sha256: str, from_state: str, state: str, now: datetime
) -> bool:
    """The fetch, if still in ``from_state``, moves to ``state``. Whether it moved."""
    moved = (
        await BlobFetch.filter(sha256=sha256, state=from_state)
        .using_db(conn)
        .update(state=state, updated=now)
    )
    return bool(moved)


async def note_tried(conn: BaseDBAsyncClient, *, sha256: str, tried: str) -> None:
    """The peers asked at the last attempt, and what failed (JSON text)."""
    await BlobFetch.filter(sha256=sha256).using_db(conn).update(tried=tried)


async def end_fetch(
    conn: BaseDBAsyncClient,
    *,
    sha256: str,
    from_state: str,
    state: str,
    error: str | None,
    attempts: int,
    next_attempt: datetime,
    now: datetime,
) -> bool:
    """The end of an attempt: the row's state, error, attempts and next attempt, if it is
    still in ``from_state`` (not held, dropped or moved by another path meanwhile)."""
    moved = (
        await BlobFetch.filter(sha256=sha256, state=from_state)
        .using_db(conn)
        .update(
            state=state, last_error=error, attempts=attempts, next_attempt=next_attempt, updated=now
        )
    )
    return bool(moved)


async def bytes_in(conn: BaseDBAsyncClient, *, state: str, besides: str) -> int:
    """Bytes of the blobs whose fetch is in ``state`` (being fetched), but ``besides``."""
    rows = await conn.execute_query_dict(
        "SELECT coalesce(sum(size), 0) AS n FROM blob_fetches WHERE state = ? AND sha256 != ?",
        [state, besides],
    )
    return int(rows[0]["n"])
