"""Heavy federation requests (sync with a vector, push) are bounded: beyond
``max_heavy_federation_requests`` the node answers 503 with Retry-After at once instead
of queueing them, and light requests keep being served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from federation.vector import vector_digest
from node.services.sync import current_vector
from tests.conftest import InProcessNode, in_process_node


class HeldBody:
    """A request body that sends its first bytes, then waits until released: the
    handler reading it keeps its slot meanwhile (a slow client, or a large body)."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.started = asyncio.Event()
        self.released = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        self.started.set()
        await self.released.wait()
        yield b"]}"


async def test_saturated_node_answers_503_and_keeps_serving_light_requests(
    tmp_path: Path,
) -> None:
    async with in_process_node(tmp_path / "n", max_heavy_federation_requests=1) as node:
        body = HeldBody(b'{"ttl": 0, "entries": [')
        held = asyncio.create_task(
            node.client.post(
                "/federation/v1/push",
                content=body,
                headers={"content-type": "application/json", "content-length": "9999"},
            )
        )
        await body.started.wait()
        pushed = await node.client.post("/federation/v1/push", json={"entries": [{}]})
        asked = await node.client.post("/federation/v1/sync", json={"vector": {}})
        paged = await node.client.get("/federation/v1/entries", params={"limit": 500})
        for answer in (pushed, asked, paged):
            assert answer.status_code == 503
            assert answer.json()["error"]["code"] == "busy"
            assert int(answer.headers["retry-after"]) > 0
        # Light requests are not held: the node's identity, an idle round's digest.
        assert (await node.client.get("/api/v1/node")).status_code == 200
        digest = (
            await node.client.post("/federation/v1/sync", json={"digest": "sha256:" + "0" * 64})
        ).json()
        assert digest["in_sync"] is False and digest["digest"].startswith("sha256:")
        body.released.set()
        assert (await held).status_code in (400, 413, 422)  # the held body was not valid
        # The slot is free again.
        again = await node.client.post("/federation/v1/sync", json={"vector": {}})
        assert again.status_code == 200


async def test_the_digest_answer_follows_new_entries(papi: InProcessNode) -> None:
    async def answered() -> str:
        r = await papi.client.post("/federation/v1/sync", json={"digest": "sha256:" + "0" * 64})
        digest: str = r.json()["digest"]
        return digest

    first = await answered()
    assert await answered() == first
    r = await papi.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=papi.auth)
    assert r.status_code == 201
    second = await answered()
    with papi.node.db.activated():
        assert second == vector_digest(await current_vector(papi.node.db)) != first
    r = await papi.client.post("/federation/v1/sync", json={"digest": second})
    assert r.json() == {"digest": second, "in_sync": True}


async def test_two_nodes_in_one_process_have_their_own_digest(tmp_path: Path) -> None:
    async with (
        in_process_node(tmp_path / "a") as a,
        in_process_node(tmp_path / "b") as b,
    ):
        digests = set()
        for node in (a, b):
            r = await node.client.post("/federation/v1/sync", json={"digest": "sha256:" + "0" * 64})
            digests.add(r.json()["digest"])
        assert len(digests) == 2


async def test_a_peer_client_sees_a_saturated_node_as_busy(tmp_path: Path) -> None:
    from federation.client import PeerClient
    from federation.errors import PeerBusy

    async with in_process_node(tmp_path / "n", max_heavy_federation_requests=1) as node:
        body = HeldBody(b'{"ttl": 0, "entries": [')
        held = asyncio.create_task(
            node.client.post(
                "/federation/v1/push",
                content=body,
                headers={"content-type": "application/json", "content-length": "9999"},
            )
        )
        await body.started.wait()
        transport = httpx.ASGITransport(app=node.app)
        async with PeerClient(transport=transport) as client:
            try:
                await client.sync("http://testserver", {"vector": {}})
            except PeerBusy as exc:
                assert exc.kind == "busy" and exc.retry_after is not None and exc.retry_after > 0
            else:
                raise AssertionError("a saturated node answered a heavy request")
        body.released.set()
        await held
