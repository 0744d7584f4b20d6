"""Storing a batch writes its entries and objects with a few multi-row statements, not one
statement per row: with the full-text index kept by triggers, one statement per object
made FTS5 write (and then merge) one index segment per object (docs/performance.md 10.1).
The rows, the objects and what search finds are the same either way."""

from __future__ import annotations

from typing import Any

from tests.bulk import origin_log
from tests.conftest import InProcessNode


async def _trace(papi: InProcessNode, callback: Any) -> None:
    """Trace the statements of the node's own SQLite connection (Tortoise's, through
    aiosqlite, whose thread alone may touch it)."""
    client: Any = papi.node.db.connection()
    connection = client._connection
    await connection._execute(connection._conn.set_trace_callback, callback)


async def test_a_batch_is_stored_with_a_few_statements_and_found_by_search(
    papi: InProcessNode,
) -> None:
    documents = origin_log(3, 300)  # a place, then 299 skills and equipment
    statements: list[str] = []
    await _trace(papi, statements.append)
    try:
        with papi.node.db.activated():
            report = await papi.node.ingestor.ingest(documents)
    finally:
        await _trace(papi, None)
    assert len(report.accepted) == 300
    entries = [s for s in statements if s.startswith("INSERT INTO entries")]
    # The FTS5 segments written (a term index row each, traced as "-- INSERT INTO
    # 'main'.'search_index_idx'"): a handful, where one statement per object wrote 328
    # (and merged them: as many segment deletions).
    segments = [s for s in statements if "'search_index_idx'(segid" in s]
    merges = [s for s in statements if "DELETE FROM 'main'.'search_index_idx'" in s]
    assert len(entries) == 1  # one statement per 500 rows, was 300
    assert len(segments) < 20 and len(merges) < 20
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        rows = await conn.execute_query_dict(
            "SELECT count(*) AS n, min(place) AS place FROM objects WHERE origin = ?",
            [documents[0]["header"]["origin"]],
        )
        assert rows[0]["n"] == 300 and rows[0]["place"] == "Lieu numérique 3"
        entry_rows = await conn.execute_query_dict(
            "SELECT count(*) AS n FROM entries WHERE origin = ?",
            [documents[0]["header"]["origin"]],
        )
        assert entry_rows[0]["n"] == 300
        # The index matches its content table, and finds each skill ("Atelier 3-<seq>").
        await conn.execute_query(
            "INSERT INTO search_index(search_index) VALUES ('integrity-check')"
        )
        hits = await conn.execute_query_dict(
            "SELECT count(*) AS n FROM search_index WHERE search_index MATCH 'atelier'"
        )
        assert hits[0]["n"] == 149  # seq 3, 5, ... 299
