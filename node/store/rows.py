"""How the store writes many rows at once (``insert_rows``), undoes part of a
transaction (``savepoint``) and reads back a timestamp (``moment``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

#: Rows per multi-row ``INSERT`` (``insert_rows``): 13 columns x 500 = 6,500 variables,
#: well below SQLite's default limit of 32,766.
ROWS_PER_STATEMENT = 500


async def insert_rows(conn: BaseDBAsyncClient, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` (an ``INSERT`` whose ``VALUES {rows}`` takes the rows) with many rows
    per statement rather than one statement per row (``execute_many``).

    Why: a statement that may abort midway (a unique constraint, a trigger) opens a
    statement savepoint, and FTS5 writes its pending terms to disk as a new index segment
    at every savepoint. Inserting objects one statement per row thus wrote one segment
    per object into ``search_index`` and merged them over and over: about two thirds of
    the cost of storing an object (docs/performance.md 10.1). Rows are applied in order,
    exactly as one statement each would be."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        marks = "(" + ", ".join("?" * len(chunk[0])) + ")"
        await conn.execute_query(
            sql.replace("{rows}", ", ".join([marks] * len(chunk))),
            [value for row in chunk for value in row],
        )


@asynccontextmanager
async def savepoint(conn: BaseDBAsyncClient, name: str) -> AsyncIterator[None]:
    """A savepoint of the caller's transaction: what the block wrote is undone if it
    raises (the exception goes on), kept otherwise. ``name``: a plain identifier."""
    await conn.execute_query(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        await conn.execute_query(f"ROLLBACK TO {name}")
        await conn.execute_query(f"RELEASE {name}")
        raise
    await conn.execute_query(f"RELEASE {name}")


def moment(value: object) -> datetime | None:
    """A stored timestamp read in SQL (``2026-11-27 03:42:27.849891+00:00``, as the ORM
    writes it) as an aware datetime, naive ones as UTC; None when it is not one."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
