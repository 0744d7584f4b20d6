"""The workers (node/jobs.py): each entry point works on its own node's database, whatever
database is the current one where it is called (several nodes share a process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from node.jobs import Workers
from node.services.peers import add_peer
from tests.network import network, url_of


async def test_a_tick_runs_on_its_own_nodes_database(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 201
        with b.node.db.activated():
            await add_peer(url_of("a"))
        workers = Workers(b.node)
        try:
            with a.node.db.activated():  # a, which has no peer, is the current database
                await workers.sync_round()
                rounds = list(workers._rounds.values())
                assert len(rounds) == 1  # b's one peer
                await asyncio.gather(*rounds)
        finally:
            await workers.stop()
        found = await b.client.get("/api/v1/search", params={"q": "tableur"})
        assert len(found.json()["results"]) == 1
