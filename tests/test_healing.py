"""After a partition, a peer that answers again is retried at once, not after its
backoff (up to an hour): when it contacts us, or when a probe of it succeeds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from federation.timeutil import utc_now
from node.jobs import Workers
from node.models import Peer
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.conftest import InProcessNode
from tests.network import RoutingTransport, network, url_of
from tests.peer_fakes import wait_for


async def holds(node: InProcessNode, words: str) -> bool:
    r = await node.client.get("/api/v1/search", params={"q": words})
    return len(r.json()["results"]) == 1


async def partitioned(a: InProcessNode, transport: RoutingTransport, name: str) -> Peer:
    """``a`` fails a round with ``name``: that peer is in backoff."""
    transport.down.add(f"{name}.test")
    with a.node.db.activated():
        [result] = await sync_all(a.node)
        peer = await Peer.get(url=url_of(name))
    transport.down.discard(f"{name}.test")
    assert result.error_kind == "unreachable"
    assert peer.next_attempt is not None and peer.next_attempt > utc_now()
    return peer


async def test_a_peer_that_contacts_us_is_retried_at_once(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
        with b.node.db.activated():
            await add_peer(url_of("a"))
        await partitioned(a, transport, "b")
        workers = Workers(a.node)
        worker = asyncio.create_task(workers._sync_soon_worker())
        try:
            r = await b.client.post("/api/v1/skills", json={"title": "Scanner"}, headers=b.auth)
            assert r.status_code == 201
            with b.node.db.activated():
                await sync_all(b.node)  # b asks a: a learns that b is back
            # a syncs with b right away, without waiting for b's backoff.
            await wait_for(lambda: holds(a, "scanner"))
            with a.node.db.activated():
                peer = await Peer.get(url=url_of("b"))
            assert peer.state == "ok" and peer.consecutive_failures == 0
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)


async def test_a_push_from_a_peer_in_backoff_makes_it_due(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
        peer = await partitioned(a, transport, "b")
        entries = (await b.client.get("/federation/v1/entries")).json()["entries"]
        r = await a.client.post(
            "/federation/v1/push", json={"entries": entries, "from": url_of("b")}
        )
        assert r.status_code == 200
        with a.node.db.activated():
            peer = await Peer.get(id=peer.id)
        assert peer.next_attempt is None
        assert peer.id in a.node.sync_soon and a.node.sync_wakeup.is_set()


async def test_a_peer_in_backoff_that_answers_a_probe_is_synced_in_the_round(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
        await partitioned(a, transport, "b")
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        with a.node.db.activated():
            results = await sync_all(a.node)
        assert [r.peer for r in results] == [url_of("b")] and results[0].synced
        assert await holds(a, "tableur")


async def test_a_peer_still_down_stays_in_backoff(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
        peer = await partitioned(a, transport, "b")
        transport.down.add("b.test")
        with a.node.db.activated():
            assert await sync_all(a.node) == []
            again = await Peer.get(id=peer.id)
        assert again.next_attempt == peer.next_attempt
