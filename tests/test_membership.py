"""Membership between in-process nodes (docs/protocol.md 16): a closed network accepts,
relays and shows only its members' entries; a vouch admits a place everywhere, a
revocation hides it at once and its data is purged later; refused origins are only
candidates; the blocklist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from federation.timeutil import utc_now
from node.datadir import init_data_dir
from node.services.sync import sync_all
from tests.conftest import InProcessNode
from tests.network import RoutingTransport, network
from tests.test_federation_inprocess import all_entries, link


async def sync(node: InProcessNode) -> list[Any]:
    with node.node.db.activated():
        return await sync_all(node.node)


async def found(node: InProcessNode, words: str) -> list[str]:
    r = await node.client.get("/api/v1/search", params={"q": words})
    return [item["origin"] for item in r.json()["results"]]


async def overview(node: InProcessNode) -> dict[str, Any]:
    r = await node.client.get("/api/v1/membership", headers=node.auth)
    assert r.status_code == 200
    result: dict[str, Any] = r.json()
    return result


@asynccontextmanager
async def closed_network(
    base: Path, names: list[str], **settings: Any
) -> AsyncIterator[tuple[RoutingTransport, dict[str, InProcessNode]]]:
    """A network whose founder is its first node."""
    founder, _ = init_data_dir(base / names[0], {"name": names[0]})
    async with network(base, names, founders=founder.origin, **settings) as (transport, nodes):
        yield transport, nodes


async def test_vouch_admits_revocation_hides_then_purges(tmp_path: Path) -> None:
    async with closed_network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(c, "a")
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        [round_b] = await sync(b)
        assert round_b.error is None
        # b got the founder's log; a refused b's own log and keeps only a candidate row.
        assert a.node.origin in {o["id"] for o in (await b.client.get("/api/v1/nodes")).json()
                                 ["origins"]}  # fmt: skip
        assert await found(a, "tableur") == []
        assert await all_entries(a, b.node.origin) == []
        [candidate] = (await overview(a))["candidates"]
        assert candidate["origin"] == b.node.origin and candidate["code"] == "not_member"
        # Refused entries are not asked for again: a claims b complete in its answers.
        again = await a.client.post("/federation/v1/sync", json={"vector": {}})
        assert again.json()["vector"][b.node.origin] == 2**53 - 1

        r = await a.client.post(
            "/api/v1/vouches", json={"subject": b.node.origin, "title": "Bienvenue"}, headers=a.auth
        )
        assert r.status_code == 201, r.text
        assert b.node.origin in {m["id"] for m in (await overview(a))["members"]}
        await sync(b)  # b pushes its log back now that a takes it
        assert await found(a, "tableur") == [b.node.origin]
        await sync(c)  # c learns the vouch and b's log from a
        assert await found(c, "tableur") == [b.node.origin]
        assert b.node.origin in (await c.client.get("/nodes")).text
        # b is no longer a candidate; c, which nobody vouched for, now is.
        assert [x["origin"] for x in (await overview(a))["candidates"]] == [c.node.origin]
        assert await all_entries(a, c.node.origin) == []

        # The founder revokes: b is hidden at once on a, then on c after a round.
        r = await a.client.delete(f"/api/v1/vouches/{b.node.origin}", headers=a.auth)
        assert r.status_code == 200, r.text
        assert await found(a, "tableur") == []
        assert await all_entries(a, b.node.origin) == []
        await sync(c)
        assert await found(c, "tableur") == []
        assert [h["origin"] for h in (await overview(c))["hidden"]] == [b.node.origin]
        vector = (await c.client.get("/api/v1/nodes")).json()["origins"]
        assert b.node.origin in {o["id"] for o in vector}  # held, hidden, not yet purged
        assert {o["id"]: o["hidden"] for o in vector} == {
            a.node.origin: False,
            b.node.origin: True,
            c.node.origin: False,
        }
        # The public directory no longer shows the place.
        public = (await c.client.get("/nodes")).text
        assert b.node.origin not in public and a.node.origin in public
        # New entries of b are refused by every member.
        await b.client.post("/api/v1/skills", json={"title": "Courriels"}, headers=b.auth)
        await sync(b)
        assert await found(a, "courriels") == []
        with c.node.db.activated():
            assert await c.node.membership.purge_former_members(utc_now()) == []
            later = utc_now() + timedelta(days=31)
            assert await c.node.membership.purge_former_members(later) == [b.node.origin]
        vector = (await c.client.get("/api/v1/nodes")).json()["origins"]
        assert b.node.origin not in {o["id"] for o in vector}
        assert (await overview(c))["hidden"] == []


async def test_a_batch_brings_the_vouch_and_the_new_member_together(tmp_path: Path) -> None:
    async with closed_network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        await a.client.post("/api/v1/vouches", json={"subject": b.node.origin}, headers=a.auth)
        # b's log first: c processes the founder's log first, then b's in the same batch.
        batch = await all_entries(b, b.node.origin) + await all_entries(a, a.node.origin)
        r = await c.client.post("/federation/v1/push", json={"entries": batch})
        assert r.json()["rejected"] == []
        assert await found(c, "tableur") == [b.node.origin]


async def test_a_vouch_by_a_revoked_member_no_longer_counts(tmp_path: Path) -> None:
    async with closed_network(tmp_path, ["a", "b", "d"]) as (_, nodes):
        a, b, d = nodes["a"], nodes["b"], nodes["d"]
        await link(b, "a")
        await link(d, "b")
        await d.client.post("/api/v1/skills", json={"title": "Impression 3D"}, headers=d.auth)
        await a.client.post("/api/v1/vouches", json={"subject": b.node.origin}, headers=a.auth)
        await sync(b)
        await b.client.post("/api/v1/vouches", json={"subject": d.node.origin}, headers=b.auth)
        await sync(d)
        await sync(b)
        await sync(b)
        assert await found(a, "impression") == [d.node.origin]
        await a.client.delete(f"/api/v1/vouches/{b.node.origin}", headers=a.auth)
        assert await found(a, "impression") == []  # d was a member through b only
        members = {m["id"] for m in (await overview(a))["members"]}
        assert members == {a.node.origin}


async def test_open_network_and_the_blocklist(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        await sync(b)
        assert await found(a, "tableur") == [b.node.origin]  # open: no founders
        r = await a.client.post(
            "/api/v1/blocklist",
            json={"kind": "origin", "value": b.node.origin, "reason": "pourriel"},
            headers=a.auth,
        )
        assert r.status_code == 201
        assert await found(a, "tableur") == []
        await b.client.post("/api/v1/skills", json={"title": "Courriels"}, headers=b.auth)
        entries = await all_entries(b, b.node.origin)
        r = await a.client.post("/federation/v1/push", json={"entries": entries[-1:]})
        assert r.json()["rejected"][0]["code"] == "blocked"
        # The node's own moderation (the reason above) is read with a token only.
        private = await overview(a)
        assert [row["reason"] for row in private["blocklist"]] == ["pourriel"]
        assert [row["origin"] for row in private["hidden"]] == [b.node.origin]
        public = (await a.client.get("/api/v1/membership")).json()
        assert "pourriel" not in str(public)
        assert not {"candidates", "hidden", "blocklist"} & set(public)
        assert public["open"] is True and public["founders"] == []
        wrong = await a.client.get("/api/v1/membership", headers={"authorization": "Bearer x"})
        assert wrong.status_code == 401
        bad = await a.client.post(
            "/api/v1/blocklist", json={"kind": "origin", "value": "x", "reason": "r"},
            headers=a.auth,
        )  # fmt: skip
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "value"
        r = await a.client.delete(
            "/api/v1/blocklist", params={"kind": "origin", "value": b.node.origin}, headers=a.auth
        )
        assert r.status_code == 204
        assert await found(a, "tableur") == [b.node.origin]


async def test_vouch_api_checks_its_input(tmp_path: Path) -> None:
    async with closed_network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        r = await a.client.post("/api/v1/vouches", json={"subject": "nope"}, headers=a.auth)
        assert r.status_code == 422 and r.json()["error"]["field"] == "subject"
        r = await a.client.post("/api/v1/vouches", json={"subject": a.node.origin},
                                headers=a.auth)  # fmt: skip
        assert r.status_code == 422
        r = await a.client.post("/api/v1/vouches", json={"subject": a.node.origin})
        assert r.status_code == 401
        assert (await overview(a))["founders"] == [a.node.origin]


async def test_invitation_join_request_and_vouch(tmp_path: Path) -> None:
    from federation.keys import NodeKey
    from node.services.invitations import (
        InvitationError,
        create_invitation,
        join,
        join_requests,
        parse_code,
    )
    from node.services.reports import recipients

    founder, _ = init_data_dir(tmp_path / "a", {"name": "a"})
    # The charter's order, which is not the sorted one: its first founders coordinate.
    others = sorted((NodeKey.generate().origin for _ in range(2)), reverse=True)
    charter = [others[0], founder.origin, others[1]]
    per_node = {"a": {"founders": ",".join(charter)}}
    async with network(tmp_path, ["a", "n", "z"], per_node=per_node) as (_, nodes):
        a, n, z = nodes["a"], nodes["n"], nodes["z"]
        # n starts in an open network and takes z's log, as it would from any peer.
        await z.client.post("/api/v1/skills", json={"title": "Origami"}, headers=z.auth)
        await link(n, "z")
        await sync(n)
        assert await found(n, "origami") == [z.node.origin]
        with a.node.db.activated():
            invitation = await create_invitation(a.node)
        code = invitation.code()
        assert parse_code(code) == invitation and list(invitation.founders) == charter
        with n.node.db.activated():
            await join(n.node, code, "Médiathèque de Ouessant", "Ouessant")
            # The network's founders are adopted (papi.toml too) and the inviter is a peer.
            assert n.node.membership.founders == set(charter)
            toml = (n.data_dir / "papi.toml").read_text()
            assert [toml.index(f) for f in charter] == sorted(toml.index(f) for f in charter)
            assert recipients(n.node) == [others[0], founder.origin, n.node.origin]
            # What it held of non-members is hidden at once, not at the next start.
            assert await found(n, "origami") == []
            assert [h["origin"] for h in (await overview(n))["hidden"]] == [z.node.origin]
            assert all(round_.error is None for round_ in await sync(n))
        with a.node.db.activated():
            [request] = await join_requests(a.node.db.connection())
        assert request["origin"] == n.node.origin and request["name"].startswith("Médiathèque")
        assert await all_entries(a, n.node.origin) == []  # not a member yet
        # An invitation serves one place; another key cannot use it again.
        from federation.canonical import canonical_bytes
        from federation.keys import NodeKey

        other = NodeKey.generate()
        forged = {"invitation": invitation.nonce, "origin": other.origin, "name": "Autre"}
        forged["sig"] = other.sign(canonical_bytes(forged))
        r = await a.client.post("/federation/v1/join", json=forged)
        assert r.status_code == 403 and r.json()["error"]["code"] == "unknown_invitation"
        forged["name"] = "Autre nom"  # the signature no longer matches
        r = await a.client.post("/federation/v1/join", json=forged)
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_signature"
        with pytest.raises(InvitationError):
            parse_code(code[:-5])
        r = await a.client.post("/federation/v1/join", json={"invitation": "x"})
        assert r.status_code == 422
        await a.client.post("/api/v1/vouches", json={"subject": n.node.origin}, headers=a.auth)
        await sync(n)
        assert len(await all_entries(a, n.node.origin)) >= 1
