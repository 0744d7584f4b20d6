"""Resources between in-process nodes: large payloads through push and sync, blobs
fetched in the background from the author first, wrong bytes refused, the quota, and
blobs dropped everywhere after a tombstone."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.models import BlobFetch, Peer
from node.services.blob_fetch import fetch_now, run_blob_work
from node.services.peers import add_peer
from tests.conftest import InProcessNode
from tests.network import network, url_of
from tests.test_federation_inprocess import deliver, link, sync
from tests.test_resources_api import PDF, SHA, attachment, fiche, upload


async def blob_work(node: InProcessNode) -> int:
    with node.node.db.activated():
        return await run_blob_work(node.node)


def blob_path(node: InProcessNode, sha256: str = SHA) -> Path:
    return node.data_dir / "blobs" / sha256[:2] / sha256[2:]


async def publish(node: InProcessNode, **extra: Any) -> dict[str, Any]:
    await upload(node, PDF)
    r = await node.client.post(
        "/api/v1/resources", json=fiche(attachments=[attachment()], **extra), headers=node.auth
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def fetch_state(node: InProcessNode, sha256: str = SHA) -> dict[str, Any]:
    r = await node.client.get(f"/api/v1/blobs/{sha256}")
    result: dict[str, Any] = r.json()
    return result


async def test_blob_follows_its_resource_and_is_served_when_the_author_is_gone(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (transport, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(c, "b")
        created = await publish(a, body="é" * 150_000)  # a payload over 128 KiB
        await sync(b)
        # Listed at once, fetched in the background.
        state = await fetch_state(b)
        assert state["held"] is False and state["fetch"]["state"] == "pending"
        assert await blob_work(b) == 1
        assert blob_path(b).read_bytes() == PDF
        transport.down.add("a.test")
        await sync(c)
        assert await blob_work(c) == 1
        r = await c.client.get(f"/federation/v1/blobs/{SHA}")
        assert r.content == PDF
        got = await c.client.get(f"/o/{a.node.origin}/resource/{created['id']}")
        assert got.status_code == 200


async def test_a_wrong_blob_from_a_hostile_peer_is_refused_and_fetched_elsewhere(
    tmp_path: Path,
) -> None:
    wrong = bytearray(PDF)
    wrong[50] ^= 1
    asked: list[str] = []

    async def hostile_blob(request: Request) -> Response:
        asked.append(request.path_params["sha"])
        return Response(bytes(wrong), media_type="application/octet-stream")

    async def hostile_node(request: Request) -> Response:
        return JSONResponse({"id": "ed25519:" + "A" * 43})

    hostile = Starlette(
        routes=[
            Route("/federation/v1/blobs/{sha}", hostile_blob),
            Route("/api/v1/node", hostile_node),
        ]
    )
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        transport.add("h.test", hostile)
        with b.node.db.activated():
            # Asked first: it claims to be the author's endpoint.
            await add_peer(url_of("h"), origin=a.node.origin)
        await link(b, "a")
        await publish(a)
        await sync(b)
        assert await blob_work(b) == 1
        assert asked == [SHA]
        assert blob_path(b).read_bytes() == PDF
        assert not list((b.data_dir / "blobs" / "tmp").iterdir())


async def test_no_peer_has_it_then_backoff_then_fetch_now(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await publish(a)
        await sync(b)
        transport.down.add("a.test")
        assert await blob_work(b) == 0
        state = (await fetch_state(b))["fetch"]
        assert state["state"] == "pending" and state["attempts"] == 1
        assert state["tried"][0]["url"] == url_of("a")
        assert await blob_work(b) == 0  # not due yet: backoff
        with b.node.db.activated():
            assert (await BlobFetch.get(sha256=SHA)).attempts == 1
        transport.down.discard("a.test")
        with b.node.db.activated():
            await BlobFetch.filter(sha256=SHA).update(updated=None)
            assert await fetch_now(b.node.db, SHA)
        assert await blob_work(b) == 1
        assert (await fetch_state(b))["fetch"]["state"] == "done"


async def test_nothing_is_fetched_past_the_quota(tmp_path: Path) -> None:
    small = {"b": {"blob_quota_bytes": len(PDF) - 1}}
    async with network(tmp_path, ["a", "b"], per_node=small) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await publish(a)
        await sync(b)
        assert await blob_work(b) == 0
        state = (await fetch_state(b))["fetch"]
        assert state["state"] == "over_quota" and "quota" in state["last_error"]
        assert not blob_path(b).exists()


async def test_a_tombstone_drops_the_blob_on_every_node(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await link(b, "a")
        created = await publish(a)
        await deliver(a)
        assert await blob_work(b) == 1
        # B's own resource lists the same blob: it stays on B while that one lives.
        r = await b.client.post(
            "/api/v1/resources", json=fiche(attachments=[attachment()]), headers=b.auth
        )
        assert r.status_code == 201
        await a.client.delete(f"/api/v1/resources/{created['id']}", headers=a.auth)
        await deliver(a)
        await blob_work(a)
        await blob_work(b)
        assert not blob_path(a).exists()
        assert blob_path(b).exists()
        await b.client.delete(f"/api/v1/resources/{r.json()['id']}", headers=b.auth)
        await blob_work(b)
        assert not blob_path(b).exists()


async def test_large_resources_are_pushed_back_in_pages_a_peer_accepts(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        for n in range(4):  # about 300 KB each
            r = await a.client.post(
                "/api/v1/resources",
                json={"title": f"Fiche {n}", "body": "é" * 150_000},
                headers=a.auth,
            )
            assert r.status_code == 201
        transport.down.add("b.test")
        await deliver(a)  # the pushes fail: B gets them by A's push-back
        transport.down.discard("b.test")
        with a.node.db.activated():
            await Peer.all().update(next_attempt=None)
        requests = transport.requests
        results = await sync(a)
        assert results[0].error is None and results[0].pushed_back == 5  # place + 4
        assert transport.requests - requests >= 4 + 2  # one entry per push, plus the digests
        r = await b.client.get("/api/v1/search", params={"kind": "resource"})
        assert len(r.json()["results"]) == 4


async def test_a_full_disk_leaves_the_fetch_to_retry_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from node.services.blobstore import BlobWriter

    def disk_full(self: BlobWriter, chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await publish(a)
        await sync(b)
        with monkeypatch.context() as patch:
            patch.setattr(BlobWriter, "write", disk_full)
            assert await blob_work(b) == 0
        state = (await fetch_state(b))["fetch"]
        assert state["state"] == "pending" and state["attempts"] == 1
        assert "No space left" in state["tried"][0]["error"]
        assert not list((b.data_dir / "blobs" / "tmp").iterdir())
