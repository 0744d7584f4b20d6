"""Property: whatever the order, duplication and loss of pushes between in-process nodes,
after anti-entropy rounds every node holds the same verified state."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.models import CurrentObject
from node.services import sync as sync_service
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.network import RoutingTransport, network, url_of

NAMES = ["n0", "n1", "n2", "n3"]

operation = st.tuples(
    st.integers(0, len(NAMES) - 1),  # author
    st.sampled_from(["create", "update", "delete"]),
    st.integers(0, 3),  # which of the author's objects
)
delivery = st.tuples(
    st.integers(0, len(NAMES) - 1),  # sender
    st.integers(0, len(NAMES) - 1),  # receiver
    st.integers(0, 2**32 - 1),  # seed: which entries, duplicated, in which order
)


async def scenario(base: Path, ops: list[Any], deliveries: list[Any]) -> None:
    async with network(base, NAMES) as (_, nodes):
        members = [nodes[name] for name in NAMES]
        # A ring of peers: every node reaches every other only through relays.
        for i, member in enumerate(members):
            with member.node.db.activated():
                await add_peer(url_of(NAMES[(i + 1) % len(NAMES)]))
        oids: dict[int, list[str]] = {i: [] for i in range(len(members))}
        for author, op, which in ops:
            member = members[author]
            if op == "create" or not oids[author]:
                r = await member.client.post(
                    "/api/v1/skills", json={"title": f"Atelier {which}"}, headers=member.auth
                )
                assert r.status_code == 201
                oids[author].append(r.json()["id"])
                continue
            oid = oids[author][which % len(oids[author])]
            if op == "update":
                r = await member.client.put(
                    f"/api/v1/skills/{oid}",
                    json={"title": f"Atelier {which}!"},
                    headers=member.auth,
                )
                assert r.status_code == 200
            else:
                r = await member.client.delete(f"/api/v1/skills/{oid}", headers=member.auth)
                assert r.status_code == 204
                oids[author].remove(oid)
        # Lossy, duplicating, reordering pushes of whatever the sender holds.
        for sender, receiver, seed in deliveries:
            rng = random.Random(seed)
            vector = (await members[sender].client.get("/api/v1/nodes")).json()["origins"]
            entries: list[Any] = []
            for origin in vector:
                r = await members[sender].client.get(
                    "/federation/v1/entries", params={"origin": origin["id"], "limit": 500}
                )
                entries.extend(r.json()["entries"])
            chosen = [e for e in entries if rng.random() < 0.6]
            chosen += rng.sample(chosen, k=len(chosen) // 3)
            rng.shuffle(chosen)
            if chosen:
                r = await members[receiver].client.post(
                    "/federation/v1/push", json={"entries": chosen[:500]}
                )
                assert r.status_code == 200
                assert r.json()["rejected"] == []
        # Anti-entropy until quiet: a ring needs at most N-1 rounds in each direction.
        for _ in range(2 * len(members)):
            for member in members:
                with member.node.db.activated():
                    for result in await sync_all(member.node):
                        assert result.error is None
        digests = set()
        states = []
        for member in members:
            digests.add((await member.client.get("/api/v1/nodes")).json()["digest"])
            with member.node.db.activated():
                rows = await CurrentObject.all().order_by("origin", "kind", "oid")
            states.append([(r.origin, r.kind, r.oid, r.seq, r.payload) for r in rows])
        assert len(digests) == 1
        for state in states:
            assert state == states[0], (state, states[0])
        # And every copy verifies on its own.
        from tests.independent_verifier import verify_log

        for member in members:
            for origin in (await member.client.get("/api/v1/nodes")).json()["origins"]:
                r = await member.client.get(
                    "/federation/v1/entries", params={"origin": origin["id"], "limit": 500}
                )
                verify_log(r.json()["entries"])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(operation, min_size=1, max_size=12),
    deliveries=st.lists(delivery, max_size=8),
    buckets=st.booleans(),
)
def test_nodes_converge_whatever_the_deliveries(
    ops: list[Any], deliveries: list[Any], buckets: bool
) -> None:
    # ``buckets``: rounds narrow the comparison with bucket digests even for few origins.
    threshold = sync_service.BUCKET_THRESHOLD
    sync_service.BUCKET_THRESHOLD = 0 if buckets else threshold
    try:
        with tempfile.TemporaryDirectory() as base:
            asyncio.run(scenario(Path(base), ops, deliveries))
    finally:
        sync_service.BUCKET_THRESHOLD = threshold


# -- protocol 1.1: the broadcast tree and changes pulls ------------------------------------


class LossyTransport(RoutingTransport):
    """Loses (before or after the receiver processed it) or duplicates protocol 1.1
    requests at random, from a seed, while ``lossy``."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.lossy = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.lossy or not request.url.path.startswith(
            ("/federation/v1/broadcast", "/federation/v1/changes")
        ):
            return await super().handle_async_request(request)
        roll = self.rng.random()
        if roll < 0.2:
            raise httpx.ConnectError("lost on the way", request=request)
        if roll < 0.3:  # processed, but the answer is lost: the sender sends it again
            await super().handle_async_request(request)
            raise httpx.ReadError("answer lost", request=request)
        if roll < 0.4:  # delivered twice
            await super().handle_async_request(request)
        return await super().handle_async_request(request)


