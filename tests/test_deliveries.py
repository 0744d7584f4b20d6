"""Pushes: peers served side by side, one push in flight per peer, queued entries
coalesced, a silent peer given up quickly and left alone while in backoff."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from federation.timeutil import utc_now
from node.jobs import Workers
from node.models import Delivery, Frame, Peer
from node.services.deliveries import (
    MAX_ATTEMPTS,
    DeliveryState,
    due_peer_ids,
    purge_finished,
    run_due_deliveries,
)
from node.services.peers import add_peer
from node.services.tree import purge_finished_frames
from tests.conftest import InProcessNode
from tests.network import network, url_of
from tests.peer_fakes import MixedTransport, misbehaving, wait_for


async def holds(node: InProcessNode, words: str) -> bool:
    r = await node.client.get("/api/v1/search", params={"q": words})
    return len(r.json()["results"]) == 1


async def publish(node: InProcessNode, title: str) -> None:
    r = await node.client.post("/api/v1/skills", json={"title": title}, headers=node.auth)
    assert r.status_code == 201


async def test_a_silent_peer_does_not_hold_pushes_to_the_others(tmp_path: Path) -> None:
    transport = MixedTransport()
    settings = {"push_fanout": 3, "push_deadline_seconds": 3600.0}
    async with (
        misbehaving("silent") as hole,
        network(tmp_path, ["a", "b", "c"], {"a": settings}, transport=transport) as (_, nodes),
    ):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        workers = Workers(a.node)
        worker = asyncio.create_task(workers._delivery_worker())
        try:
            with a.node.db.activated():
                await add_peer(hole.url)
            await publish(a, "Courriels")  # pushed to the silent peer only: it hangs there
            await wait_for(lambda: hole.open == 1)
            with a.node.db.activated():
                await add_peer(url_of("b"))
                await add_peer(url_of("c"))
            await publish(a, "Tableur")  # pushed to the silent peer, b and c
            await wait_for(lambda: holds(b, "tableur"))
            await wait_for(lambda: holds(c, "tableur"))
            assert hole.open == 1 and hole.connections == 1  # still waiting for its answer

            hole.release()  # the silent peer's push fails: it goes into backoff
            with a.node.db.activated():
                await wait_for(lambda: _state(hole.url, "failing"))
            await publish(a, "Scanner")
            await wait_for(lambda: holds(b, "scanner"))
            await wait_for(lambda: holds(c, "scanner"))
            with a.node.db.activated():
                peer = await Peer.get(url=hole.url)
                waiting = await Delivery.filter(peer_id=peer.id, state="pending")
                scanner_targets = await _targets_of(a, "Scanner")
            # In backoff: not a target of new pushes, and its pending deliveries wait for
            # its next attempt instead of each trying (and timing out) on its own.
            assert peer.id not in scanner_targets
            assert waiting and all(d.next_attempt == peer.next_attempt for d in waiting)
            assert hole.connections == 1
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await workers.deliveries.stop()


async def _state(url: str, state: str) -> bool:
    peer = await Peer.get(url=url)
    return peer.state == state


async def _targets_of(node: InProcessNode, title: str) -> set[int]:
    r = await node.client.get("/api/v1/skills")
    [item] = [item for item in r.json()["items"] if item["title"] == title]
    ref = [[node.node.origin, item["seq"]]]
    return {d.peer_id for d in await Delivery.all() if json.loads(d.entries) == ref}


async def test_a_silent_peer_is_given_up_at_the_push_deadline(tmp_path: Path) -> None:
    transport = MixedTransport()
    async with (
        misbehaving("silent") as hole,
        network(tmp_path, ["a"], {"a": {"push_deadline_seconds": 0.5}}, transport=transport) as (
            _,
            nodes,
        ),
    ):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer(hole.url)
        await publish(a, "Courriels")
        with a.node.db.activated():
            async with asyncio.timeout(10):  # a bound on a hang, not a measure
                assert await run_due_deliveries(a.node) == 0
            peer = await Peer.get(url=hole.url)
        assert peer.state == "failing" and (peer.last_error or "").startswith("[unreachable]")
        await wait_for(lambda: hole.open == 0)  # we hung up; the peer never answered


async def test_queued_entries_to_one_peer_go_in_one_push(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
        await publish(a, "Imprimante")
        with a.node.db.activated():
            await run_due_deliveries(a.node)  # b now holds a's log: no gap to fill below
        for title in ("Courriels", "Tableur", "Scanner"):
            await publish(a, title)
        before = transport.requests
        with a.node.db.activated():
            assert await run_due_deliveries(a.node) == 3
        assert transport.requests - before == 1
        for words in ("courriels", "tableur", "scanner"):
            assert await holds(b, words)


async def test_any_exception_during_a_push_is_a_counted_failure(tmp_path: Path) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug somewhere below")

    transport = MixedTransport()
    transport.handlers["buggy.test"] = explode
    async with network(tmp_path, ["a", "b"], transport=transport) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer("http://buggy.test")
            await add_peer(url_of("b"))
        await publish(a, "Courriels")
        with a.node.db.activated():
            assert await run_due_deliveries(a.node) == 1  # b's
            buggy = await Peer.get(url="http://buggy.test")
            [delivery] = await Delivery.filter(peer_id=buggy.id)
        assert await holds(b, "courriels")
        assert buggy.state == "failing" and (buggy.last_error or "").startswith("[internal]")
        assert delivery.state == "pending" and delivery.attempts == 1
        assert delivery.next_attempt == buggy.next_attempt


async def test_an_exception_before_the_push_is_a_counted_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure outside the push itself (here opening the peer's client) is an attempt
    too: counted on the rows it was for, the peer in backoff; it was left pending without
    counting, and the worker tried it again every 10 s forever."""

    def broken_client(peer: Peer | None = None, **_: object) -> None:
        raise RuntimeError("a bug while opening the client")

    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
        await publish(a, "Courriels")
        monkeypatch.setattr(a.node, "peer_client", broken_client)
        with a.node.db.activated():
            assert await run_due_deliveries(a.node) == 0
            peer = await Peer.get(url=url_of("b"))
            [delivery] = await Delivery.filter(peer_id=peer.id)
            assert await due_peer_ids(a.node) == []  # not again before the peer's backoff
        assert peer.state == "failing" and (peer.last_error or "").startswith("[internal]")
        assert delivery.state == "pending" and delivery.attempts == 1
        assert delivery.next_attempt == peer.next_attempt


