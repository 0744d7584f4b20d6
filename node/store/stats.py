"""Counts over the node's tables for its metrics (``node.metrics``) and checks."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

#: The tables whose rows move along a lifecycle (a ``state`` column).
STATE_TABLES = ("deliveries", "blob_fetches", "frames", "coop_tasks", "outbox_mails")


async def by_state(conn: BaseDBAsyncClient, *, table: str) -> dict[str, int]:
    """Rows of ``table`` (one of ``STATE_TABLES``) per state."""
    if table not in STATE_TABLES:
        raise ValueError(f"{table} has no lifecycle")
    rows = await conn.execute_query_dict(f"SELECT state, COUNT(*) AS n FROM {table} GROUP BY state")
    return {str(row["state"]): int(row["n"]) for row in rows}


@dataclass(frozen=True)
class Sized:
    rows: int
    bytes: int


async def blobs_held(conn: BaseDBAsyncClient) -> Sized:
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM blobs"
    )
    return Sized(int(rows[0]["n"]), int(rows[0]["bytes"]))


@dataclass(frozen=True)
class OriginCounts:
    origins: int
    frozen: int


async def origins(conn: BaseDBAsyncClient) -> OriginCounts:
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n, COALESCE(SUM(frozen), 0) AS frozen FROM origins"
    )
    return OriginCounts(int(rows[0]["n"]), int(rows[0]["frozen"]))
