"""Property: whatever the order, duplication and loss of pushes between in-process nodes,
after anti-entropy rounds every node holds the same verified state."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.models import CurrentObject
from node.services import sync as sync_service
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.network import network, url_of

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