async def test_a_delivery_is_given_up_after_its_last_attempt(tmp_path: Path) -> None:
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer("http://down.test")
        await publish(a, "Courriels")
        with a.node.db.activated():
            peer = await Peer.get(url="http://down.test")
            for attempt in range(1, MAX_ATTEMPTS + 1):
                await Peer.filter(id=peer.id).update(next_attempt=None)  # due again
                await Delivery.filter(peer_id=peer.id).update(next_attempt=utc_now())
                assert await run_due_deliveries(a.node) == 0
                [delivery] = await Delivery.filter(peer_id=peer.id)
                assert delivery.attempts == attempt
            assert delivery.state == DeliveryState.failed
            assert await due_peer_ids(a.node) == []


async def test_housekeeping_purges_only_old_finished_rows(tmp_path: Path) -> None:
    """Done and given-up rows older than two days go (deliveries and frames alike);
    pending rows and recent ones stay."""
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            peer = await add_peer("http://down.test")
            old = utc_now() - timedelta(days=3)
            for model in (Delivery, Frame):
                for state, created in [
                    ("done", old), ("failed", old), ("pending", old), ("done", utc_now()),
                ]:  # fmt: skip
                    row = await model.create(
                        peer_id=peer.id, entries="[]", state=state, next_attempt=utc_now()
                    )
                    await model.filter(id=row.id).update(created=created)
            await purge_finished(conn=a.node.db.connection())
            await purge_finished_frames(a.node.db.connection())
            for model in (Delivery, Frame):
                kept = sorted((r.state, r.created < utc_now() - timedelta(days=2))
                              for r in await model.all())  # fmt: skip
                assert kept == [("done", False), ("pending", True)], model
