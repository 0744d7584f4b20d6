"""The node's SQLite connection: its pragmas are the node's own, and write transactions
hold the write lock from their start (``BEGIN IMMEDIATE``), so that two writers on one
file (``papi sync`` next to ``papi serve``) wait for each other instead of failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from node.db import PRAGMAS, Database, write_transaction

#: What ``PRAGMA name`` answers for each value of ``PRAGMAS`` once set.
READ_BACK = {"WAL": "wal", "NORMAL": 1, "ON": 1}


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite://{path}")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def test_the_connection_has_the_nodes_pragmas(tmp_path: Path) -> None:
    async with opened(tmp_path / "node.sqlite") as database:
        with database.activated():
            conn = database.connection()
            for name, value in PRAGMAS:
                [row] = await conn.execute_query_dict(f"PRAGMA {name}")
                assert next(iter(row.values())) == READ_BACK.get(str(value), value), name


async def _increment(database: Database, times: int, counted: list[int]) -> None:
    """Read the counter, let the other writer run, write it back plus one: the pattern
    of a transaction that reads first (publish reads the head, then writes after it)."""
    with database.activated():
        for _ in range(times):
            async with write_transaction() as conn:
                [row] = await conn.execute_query_dict("SELECT n FROM counter")
                await asyncio.sleep(0.01)  # the other writer tries to write meanwhile
                await conn.execute_query("UPDATE counter SET n = ?", [row["n"] + 1])
            counted.append(row["n"] + 1)


async def test_two_writers_on_one_file_wait_for_each_other(tmp_path: Path) -> None:
    """Two connections to one file, as two processes have: every read-then-write
    transaction of each succeeds, none lost, no "database is locked" (with a deferred
    BEGIN, the second writer's first write failed at once)."""
    path = tmp_path / "node.sqlite"
    async with opened(path) as first, opened(path) as second:
        with first.activated():
            await first.connection().execute_script(
                "CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0);"
            )
        counted: list[int] = []
        await asyncio.gather(
            _increment(first, 10, counted),
            _increment(second, 10, counted),
        )
        with first.activated():
            [row] = await first.connection().execute_query_dict("SELECT n FROM counter")
    assert row["n"] == 20
    assert sorted(counted) == list(range(1, 21))  # each write saw the one before it


async def test_a_failed_start_leaves_the_connection_usable(tmp_path: Path) -> None:
    """A write transaction that cannot start (another process holds the write lock past
    ``busy_timeout``) fails; the next one on the same connection works."""
    path = tmp_path / "node.sqlite"
    async with opened(path) as first, opened(path) as second:
        with second.activated():
            await second.connection().execute_query("PRAGMA busy_timeout = 50")
        with first.activated():
            async with write_transaction():
                with second.activated(), pytest.raises(Exception, match="locked"):
                    async with write_transaction():
                        pass
        with second.activated():
            async with asyncio.timeout(10):  # a bound on a hang, not a measure
                async with write_transaction() as conn:
                    await conn.execute_query("UPDATE origins SET head_seq = head_seq WHERE 0")


async def test_a_nodes_own_transactions_reach_its_database_whichever_is_current(
    tmp_path: Path,
) -> None:
    """``Database.transaction`` and ``Database.write_transaction`` give the connection of
    their own node even while another node's database is the current one (the explicit
    path of issue 9, item 7); the write transaction holds the write lock from its start,
    before it writes anything (``BEGIN IMMEDIATE``)."""
    path = tmp_path / "a.sqlite"
    async with opened(path) as a, opened(path) as a_too, opened(tmp_path / "b.sqlite") as b:
        await a_too.connection().execute_query("PRAGMA busy_timeout = 50")
        for database, name in ((a, "a"), (b, "b")):
            await database.connection().execute_script(
                f"CREATE TABLE which (name TEXT); INSERT INTO which VALUES ('{name}');"
            )
        with b.activated():
            async with a.write_transaction() as conn:
                [row] = await conn.execute_query_dict("SELECT name FROM which")
                with pytest.raises(Exception, match="locked"):  # only read so far, yet held
                    async with a_too.write_transaction():
                        pass
                await conn.execute_query("UPDATE which SET name = ?", [row["name"] + "!"])
            async with a.transaction() as conn:
                [row] = await conn.execute_query_dict("SELECT name FROM which")
            assert row["name"] == "a!"
            [other] = await b.connection().execute_query_dict("SELECT name FROM which")
            assert other["name"] == "b"
