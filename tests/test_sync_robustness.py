"""A peer that is slow, silent, hostile or broken costs a round that peer only: total
deadlines per request and per round, rounds with several peers side by side, any error a
failure of that peer with its kind and a backoff."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from federation.client import PeerClient
from federation.errors import PeerBusy, PeerError, PeerUnreachable
from federation.timeutil import utc_now
from node.models import Peer
from node.services.peers import add_peer
from node.services.sync import sync_all, sync_with
from tests.network import network, url_of
from tests.peer_fakes import MixedTransport, misbehaving, wait_for


async def test_a_trickling_answer_hits_the_request_deadline() -> None:
    async with misbehaving("trickle", interval=0.1) as loris:
        async with asyncio.timeout(60), PeerClient(timeout=5.0, deadline=1.0) as client:
            with pytest.raises(PeerUnreachable, match="deadline"):
                await client.node_info(loris.url)
        # Each read got a byte well within its 5 s timeout: only the deadline stopped it.
        assert loris.bytes_sent >= 2


async def test_a_slow_peer_does_not_hold_the_round_of_the_others(tmp_path: Path) -> None:
    transport = MixedTransport()
    async with (
        misbehaving("trickle") as loris,
        network(tmp_path, ["a", "b"], transport=transport) as (_, nodes),
    ):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer(loris.url)  # first in the list of peers
            await add_peer(url_of("b"))
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)

        async def a_knows_b() -> bool:
            r = await a.client.get("/api/v1/search", params={"q": "tableur"})
            return len(r.json()["results"]) == 1

        with a.node.db.activated():
            round_task = asyncio.create_task(sync_all(a.node))
        # b's entries arrive while the slow peer is still sending its endless answer.
        await wait_for(a_knows_b)
        assert loris.open == 1 and not round_task.done()
        loris.release()
        results = {r.peer: r for r in await round_task}
        assert results[url_of("b")].synced
        assert results[loris.url].error_kind == "unreachable"


async def test_a_round_has_a_total_deadline(tmp_path: Path) -> None:
    transport = MixedTransport()
    async with (
        misbehaving("trickle", interval=0.05) as loris,
        network(tmp_path, ["a"], transport=transport, peer_request_deadline_seconds=3600.0) as (
            _,
            nodes,
        ),
    ):
        a = nodes["a"]
        with a.node.db.activated():
            peer = await add_peer(loris.url)
            async with asyncio.timeout(60):
                result = await sync_with(a.node, peer, deadline=0.5)
            peer = await Peer.get(id=peer.id)
        assert result.error_kind == "unreachable" and "round deadline" in (result.error or "")
        assert peer.state == "failing" and peer.next_attempt is not None


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [200, 100_000])
async def test_a_deeply_nested_answer_is_a_failure_of_that_peer(tmp_path: Path, depth: int) -> None:
    transport = MixedTransport()
    transport.handlers["deep.test"] = lambda request: httpx.Response(200, content=_nested(depth))
    async with network(tmp_path, ["a", "b"], transport=transport) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer("http://deep.test")
            await add_peer(url_of("b"))
        await b.client.post("/api/v1/skills", json={"title": "Courriels"}, headers=b.auth)
        with a.node.db.activated():
            results = {r.peer: r for r in await sync_all(a.node)}
            deep = await Peer.get(url="http://deep.test")
        assert results["http://deep.test"].error_kind == "protocol"
        assert "nested" in (results["http://deep.test"].error or "")
        assert deep.state == "failing" and deep.consecutive_failures == 1
        assert deep.next_attempt is not None and deep.next_attempt > utc_now()
        assert results[url_of("b")].synced and results[url_of("b")].accepted >= 2


async def test_any_exception_while_talking_to_a_peer_is_its_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug somewhere below")

    transport = MixedTransport()
    transport.handlers["buggy.test"] = explode
    async with network(tmp_path, ["a", "b"], transport=transport) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer("http://buggy.test")
            await add_peer(url_of("b"))
            results = {r.peer: r for r in await sync_all(a.node)}
            buggy = await Peer.get(url="http://buggy.test")
        assert results["http://buggy.test"].error_kind == "internal"
        assert buggy.state == "failing" and buggy.next_attempt is not None
        assert (buggy.last_error or "").startswith("[internal] RuntimeError")
        assert results[url_of("b")].synced
        logged = [r for r in caplog.records if "buggy.test" in r.getMessage()]
        assert len(logged) == 1 and logged[0].exc_info is not None


async def test_a_busy_peer_is_retried_after_what_it_asked(tmp_path: Path) -> None:
    transport = MixedTransport()
    transport.handlers["busy.test"] = lambda request: httpx.Response(
        503, headers={"retry-after": "1800"}, json={"error": {"code": "busy", "message": "-"}}
    )
    async with network(tmp_path, ["a"], transport=transport) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            peer = await add_peer("http://busy.test")
            result = await sync_with(a.node, peer)
            peer = await Peer.get(id=peer.id)
        assert result.error_kind == "busy"
        assert peer.last_attempt is not None and peer.next_attempt is not None
        # The backoff after one failure is about 15 s; the peer asked for 30 minutes.
        assert peer.next_attempt - peer.last_attempt >= timedelta(seconds=1800)
        # Nor is it probed meanwhile: it answered, it asked us to wait.
        asked = transport.requests
        with a.node.db.activated():
            assert await sync_all(a.node) == []
        assert transport.requests == asked


async def test_peer_errors_have_kinds() -> None:
    answers = {
        "gone.test": httpx.Response(502, text="bad gateway"),
        "busy.test": httpx.Response(429, headers={"retry-after": "7"}, text="slow down"),
        "broken.test": httpx.Response(500, text="oops"),
        "nonsense.test": httpx.Response(200, text="<html>"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.test":
            raise httpx.ConnectError("refused", request=request)
        return answers[request.url.host]

    async with PeerClient(transport=httpx.MockTransport(handler)) as client:
        kinds = {}
        for host in ["down", "gone", "busy", "broken", "nonsense"]:
            with pytest.raises(PeerError) as caught:
                await client.node_info(f"http://{host}.test")
            kinds[host] = caught.value.kind
            if host == "busy":
                assert isinstance(caught.value, PeerBusy) and caught.value.retry_after == 7
    assert kinds == {
        "down": "unreachable",
        "gone": "unreachable",
        "busy": "busy",
        "broken": "protocol",
        "nonsense": "protocol",
    }


async def test_a_slow_peer_does_not_hold_the_next_ticks(tmp_path: Path) -> None:
    from node.jobs import Workers

    transport = MixedTransport()
    async with (
        misbehaving("trickle") as loris,
        network(tmp_path, ["a", "b"], transport=transport) as (_, nodes),
    ):
        a, b = nodes["a"], nodes["b"]
        with a.node.db.activated():
            await add_peer(loris.url)
            await add_peer(url_of("b"))
        workers = Workers(a.node)
        try:

            async def a_holds(words: str) -> bool:
                r = await a.client.get("/api/v1/search", params={"q": words})
                return len(r.json()["results"]) == 1

            async with asyncio.timeout(60):  # a bound on a hang: a tick must return
                for title in ("Tableur", "Scanner"):  # one tick per new entry of b
                    await b.client.post("/api/v1/skills", json={"title": title}, headers=b.auth)
                    await workers.sync_round()
                    await wait_for(lambda title=title: a_holds(title.lower()))
            assert loris.open == 1 and loris.connections == 1  # its first round goes on
        finally:
            await workers.stop()
