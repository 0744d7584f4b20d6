"""A full disk (simulated with SQLite's ``max_page_count``) is reported by the round, the
peer's state, ``/readyz`` and ``/api/v1/nodes``; the round retries with smaller pages,
and the node recovers once there is room again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.models import Peer
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.bulk import origin_log
from tests.conftest import InProcessNode
from tests.network import network, url_of


async def limit_pages(node: InProcessNode, extra_pages: int) -> None:
    """Let the database grow by ``extra_pages`` pages at most (4 KiB each)."""
    conn = node.node.db.connection()
    await conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE);")
    rows = await conn.execute_query_dict("PRAGMA page_count")
    await conn.execute_script(f"PRAGMA max_page_count = {rows[0]['page_count'] + extra_pages};")


async def unlimit_pages(node: InProcessNode) -> None:
    await node.node.db.connection().execute_script("PRAGMA max_page_count = 1073741823;")


async def fill_peer(peer: InProcessNode, origins: int, per_origin: int) -> None:
    for index in range(origins):
        log = origin_log(index, per_origin)
        for start in range(0, len(log), 200):
            r = await peer.client.post(
                "/federation/v1/push", json={"entries": log[start : start + 200]}
            )
            assert not r.json()["rejected"]


async def readiness(node: InProcessNode) -> tuple[int, dict[str, Any]]:
    r = await node.client.get("/readyz")
    return r.status_code, r.json()


async def test_a_full_disk_is_reported_and_cleared_when_room_is_back(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await fill_peer(b, 3, 40)
        with a.node.db.activated():
            await add_peer(url_of("b"))
            assert (await readiness(a))[0] == 200
            await limit_pages(a, 0)
            [result] = await sync_all(a.node)
            peer = await Peer.get(url=url_of("b"))
        assert result.error_kind == "disk_full" and result.accepted == 0
        assert peer.state == "failing" and (peer.last_error or "").startswith("[disk_full]")
        status, body = await readiness(a)
        assert status == 503 and body["status"] == "not_ready"
        assert body["checks"]["disk"]["error"]["code"] == "disk_full"
        health = (await a.client.get("/api/v1/nodes")).json()["health"]
        assert health["storage"]["error"]["code"] == "disk_full"
        big = {"title": "Tableur", "description": "Cellules, formules. " * 900}
        r = await a.client.post("/api/v1/skills", json=big, headers=a.auth)
        assert r.status_code == 507 and r.json()["error"]["code"] == "disk_full"
        assert int(r.headers["retry-after"]) > 0
        assert (await a.client.get("/healthz")).status_code == 200  # alive all the same

        with a.node.db.activated():
            await unlimit_pages(a)
            peer.next_attempt = None
            await peer.save()
            [result] = await sync_all(a.node)
        assert result.synced and result.accepted == 3 * 40 + 1
        r = await a.client.post("/api/v1/skills", json=big, headers=a.auth)
        assert r.status_code == 201
        assert (await readiness(a))[0] == 200
        assert (await a.client.get("/api/v1/nodes")).json()["health"]["storage"]["error"] is None


async def test_pages_shrink_to_fit_the_room_left(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"], sync_page_bytes=256 * 1024) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await fill_peer(b, 2, 300)
        with a.node.db.activated():
            await add_peer(url_of("b"))
            # Room for some entries, not for a whole page of 256 KiB.
            await limit_pages(a, 40)
            [result] = await sync_all(a.node)
        # Smaller pages were asked and stored before the disk was full for good.
        assert result.accepted > 0 and result.pages > 1
        assert result.error_kind == "disk_full"
