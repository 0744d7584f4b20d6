"""Federation between in-process nodes: push, pull, relay, tombstones, faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.models import Peer
from node.services.deliveries import run_due_deliveries
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.conftest import InProcessNode
from tests.network import network, url_of


async def link(a: InProcessNode, b_name: str) -> None:
    with a.node.db.activated():
        await add_peer(url_of(b_name))


async def sync(a: InProcessNode) -> list[Any]:
    with a.node.db.activated():
        return await sync_all(a.node)


async def deliver(a: InProcessNode) -> int:
    with a.node.db.activated():
        return await run_due_deliveries(a.node)


async def all_entries(node: InProcessNode, origin: str) -> list[dict[str, Any]]:
    r = await node.client.get("/federation/v1/entries", params={"origin": origin, "limit": 500})
    assert r.status_code == 200
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


async def test_chain_relays_create_update_delete(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(c, "b")
        r = await a.client.post(
            "/api/v1/equipment", json={"title": "Vidéoprojecteur", "quantity": 1}, headers=a.auth
        )
        oid = r.json()["id"]
        await sync(b)
        await sync(c)
        got = await c.client.get("/api/v1/search", params={"q": "videoprojecteur"})
        assert [x["id"] for x in got.json()["results"]] == [oid]
        await a.client.put(
            f"/api/v1/equipment/{oid}", json={"title": "Vidéoprojecteur Epson"}, headers=a.auth
        )
        await a.client.delete(f"/api/v1/equipment/{oid}", headers=a.auth)
        await sync(b)
        await sync(c)
        got = await c.client.get("/api/v1/search", params={"q": "videoprojecteur"})
        assert got.json()["results"] == []
        copy = await all_entries(c, a.node.origin)
        assert copy == await all_entries(a, a.node.origin)
        from tests.independent_verifier import verify_log

        verify_log(copy)
        assert [e["payload"] for e in copy[1:]] == [None, None, None]


async def test_push_gossips_once_through_the_chain(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(a, "b")
        await link(b, "c")
        await a.client.post("/api/v1/skills", json={"title": "Courriels"}, headers=a.auth)
        assert await deliver(a) == 1
        assert await deliver(b) == 1  # b forwards to c
        assert await deliver(c) == 0  # c has no other peer: nothing to forward
        got = await c.client.get("/api/v1/search", params={"q": "courriels"})
        assert len(got.json()["results"]) == 1
        # The same push again is a duplicate and is not forwarded.
        entries = await all_entries(a, a.node.origin)
        r = await b.client.post("/federation/v1/push", json={"entries": entries, "ttl": 3})
        assert r.json()["accepted"] == [] and len(r.json()["duplicate"]) == len(entries)
        assert await deliver(b) == 0


async def test_pull_pushes_back_what_the_peer_lacks(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        await a.client.post("/api/v1/skills", json={"title": "Traitement de texte"}, headers=a.auth)
        results = await sync(a)
        assert results[0].accepted == 2 and results[0].pushed_back == 2
        r_a = await a.client.get("/api/v1/nodes")
        r_b = await b.client.get("/api/v1/nodes")
        assert r_a.json()["digest"] == r_b.json()["digest"]
        again = await sync(a)
        assert again[0].in_sync_at_start


async def test_idle_round_is_one_small_exchange(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a = nodes["a"]
        await link(a, "b")
        await sync(a)
        before_requests, before_bytes = transport.requests, transport.bytes
        [result] = await sync(a)
        assert result.in_sync_at_start
        assert transport.requests - before_requests == 1
        assert transport.bytes - before_bytes < 200


async def test_discovery_from_place_endpoints(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        b, c = nodes["b"], nodes["c"]
        await link(b, "a")
        await link(c, "b")
        await sync(b)
        await sync(c)
        with c.node.db.activated():
            urls = {p.url for p in await Peer.all()}
        assert url_of("a") in urls


async def test_dead_peer_backs_off_and_others_keep_going(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (transport, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(c, "a")
        await link(c, "b")
        await link(b, "a")
        await a.client.post("/api/v1/skills", json={"title": "Réseaux sociaux"}, headers=a.auth)
        await sync(b)
        transport.down.add("a.test")
        results = {r.peer: r for r in await sync(c)}
        assert results[url_of("a")].error
        assert results[url_of("b")].accepted >= 2
        with c.node.db.activated():
            peer = await Peer.get(url=url_of("a"))
        assert peer.state == "failing" and peer.consecutive_failures == 1
        assert peer.next_attempt is not None and peer.last_error
        # Not due yet: the next round skips it.
        assert url_of("a") not in {r.peer for r in await sync(c)}


async def test_discovered_private_peer_is_refused_by_default(tmp_path: Path) -> None:
    per_node = {"a": {"allow_private_peers": False}}
    async with network(tmp_path, ["a", "b"], per_node) as (transport, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer("http://127.0.0.1:9", source="discovered")
        before = transport.requests
        [result] = await sync(a)
        assert result.error_kind == "refused" and "loopback" in (result.error or "")
        assert transport.requests == before
        with a.node.db.activated():
            assert (await Peer.get(url="http://127.0.0.1:9")).state == "refused"
            # Regression: the operator adding it by hand (``papi peer add``) lifts the
            # refusal and its backoff; it was left refused, never tried again.
            peer = await add_peer("http://127.0.0.1:9")
            assert (peer.source, peer.state, peer.next_attempt) == ("manual", "new", None)
            assert (await Peer.get(url="http://127.0.0.1:9")).state == "new"


async def test_pull_only_node_syncs_but_takes_no_push(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"], {"a": {"pull_only": True}}) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await b.client.post("/api/v1/skills", json={"title": "Scanner"}, headers=b.auth)
        [result] = await sync(a)
        assert result.error is None and result.accepted == 2
        place = (await a.client.get("/api/v1/place")).json()
        assert "endpoints" not in place
        r = await a.client.post("/federation/v1/push", json={"entries": [{}]})
        assert r.status_code == 403 and r.json()["error"]["code"] == "pull_only"
        # b keeps a's entries only if a pushes them: a pull-only node still pushes out.
        await a.client.post("/api/v1/skills", json={"title": "Imprimante"}, headers=a.auth)
        assert await deliver(a) == 1
        got = await b.client.get("/api/v1/search", params={"q": "imprimante"})
        assert len(got.json()["results"]) == 1


async def test_lost_database_recovers_own_log_instead_of_forking(tmp_path: Path) -> None:
    from tests.conftest import in_process_node

    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await a.client.post("/api/v1/skills", json={"title": "Courriels"}, headers=a.auth)
        await sync(b)
        origin = a.node.origin
    # a's database is lost; its key and config are kept.
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "a" / f"papi.sqlite3{suffix}").unlink(missing_ok=True)
    async with (
        network(tmp_path, ["b"]) as (transport, nodes),
        in_process_node(
            tmp_path / "a", transport=transport, url=url_of("a"), allow_private_peers=True
        ) as a,
    ):
        assert a.node.origin == origin
        r = await a.client.post("/api/v1/skills", json={"title": "X"}, headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "recovering"
        await link(a, "b")
        await sync(a)
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 201 and r.json()["seq"] == 3
        transport.add("a.test", a.app)
        await deliver(a)
        await sync(nodes["b"])
        got = await nodes["b"].client.get("/api/v1/search", params={"q": "tableur"})
        assert len(got.json()["results"]) == 1


async def test_large_network_round_compares_buckets_not_whole_vectors(tmp_path: Path) -> None:
    from tests.bulk import origin_log

    logs = [entry for index in range(300) for entry in origin_log(index, 1)]
    # Loaded by pushes from one client: over the default budget of new origins per hour.
    async with network(tmp_path, ["a", "b"], new_origins_per_hour=1000) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        for node in (a, b):
            r = await node.client.post("/federation/v1/push", json={"entries": logs})
            assert len(r.json()["accepted"]) == 300
        await link(b, "a")
        await sync(b)  # b learns a's own place and a learns b's: now both hold 302 origins
        await a.client.post("/api/v1/skills", json={"title": "Montage vidéo"}, headers=a.auth)
        requests, sent = transport.requests, transport.bytes
        [result] = await sync(b)
        assert result.accepted == 1 and result.pages == 1
        # digest, bucket digests, one scoped vector: a few KB instead of ~18 KB of vector.
        assert transport.requests - requests == 3
        assert transport.bytes - sent < 7000
        digests = {(await n.client.get("/api/v1/nodes")).json()["digest"] for n in (a, b)}
        assert len(digests) == 1


async def test_a_round_visits_manual_peers_and_a_few_discovered_ones(tmp_path: Path) -> None:
    from node.services.sync import DISCOVERED_PER_ROUND

    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a = nodes["a"]
        await link(a, "b")
        with a.node.db.activated():
            for index in range(DISCOVERED_PER_ROUND + 4):
                await add_peer(f"http://gone{index}.test", source="discovered")
        visited = {result.peer for result in await sync(a)}
        assert url_of("b") in visited
        assert len(visited) == 1 + DISCOVERED_PER_ROUND


async def test_a_frozen_origin_does_not_starve_the_others(tmp_path: Path) -> None:
    from federation.entry import build_entry
    from federation.keys import NodeKey
    from tests.bulk import origin_log

    async with network(tmp_path, ["a", "b"], sync_page_bytes=4096) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        # Pages list origins in order: make the frozen one come before b's own entries.
        key = NodeKey.generate()
        while key.origin > b.node.origin:
            key = NodeKey.generate()
        log = origin_log(0, 300, key)
        # A fork of seq 2, signed by the same key, that node a will see first.
        fork = build_entry(
            key, seq=2, prev=log[1]["header"]["prev"], kind="skill", oid="other", op="put",
            payload={"title": "Autre version"},
        )  # fmt: skip
        for start in range(0, 300, 100):
            await b.client.post("/federation/v1/push", json={"entries": log[start : start + 100]})
        await a.client.post("/federation/v1/push", json={"entries": log[:1]})
        await a.client.post("/federation/v1/push", json={"entries": [fork.to_json()]})
        await a.client.post("/federation/v1/push", json={"entries": log[1:2]})  # proves it
        await b.client.post("/api/v1/skills", json={"title": "Scanner"}, headers=b.auth)
        await link(a, "b")
        [result] = await sync(a)
        assert result.error is None
        got = await a.client.get("/api/v1/search", params={"q": "scanner"})
        assert len(got.json()["results"]) == 1
