"""The current version of each object (``objects``: one row per origin, kind and oid,
written only by the store path, ``services.store``), read by key and a kind at a time.
The full-text index follows it by trigger (``db.SEARCH_DDL``). Every function takes the
connection (``conn``) and reads in SQL: none needs a node's context to be the current one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tortoise.backends.base.client import BaseDBAsyncClient

from .rows import insert_rows


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


#: The columns of ``ObjectRow``, in its order.
_COLUMNS = (
    "id, origin, kind, oid, seq, payload, updated, title, theme, place, commune, starts_at, ends_at"
)


def _row(row: dict[str, Any]) -> ObjectRow:
    return ObjectRow(
        row["id"], row["origin"], row["kind"], row["oid"], row["seq"], row["payload"],
        row["updated"], row["title"], row["theme"], row["place"], row["commune"],
        row["starts_at"], row["ends_at"],
    )  # fmt: skip


async def one(conn: BaseDBAsyncClient, *, origin: str, kind: str, oid: str) -> ObjectRow | None:
    rows = await conn.execute_query_dict(
        f"SELECT {_COLUMNS} FROM objects WHERE origin = ? AND kind = ? AND oid = ?",
        [origin, kind, oid],
    )
    return _row(rows[0]) if rows else None


async def exists(conn: BaseDBAsyncClient, *, origin: str, kind: str, oid: str) -> bool:
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM objects WHERE origin = ? AND kind = ? AND oid = ? LIMIT 1",
        [origin, kind, oid],
    )
    return bool(rows)


async def of_kind(
    conn: BaseDBAsyncClient,
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
    sql = f"SELECT {_COLUMNS} FROM objects WHERE origin = ? AND kind = ?"
    values: list[Any] = [origin, kind]
    if not_over_at is not None:
        sql += " AND (ends_at >= ? OR (ends_at IS NULL AND starts_at >= ?))"
        values += [not_over_at, not_over_at]
    sql += " ORDER BY starts_at, id" if kind == "event" else " ORDER BY title, id"
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        values += [-1 if limit is None else limit, offset]
    return [_row(row) for row in await conn.execute_query_dict(sql, values)]


# -- writes (the store path, ``services.store``, in the caller's transaction) ------------


class ObjectColumns(NamedTuple):
    """The current version of an object as ``services.store`` derives it from a ``put``
    entry; ``place`` and ``commune`` come from its origin's row. A named tuple: one is
    built per stored entry, in 0.9 µs against 3.3 for a frozen dataclass."""

    origin: str
    kind: str
    oid: str
    seq: int
    payload: str
    updated: str
    title: str
    body: str
    theme: str
    starts_at: str | None
    ends_at: str | None


async def upsert(conn: BaseDBAsyncClient, *, objects: Sequence[ObjectColumns]) -> None:
    """Make each of ``objects`` the current version of its object, with its origin's
    place name and commune (denormalised for search)."""
    origin_ids = sorted({o.origin for o in objects})
    marks = ", ".join("?" for _ in origin_ids)
    rows = await conn.execute_query_dict(
        f"SELECT id, name, commune FROM origins WHERE id IN ({marks})", origin_ids
    )
    where = {r["id"]: (r["name"] or "", r["commune"] or "") for r in rows}
    await insert_rows(
        conn,
        "INSERT INTO objects (origin, kind, oid, seq, payload, updated, title, body, theme,"
        " starts_at, ends_at, place, commune) VALUES {rows}"
        " ON CONFLICT (origin, kind, oid) DO UPDATE SET seq = excluded.seq,"
        " payload = excluded.payload, updated = excluded.updated, title = excluded.title,"
        " body = excluded.body, theme = excluded.theme, starts_at = excluded.starts_at,"
        " ends_at = excluded.ends_at",
        [
            (*o, *where.get(o.origin, ("", "")))  # the columns in the order above
            for o in objects
        ],
    )  # fmt: skip


async def delete(conn: BaseDBAsyncClient, *, keys: Sequence[tuple[str, str, str]]) -> None:
    """Delete the objects of these keys (origin, kind, oid)."""
    await conn.execute_many(
        "DELETE FROM objects WHERE origin = ? AND kind = ? AND oid = ?", [list(key) for key in keys]
    )


async def seq_of(conn: BaseDBAsyncClient, *, origin: str, kind: str, oid: str) -> int | None:
    """The seq of an object's current version, None when it has none."""
    rows = await conn.execute_query_dict(
        "SELECT seq FROM objects WHERE origin = ? AND kind = ? AND oid = ?", [origin, kind, oid]
    )
    return int(rows[0]["seq"]) if rows else None


