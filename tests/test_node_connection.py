"""Paths that take their node's database explicitly (issue 9, item 7) reach that node's
database whichever node's is the current one, and with none current: two nodes in one
process, each writing into its own file."""

from __future__ import annotations

from pathlib import Path

from tortoise.context import get_current_context

from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.conftest import InProcessNode
from tests.network import network, url_of
from tests.test_ingest import Author


async def _entries(node: InProcessNode, origin: str) -> list[int]:
    rows = await node.node.db.connection().execute_query_dict(
        "SELECT seq FROM entries WHERE origin = ? ORDER BY seq", [origin]
    )
    return [row["seq"] for row in rows]


async def test_ingest_stores_in_its_nodes_database_with_another_or_no_context(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        author = Author()
        place, skill = author.write("place", "place"), author.write()
        with b.node.db.activated():
            first = await a.node.ingestor.ingest([place], sender="client:192.0.2.1")
        assert get_current_context() is None
        second = await a.node.ingestor.ingest([skill], sender="client:192.0.2.1")
        assert len(first.accepted) == len(second.accepted) == 1
        assert await _entries(a, author.key.origin) == [1, 2]
        assert await _entries(b, author.key.origin) == []
        # The object and its search row went in with the entries.
        [row] = await a.node.db.connection().execute_query_dict(
            "SELECT COUNT(*) AS n FROM objects o JOIN search_index s ON s.rowid = o.id"
            " WHERE o.origin = ? AND o.kind = 'skill'",
            [author.key.origin],
        )
        assert row["n"] == 1


async def test_a_sync_round_runs_with_another_or_no_context(tmp_path: Path) -> None:
    """A version 1 round: what a round of protocol 1.1 adds (entries along the broadcast
    tree, ``services.tree``) still reads the current context."""
    version_1 = {"a": {"federation_features": ""}}
    async with network(tmp_path, ["a", "b", "c"], version_1) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await add_peer(url_of("b"), conn=a.node.db.connection())
        r = await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        assert r.status_code == 201, r.text
        with c.node.db.activated():
            [first] = await sync_all(a.node)
        assert first.error is None and first.accepted == 2, first
        r = await b.client.post("/api/v1/skills", json={"title": "Gimp"}, headers=b.auth)
        assert r.status_code == 201, r.text
        assert get_current_context() is None
        [second] = await sync_all(a.node)
        assert second.error is None and second.accepted == 1, second
        assert await _entries(a, b.node.origin) == [1, 2, 3]
        assert await _entries(c, b.node.origin) == []
        # The round's outcome is recorded on a's peer row, in a's database.
        [peer] = await a.node.db.connection().execute_query_dict(
            "SELECT state, last_success, entries_received FROM peers WHERE url = ?",
            [url_of("b")],
        )
        assert peer["last_success"] is not None and peer["entries_received"] == 3, peer
        assert await c.node.db.connection().execute_query_dict("SELECT id FROM peers") == []
