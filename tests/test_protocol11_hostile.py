"""Protocol 1.1 endpoints against hostile input: every request validated and bounded,
rejections with their documented codes, nothing stored, never a 500; and a node that
talks to a peer answering nonsense records a failure of that peer only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from federation.keys import NodeKey
from node.models import Frame, Peer, PeerLink
from node.services.changes import visit
from node.services.features import remember_features
from node.services.peers import add_peer
from node.services.tree import maintain_neighbours, send_frames
from tests.conftest import InProcessNode, in_process_node
from tests.network import RoutingTransport, network

ORIGIN = NodeKey.generate().origin


async def _status(node: InProcessNode, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    r = await node.client.post(path, json=body)
    return r.status_code, r.json()


BAD_FRAMES = [
    {},  # no from
    {"from": "https://x.test"},  # nothing else
    {"from": "ftp://x.test", "prune": True},
    {"from": "https://x.test", "prune": False},
    {"from": "https://x.test", "entries": []},
    {"from": "https://x.test", "entries": [{}] * 501},
    {"from": "https://x.test", "graft": {}},
    {"from": "https://x.test", "graft": {"not-an-origin": 1}},
    {"from": "https://x.test", "graft": {ORIGIN: -1}},
    {"from": "https://x.test", "graft": {ORIGIN: 2**60}},
    {"from": "https://x.test", "prune": True, "extra": 1},
    {"from": "https://x.test", "again": False, "prune": True},
    [],
    "frame",
]

BAD_CHANGES = [
    {"cursor": "no dot"},
    {"cursor": "a.b"},
    {"cursor": "x" * 65 + ".1"},
    {"cursor": "e.12345678901234567"},
    {"limit": 0},
    {"limit": 5001},
    {"from": "javascript:alert(1)"},
    {"unknown": True},
    [],
]


@pytest.mark.parametrize("body", BAD_FRAMES)
async def test_a_malformed_frame_is_refused_with_422(papi: InProcessNode, body: Any) -> None:
    status, answer = await _status(papi, "/federation/v1/broadcast", body)
    assert status == 422 and answer["error"]["code"] == "invalid"


@pytest.mark.parametrize("body", BAD_CHANGES)
async def test_a_malformed_changes_request_is_refused(papi: InProcessNode, body: Any) -> None:
    status, answer = await _status(papi, "/federation/v1/changes", body)
    assert status == 422 and answer["error"]["code"] == "invalid"


async def test_bodies_that_are_not_json_or_too_large(papi: InProcessNode) -> None:
    for path in ("/federation/v1/broadcast", "/federation/v1/changes"):
        r = await papi.client.post(
            path, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    huge = json.dumps({"from": "https://x.test", "entries": [{"x": "a" * 4_000_000}]})
    r = await papi.client.post(
        "/federation/v1/broadcast", content=huge, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    r = await papi.client.post("/federation/v1/changes", json={"from": "https://x.test/" * 30})
    assert r.status_code == 422  # from over 300 characters


async def test_a_territory_is_refused_by_a_node_that_does_not_list_it(
    papi: InProcessNode,
) -> None:
    territory = {"origins": [ORIGIN]}
    for path, body in (
        ("/federation/v1/changes", {"territory": territory}),
        ("/federation/v1/sync", {"digest": "sha256:" + "0" * 64, "territory": territory}),
    ):
        status, answer = await _status(papi, path, body)
        assert status == 422 and answer["error"]["code"] == "territory_unsupported"


async def test_bad_entries_in_a_frame_are_rejected_one_by_one(papi: InProcessNode) -> None:
    frame = {"from": "https://x.test", "entries": [{}, {"header": 1, "sig": "", "payload": None}]}
    status, answer = await _status(papi, "/federation/v1/broadcast", frame)
    assert status == 200
    assert [r["index"] for r in answer["rejected"]] == [0, 1]
    # Not a neighbour, and not a peer this node can pull from: no ``prune`` (12.1).
    assert "prune" not in answer
    nodes = (await papi.client.get("/api/v1/nodes")).json()["origins"]
    assert len(nodes) == 1  # nothing stored but our own log


async def test_strangers_leave_nothing_behind(papi: InProcessNode) -> None:
    node = papi.node
    for i in range(50):
        frame = {"from": f"https://stranger{i}.test", "graft": {ORIGIN: 0}, "prune": True}
        status, answer = await _status(papi, "/federation/v1/broadcast", frame)
        assert status == 200 and "entries" not in answer  # we hold nothing of that origin
    tree = node.tree
    assert not tree.ids and not tree.state.neighbours
    assert not tree.state.known._peers  # no memory per sender
    with node.db.activated():
        assert await Peer.all().count() == 0 and await PeerLink.all().count() == 0


async def test_a_pull_only_node_takes_no_frames(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "n", pull_only=True) as member:
        status, answer = await _status(
            member, "/federation/v1/broadcast", {"from": "https://x.test", "prune": True}
        )
        assert status == 403 and answer["error"]["code"] == "pull_only"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["from", "entries", "graft", "prune", "again", "cursor", "limit", "x"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=json_values, path=st.sampled_from(["broadcast", "changes"]))
async def test_no_body_gets_a_500(papi: InProcessNode, body: Any, path: str) -> None:
    r = await papi.client.post(f"/federation/v1/{path}", json=body)
    assert r.status_code in (200, 400, 422), r.text
    assert r.status_code == 200 or "error" in r.json()


# -- a peer that answers nonsense ------------------------------------------------------


def _nonsense_peer(origin: str) -> Starlette:
    async def info(request: Request) -> JSONResponse:
        return JSONResponse(
            {"id": origin, "protocol": 1, "features": ["broadcast", "changes", 7, "x" * 99]}
        )

    async def nonsense(request: Request) -> JSONResponse:
        return JSONResponse({"cursor": "no", "changes": {"bad": "x"}, "prune": "yes"})

    return Starlette(
        routes=[
            Route("/api/v1/node", info),
            Route("/federation/v1/changes", nonsense, methods=["POST"]),
            Route("/federation/v1/broadcast", nonsense, methods=["POST"]),
        ]
    )


async def test_a_peer_answering_nonsense_is_a_failure_of_that_peer(tmp_path: Path) -> None:
    transport = RoutingTransport()
    transport.add("evil.test", _nonsense_peer(NodeKey.generate().origin))
    async with network(tmp_path, ["a"], transport=transport) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            peer = await Peer.get(id=(await add_peer("http://evil.test")).id)
            peer.origin = NodeKey.generate().origin
            peer.state = "ok"
            await peer.save()
            from federation.client import PeerClient

            async with PeerClient(transport=transport) as client:
                info = await client.node_info(peer.url)
                link = await remember_features(peer, info, conn=a.node.db.connection())
            assert link.features == "broadcast changes"  # unknown and malformed names dropped
            await maintain_neighbours(a.node)
            r = await a.client.post("/api/v1/skills", json={"title": "x"}, headers=a.auth)
            assert r.status_code == 201
            assert await send_frames(a.node, peer.id) == (0, True)
            frame = await Frame.get(peer_id=peer.id)
            assert frame.state == "pending" and frame.attempts == 1
            assert "[protocol]" in (frame.last_error or "")
            await Peer.filter(id=peer.id).update(next_attempt=None)
            await visit(a.node, await Peer.get(id=peer.id), full=False, deadline=10)
            peer = await Peer.get(id=peer.id)
            assert peer.state == "failing" and "[protocol]" in (peer.last_error or "")
            assert (await PeerLink.get(peer_id=peer.id)).cursor is None


async def test_a_neighbour_announcing_too_many_origins_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A neighbour that announces thousands of origins it never serves: the missing
    records stay within MAX_MISSING (rows and memory)."""
    from node.models import MissingHead
    from node.services import changes as changes_service
    from node.services.tree import tree_of

    monkeypatch.setattr(changes_service, "MAX_MISSING", 100)
    fakes = {NodeKey.generate().origin: 5 for _ in range(300)}

    async def info(request: Request) -> JSONResponse:
        return JSONResponse({"id": NodeKey.generate().origin, "features": ["broadcast", "changes"]})

    async def listing(request: Request) -> JSONResponse:
        body = await request.json()
        if "cursor" not in body:
            return JSONResponse({"cursor": "e.1", "changes": {}, "reset": True})
        return JSONResponse({"cursor": "e.2", "changes": fakes, "more": False})

    async def frame(request: Request) -> JSONResponse:
        return JSONResponse({})  # grafts answered with nothing

    async def sync(request: Request) -> JSONResponse:
        return JSONResponse({"digest": "sha256:" + "0" * 64, "in_sync": True})

    app = Starlette(
        routes=[
            Route("/api/v1/node", info),
            Route("/federation/v1/changes", listing, methods=["POST"]),
            Route("/federation/v1/broadcast", frame, methods=["POST"]),
            Route("/federation/v1/sync", sync, methods=["POST"]),
        ]
    )
    transport = RoutingTransport()
    transport.add("liar.test", app)
    async with network(tmp_path, ["a"], transport=transport) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            peer = await Peer.get(id=(await add_peer("http://liar.test")).id)
            peer.origin, peer.state = NodeKey.generate().origin, "ok"
            await peer.save()
            await remember_features(
                peer, {"features": ["broadcast", "changes"]}, conn=a.node.db.connection()
            )
            await maintain_neighbours(a.node)
            link = await PeerLink.get(peer_id=peer.id)
            link.cursor = "e.1"
            await link.save()
            await visit(a.node, await Peer.get(id=peer.id), full=False, deadline=30)
            tree = await tree_of(a.node)
            assert 0 < len(tree.state.missing) <= 100
            assert await MissingHead.all().count() <= 100
