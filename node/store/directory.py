"""The network directory's reads, a page at a time: the origins this node holds (its own
first, then by place name, walking the ``origins_by_name`` index of ``db.SEARCH_DDL``
instead of sorting them all), with what is counted on a page of them. A hostile peer can
make a node hold tens of thousands of origins: nothing here reads them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

#: One page of origins other than ours, in the order of the ``origins_by_name`` index.
OTHER_ORIGINS_SQL = (
    "SELECT * FROM origins WHERE id != ? ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?"
)
#: The same page without the origins that membership hides (former members, blocked
#: origins: services/membership.py), for the public pages.
SHOWN_ORIGINS_SQL = (
    "SELECT * FROM origins WHERE id != ? AND id NOT IN (SELECT origin FROM excluded_origins)"
    " ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?"
)
#: Offers by kind of the origins of a page (``{marks}``: one ``?`` per origin).
COUNTS_SQL = (
    "SELECT origin, kind, count(*) AS n FROM objects WHERE origin IN ({marks})"
    " AND kind IN ('event', 'skill', 'equipment') GROUP BY origin, kind"
)


@dataclass(frozen=True)
class ListedOrigin:
    """An origin as the directory lists it; the times as SQLite gives them (text)."""

    id: str
    name: str | None
    commune: str | None
    head_seq: int
    frozen: bool
    frozen_reason: str | None
    first_seen: object
    last_received: object


def _listed(row: dict[str, Any]) -> ListedOrigin:
    return ListedOrigin(
        row["id"], row["name"], row["commune"], int(row["head_seq"]), bool(row["frozen"]),
        row["frozen_reason"], row["first_seen"], row["last_received"],
    )  # fmt: skip


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


async def origin_count(conn: BaseDBAsyncClient, *, shown_only: bool) -> int:
    sql = "SELECT count(*) AS n FROM origins"
    if shown_only:
        sql += " WHERE id NOT IN (SELECT origin FROM excluded_origins)"
    return int((await conn.execute_query_dict(sql))[0]["n"])


async def origin(conn: BaseDBAsyncClient, *, origin_id: str) -> ListedOrigin | None:
    rows = await conn.execute_query_dict("SELECT * FROM origins WHERE id = ?", [origin_id])
    return _listed(rows[0]) if rows else None


async def others(
    conn: BaseDBAsyncClient, *, own: str, limit: int, offset: int, shown_only: bool
) -> list[ListedOrigin]:
    """Origins other than ``own`` by place name; ``shown_only``: not those hidden."""
    sql = SHOWN_ORIGINS_SQL if shown_only else OTHER_ORIGINS_SQL
    return [_listed(row) for row in await conn.execute_query_dict(sql, [own, limit, offset])]


async def offer_counts(
    conn: BaseDBAsyncClient, *, origin_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Events, skills and equipment of each of these origins, by kind."""
    rows = await conn.execute_query_dict(
        COUNTS_SQL.format(marks=_marks(origin_ids)), list(origin_ids)
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["origin"], {})[row["kind"]] = int(row["n"])
    return counts


async def forked_among(conn: BaseDBAsyncClient, *, origin_ids: Sequence[str]) -> set[str]:
    rows = await conn.execute_query_dict(
        f"SELECT DISTINCT origin FROM fork_evidence WHERE origin IN ({_marks(origin_ids)})",
        list(origin_ids),
    )
    return {row["origin"] for row in rows}


async def hidden_among(conn: BaseDBAsyncClient, *, origin_ids: Sequence[str]) -> set[str]:
    rows = await conn.execute_query_dict(
        f"SELECT origin FROM excluded_origins WHERE origin IN ({_marks(origin_ids)})",
        list(origin_ids),
    )
    return {row["origin"] for row in rows}
