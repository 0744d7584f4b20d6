"""Property: in a closed network whose memberships change during the run (vouches and
revocations mixed with the other writes, lossy and reordered pushes), after anti-entropy
rounds every node agrees on the members and holds the same verified state of every
member's log, and nothing of the others is shown anywhere but on their own node."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.datadir import init_data_dir
from node.models import CurrentObject
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.network import network, url_of

NAMES = ["n0", "n1", "n2", "n3"]

operation = st.tuples(
    st.integers(0, len(NAMES) - 1),  # author
    st.sampled_from(["create", "update", "vouch", "vouch", "revoke"]),
    st.integers(0, 3),  # which object, or which place is vouched for
)
delivery = st.tuples(
    st.integers(0, len(NAMES) - 1),
    st.integers(0, len(NAMES) - 1),
    st.integers(0, 2**32 - 1),
)


async def scenario(base: Path, ops: list[Any], deliveries: list[Any]) -> None:
    founder, _ = init_data_dir(base / NAMES[0], {"name": NAMES[0]})
    async with network(base, NAMES, founders=founder.origin) as (_, nodes):
        members = [nodes[name] for name in NAMES]
        origins = [m.node.origin for m in members]
        for i, member in enumerate(members):
            with member.node.db.activated():
                await add_peer(url_of(NAMES[(i + 1) % len(NAMES)]))
        oids: dict[int, list[str]] = {i: [] for i in range(len(members))}
        for author, op, which in ops:
            member = members[author]
            if op in ("vouch", "revoke"):
                subject = origins[which]
                if subject == member.node.origin:
                    continue
                if op == "vouch":
                    r = await member.client.post(
                        "/api/v1/vouches", json={"subject": subject}, headers=member.auth
                    )
                    assert r.status_code == 201, r.text
                else:
                    r = await member.client.delete(f"/api/v1/vouches/{subject}",
                                                   headers=member.auth)  # fmt: skip
                    assert r.status_code == 200, r.text
                continue
            if op == "create" or not oids[author]:
                r = await member.client.post(
                    "/api/v1/skills", json={"title": f"Atelier {which}"}, headers=member.auth
                )
                assert r.status_code == 201
                oids[author].append(r.json()["id"])
                continue
            oid = oids[author][which % len(oids[author])]
            r = await member.client.put(
                f"/api/v1/skills/{oid}", json={"title": f"Atelier {which}!"}, headers=member.auth
            )
            assert r.status_code == 200
        for sender, receiver, seed in deliveries:
            rng = random.Random(seed)
            entries: list[Any] = []
            for origin in origins:
                r = await members[sender].client.get(
                    "/federation/v1/entries", params={"origin": origin, "limit": 500}
                )
                entries.extend(r.json()["entries"])
            chosen = [e for e in entries if rng.random() < 0.6]
            rng.shuffle(chosen)
            if chosen:
                r = await members[receiver].client.post(
                    "/federation/v1/push", json={"entries": chosen[:500]}
                )
                assert r.status_code == 200
                assert {x["code"] for x in r.json()["rejected"]} <= {"not_member"}
        for _ in range(3 * len(members)):
            for member in members:
                with member.node.db.activated():
                    for result in await sync_all(member.node):
                        assert result.error is None
        views = []
        for member in members:
            r = await member.client.get("/api/v1/membership")
            views.append({m["id"] for m in r.json()["members"]})
        assert all(view == views[0] for view in views), views
        agreed = views[0]
        assert founder.origin in agreed
        states = []
        for member in members:
            with member.node.db.activated():
                rows = await CurrentObject.all().order_by("origin", "kind", "oid")
            states.append([(r.origin, r.kind, r.oid, r.seq, r.payload) for r in rows
                           if r.origin in agreed])  # fmt: skip
            outsiders = {r.origin for r in rows} - agreed
            assert outsiders <= {member.node.origin}  # only a non-member's own data
        for state in states:
            assert state == states[0]
        from tests.independent_verifier import verify_log

        for member in members:
            for origin in agreed:
                r = await member.client.get(
                    "/federation/v1/entries", params={"origin": origin, "limit": 500}
                )
                verify_log(r.json()["entries"])


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(operation, min_size=1, max_size=14),
    deliveries=st.lists(delivery, max_size=6),
)
def test_members_and_their_data_converge_while_memberships_change(
    ops: list[Any], deliveries: list[Any]
) -> None:
    with tempfile.TemporaryDirectory() as base:
        asyncio.run(scenario(Path(base), ops, deliveries))