async def _links(member: Any, names: list[str]) -> None:
    from node.services.features import refresh_features
    from node.services.tree import maintain_neighbours

    with member.node.db.activated():
        for name in names:
            assert await refresh_features(member.node, await add_peer(url_of(name)))
        await maintain_neighbours(member.node)
    # Retries at once: the test runs the clock of grafts by hand.
    member.node.tree.state.graft_retry = 0.0


async def _exchange(members: list[Any], rng: random.Random) -> None:
    """One interval of every node, in a random order: due frames sent, then each
    neighbour's changes pulled (grafts included); backoff forgotten (time passes)."""
    from node.models import Peer
    from node.services.changes import graft_due, visit
    from node.services.tree import send_frames

    order = list(members)
    rng.shuffle(order)
    for member in order:
        with member.node.db.activated():
            await Peer.all().update(next_attempt=None)
            for peer in await Peer.all():
                await send_frames(member.node, peer.id)
            peers = await Peer.all()
            rng.shuffle(peers)
            for peer in peers:
                await visit(member.node, peer, full=False, deadline=60)
            await graft_due(member.node)


async def broadcast_scenario(base: Path, ops: list[Any], seed: int) -> None:
    transport = LossyTransport(seed)
    settings_ = {"changes_settle_seconds": 0.0, "broadcast_degree": 2}
    async with network(base, NAMES, transport=transport, **settings_) as (_, nodes):
        members = [nodes[name] for name in NAMES]
        transport.lossy = False
        for i, member in enumerate(members):  # a ring
            await _links(member, [NAMES[(i + 1) % len(NAMES)], NAMES[i - 1]])
        rng = random.Random(seed)
        await _exchange(members, rng)  # first contact: cursors (a reset, a full round)
        transport.lossy = True
        oids: dict[int, list[str]] = {i: [] for i in range(len(members))}
        for step, (author, op, which) in enumerate(ops):
            member = members[author]
            if op == "create" or not oids[author]:
                r = await member.client.post(
                    "/api/v1/skills", json={"title": f"Atelier {which}"}, headers=member.auth
                )
                assert r.status_code == 201
                oids[author].append(r.json()["id"])
            elif op == "update":
                oid = oids[author][which % len(oids[author])]
                r = await member.client.put(
                    f"/api/v1/skills/{oid}",
                    json={"title": f"Atelier {which}!"},
                    headers=member.auth,
                )
                assert r.status_code == 200
            else:
                oid = oids[author].pop(which % len(oids[author]))
                r = await member.client.delete(f"/api/v1/skills/{oid}", headers=member.auth)
                assert r.status_code == 204
            if step % 3 == 2:  # frames and pulls interleave with new entries, reordered
                await _exchange(members, rng)
        for _ in range(3):
            await _exchange(members, rng)
        transport.lossy = False  # links work again in the end: the tree and pulls repair
        digests: set[str] = set()
        for _ in range(2 * len(members)):
            await _exchange(members, rng)
            digests = set()
            for member in members:
                digests.add((await member.client.get("/api/v1/nodes")).json()["digest"])
            if len(digests) == 1:
                break
        assert len(digests) == 1
        states = []
        for member in members:
            with member.node.db.activated():
                rows = await CurrentObject.all().order_by("origin", "kind", "oid")
            states.append([(r.origin, r.kind, r.oid, r.seq, r.payload) for r in rows])
        for state in states:
            assert state == states[0]
        # The entries went along the tree: frames were sent and taken (by some node: the
        # frames of any one author may all have been lost, then retried after a backoff
        # longer than this test, while pulls repaired).
        from node.models import Frame

        sent = 0
        for member in members:
            with member.node.db.activated():
                sent += await Frame.filter(state="done").count()
        assert sent > 0


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=10), seed=st.integers(0, 2**32 - 1))
def test_broadcast_converges_whatever_the_losses(ops: list[Any], seed: int) -> None:
    """Protocol 1.1 between in-process nodes: frames and changes pulls lost (before or
    after being processed), duplicated and reordered; once links work again, the tree
    and the pulls (grafts, resets) bring every node to the same state."""
    with tempfile.TemporaryDirectory() as base:
        asyncio.run(broadcast_scenario(Path(base), ops, seed))