async def payload_in(conn: BaseDBAsyncClient, *, origin: str, kind: str, oid: str) -> str | None:
    """An object's payload (JSON text), read in the caller's transaction."""
    rows = await conn.execute_query_dict(
        "SELECT payload FROM objects WHERE origin = ? AND kind = ? AND oid = ?",
        [origin, kind, oid],
    )
    return str(rows[0]["payload"]) if rows else None


async def of_every_origin(
    conn: BaseDBAsyncClient, *, kind: str, origin: str | None = None
) -> list[ObjectRow]:
    """The objects of ``kind`` of every origin (or of ``origin``)."""
    sql, values = f"SELECT {_COLUMNS} FROM objects WHERE kind = ?", [kind]
    if origin:
        sql, values = sql + " AND origin = ?", [kind, origin]
    return [_row(row) for row in await conn.execute_query_dict(sql, values)]


@dataclass(frozen=True)
class SignedBy:
    """An object with the place name of its origin ("" when unknown)."""

    origin: str
    payload: str
    updated: str
    origin_name: str


async def latest_of_kind(conn: BaseDBAsyncClient, *, kind: str, limit: int) -> list[SignedBy]:
    """The objects of ``kind`` of every origin, the most recently changed first."""
    rows = await conn.execute_query_dict(
        "SELECT o.origin, o.payload, o.updated, g.name FROM objects o LEFT JOIN origins g"
        " ON g.id = o.origin WHERE o.kind = ? ORDER BY o.updated DESC LIMIT ?",
        [kind, limit],
    )
    return [SignedBy(r["origin"], r["payload"], r["updated"], r["name"] or "") for r in rows]


@dataclass(frozen=True)
class Adaptation:
    """A resource that says it adapts another (``based_on``)."""

    origin: str
    oid: str
    title: str
    place: str
    commune: str
    updated: str


async def adaptations_of(conn: BaseDBAsyncClient, *, based_on: str) -> list[Adaptation]:
    """The resources of origins not frozen whose ``based_on`` is ``based_on``, the most
    recently changed first."""
    rows = await conn.execute_query_dict(
        "SELECT origin, oid, title, place, commune, updated FROM objects"
        " WHERE kind = 'resource' AND json_extract(payload, '$.based_on') = ?"
        " AND origin NOT IN (SELECT id FROM origins WHERE frozen)"
        " ORDER BY updated DESC",
        [based_on],
    )
    return [
        Adaptation(r["origin"], r["oid"], r["title"], r["place"], r["commune"], r["updated"])
        for r in rows
    ]


@dataclass(frozen=True)
class PlaceProfile:
    origin: str
    payload: str


async def place_profiles(
    conn: BaseDBAsyncClient, *, origin: str | None = None
) -> list[PlaceProfile]:
    """The place profiles of the origins not frozen (or of ``origin``, frozen or not)."""
    if origin is not None:
        rows = await conn.execute_query_dict(
            "SELECT origin, payload FROM objects WHERE kind = 'place' AND oid = 'place'"
            " AND origin = ?",
            [origin],
        )
    else:
        rows = await conn.execute_query_dict(
            "SELECT origin, payload FROM objects WHERE kind = 'place' AND oid = 'place'"
            " AND origin NOT IN (SELECT id FROM origins WHERE frozen)"
        )
    return [PlaceProfile(row["origin"], row["payload"]) for row in rows]


async def all_place_profiles(conn: BaseDBAsyncClient) -> list[PlaceProfile]:
    """The place profile of every origin held, frozen or not."""
    rows = await conn.execute_query_dict(
        "SELECT origin, payload FROM objects WHERE kind = 'place' AND oid = 'place'"
    )
    return [PlaceProfile(row["origin"], row["payload"]) for row in rows]


@dataclass(frozen=True)
class ObjectText:
    """The current version of an object, its payload as stored (JSON text)."""

    origin: str
    kind: str
    oid: str
    seq: int
    #: The ``ts`` of that version's header (RFC 3339).
    updated: str
    payload: str
