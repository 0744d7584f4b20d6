"""A hostile peer for in-process tests: it serves whatever entries the test gives it in
its sync answers and on ``/federation/v1/entries``, so that a node can be made to *pull*
bad entries, and helpers to push to and pull into a node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from federation.keys import NodeKey
from node.models import Peer
from node.services.sync import RoundResult, sync_with
from tests.conftest import InProcessNode, in_process_node
from tests.network import RoutingTransport

NO_DIGEST = "sha256:" + "0" * 64
HOST = "evil.test"
URL = f"http://{HOST}"


class HostilePeer:
    def __init__(self) -> None:
        self.origin = NodeKey.generate().origin
        #: What the next sync answers carry as ``entries``.
        self.sync_entries: list[Any] = []
        #: What ``/federation/v1/entries`` serves (filtered by origin and seq).
        self.log: list[dict[str, Any]] = []
        self.pushed: list[Any] = []
        self.app = Starlette(
            routes=[
                Route("/api/v1/node", self.node_info),
                Route("/federation/v1/sync", self.sync, methods=["POST"]),
                Route("/federation/v1/push", self.push, methods=["POST"]),
                Route("/federation/v1/entries", self.entries),
            ]
        )

    async def node_info(self, request: Request) -> JSONResponse:
        return JSONResponse({"id": self.origin, "name": "Pair hostile", "protocol": 1})

    async def sync(self, request: Request) -> JSONResponse:
        body = await request.json()
        if "vector" in body:
            return JSONResponse(
                {
                    "digest": NO_DIGEST,
                    "in_sync": False,
                    "vector": {},
                    "entries": self.sync_entries,
                    "more": False,
                }
            )
        if "buckets" in body:
            return JSONResponse({"digest": NO_DIGEST, "in_sync": False, "differ": []})
        return JSONResponse({"digest": NO_DIGEST, "in_sync": False})

    async def push(self, request: Request) -> JSONResponse:
        self.pushed.extend((await request.json())["entries"])
        return JSONResponse({"accepted": [], "duplicate": [], "pending": [], "rejected": []})

    async def entries(self, request: Request) -> JSONResponse:
        origin = request.query_params.get("origin")
        after = int(request.query_params.get("after", 0))
        limit = int(request.query_params.get("limit", 100))
        chosen = [
            e for e in self.log if e["header"]["origin"] == origin and e["header"]["seq"] > after
        ]
        return JSONResponse({"entries": chosen[:limit]})


@asynccontextmanager
async def victim_and_hostile(
    base: Path, **settings: Any
) -> AsyncIterator[tuple[InProcessNode, HostilePeer]]:
    """A node whose peer (added by hand) is the hostile one."""
    transport = RoutingTransport()
    hostile = HostilePeer()
    transport.add(HOST, hostile.app)
    async with in_process_node(
        base / "victim", transport=transport, allow_private_peers=True, **settings
    ) as victim:
        with victim.node.db.activated():
            await Peer.create(url=URL, origin=hostile.origin, source="manual")
        yield victim, hostile


async def pull(victim: InProcessNode) -> RoundResult:
    """One sync round of ``victim`` with the hostile peer."""
    with victim.node.db.activated():
        peer = await Peer.get(url=URL)
        return await sync_with(victim.node, peer)


async def push(node: InProcessNode, entries: list[Any]) -> dict[str, Any]:
    r = await node.client.post("/federation/v1/push", json={"entries": entries})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def held(node: InProcessNode, origin: str) -> list[dict[str, Any]]:
    r = await node.client.get("/federation/v1/entries", params={"origin": origin})
    assert r.status_code == 200
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


async def public_pages_answer(node: InProcessNode) -> None:
    """Every public page and API answers without a server error."""
    for path in ("/", "/search", "/search?kind=event", "/search?q=atelier", "/nodes",
                 "/api/v1/search", "/api/v1/search?kind=event", "/api/v1/nodes"):  # fmt: skip
        r = await node.client.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
