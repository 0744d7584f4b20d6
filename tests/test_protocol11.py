"""Protocol 1.1 in the node (docs/protocol.md 11-13): features in the node information,
the broadcast tree between in-process nodes (frames as rows, prune, graft), changes since
the last visit, and version 1 nodes next to 1.1 ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from federation.broadcast import Mode
from node.models import Frame, Peer, PeerLink
from node.services.changes import pull_changes, visit
from node.services.features import refresh_features
from node.services.peers import add_peer
from node.services.tree import maintain_neighbours, send_frames, tree_of
from tests.conftest import InProcessNode
from tests.network import network, url_of

FAST = {"changes_settle_seconds": 0.0}


async def publish(node: InProcessNode, title: str) -> dict[str, Any]:
    r = await node.client.post("/api/v1/skills", json={"title": title}, headers=node.auth)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def holds(node: InProcessNode, origin: str, seq: int) -> bool:
    r = await node.client.get(
        "/federation/v1/entries", params={"origin": origin, "after": seq - 1, "limit": 1}
    )
    return bool(r.json()["entries"])


async def link(member: InProcessNode, *others: str) -> None:
    """Peers added by hand, features read, neighbours chosen (what a tick does)."""
    with member.node.db.activated():
        for other in others:
            assert await refresh_features(member.node, await add_peer(url_of(other)))
        await maintain_neighbours(member.node)


async def send_all(member: InProcessNode) -> int:
    """Send every due frame of ``member`` (what the frame worker does)."""
    sent = 0
    with member.node.db.activated():
        for peer in await Peer.all():
            done, failed = await send_frames(member.node, peer.id)
            assert not failed
            sent += done
    return sent


async def test_node_information_lists_the_features(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"], {"b": {"federation_features": ""}}) as (_, nodes):
        info = (await nodes["a"].client.get("/api/v1/node")).json()
        assert info["features"] == ["broadcast", "changes"] and info["protocol"] == 1
        assert "features" not in (await nodes["b"].client.get("/api/v1/node")).json()
        # A version 1 node does not serve the 1.1 paths.
        r = await nodes["b"].client.post("/federation/v1/changes", json={})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await nodes["b"].client.post(
            "/federation/v1/broadcast", json={"from": url_of("a"), "prune": True}
        )
        assert r.status_code == 404


async def test_a_new_entry_goes_along_the_tree_and_duplicates_prune(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"], **FAST) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        # A triangle: a new entry reaches c twice (from a, and from b), once too many.
        await link(a, "b", "c")
        await link(b, "a", "c")
        await link(c, "a", "b")
        with a.node.db.activated():
            links = await PeerLink.all()
            assert {lk.features for lk in links} == {"broadcast changes"}
            assert all(lk.neighbour and lk.mode == "eager" for lk in links)
        created = await publish(a, "Atelier tableur")
        origin, seq = created["origin"], created["seq"]
        with a.node.db.activated():
            # Store first: one frame row per eager neighbour, written with the entry.
            assert await Frame.filter(state="pending").count() == 2
            # And no version 1 push to peers that speak broadcast.
            from node.models import Delivery

            assert await Delivery.all().count() == 0
        assert await send_all(a) == 2
        assert await holds(b, origin, seq) and await holds(c, origin, seq)
        # b and c forward to their other eager neighbour: each gets a duplicate.
        await send_all(b)
        await send_all(c)
        for member, other in ((b, "c"), (c, "b")):
            tree = member.node.tree
            assert tree.state.neighbours[url_of(other)] is Mode.LAZY
            assert tree.state.neighbours[url_of("a")] is Mode.EAGER
            with member.node.db.activated():
                row = await PeerLink.get(peer__url=url_of(other))
                assert row.mode == "lazy"  # kept across restarts
        # The pruned link carries nothing more: the next entry costs 2 frames, no more.
        second = await publish(a, "Atelier scanner")
        assert await send_all(a) == 2
        assert await send_all(b) == 0 and await send_all(c) == 0
        assert await holds(b, second["origin"], second["seq"])


async def test_a_node_that_missed_a_frame_grafts_it_from_the_changes(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"], **FAST) as (transport, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await link(b, "a")
        transport.down.add("b.test")
        created = await publish(a, "Atelier perdu")
        with a.node.db.activated():
            peer = await Peer.get(url=url_of("b"))
            done, failed = await send_frames(a.node, peer.id)
            assert (done, failed) == (0, True)  # b is down: the frame waits, with backoff
            assert (await Frame.get(peer_id=peer.id)).attempts == 1
        transport.down.clear()
        with b.node.db.activated():
            peer_a = await Peer.get(url=url_of("a"))
            first = await pull_changes(b.node, peer_a, await PeerLink.get(peer_id=peer_a.id))
            assert first >= 1  # no cursor yet: reset, and a full round
            cursor = (await PeerLink.get(peer_id=peer_a.id)).cursor
            assert cursor is not None
        assert await holds(b, created["origin"], created["seq"])
        # The next entry is lost too; b's pull announces it and b grafts it at once.
        transport.down.add("b.test")
        lost = await publish(a, "Atelier encore perdu")
        with a.node.db.activated():
            await send_frames(a.node, (await Peer.get(url=url_of("b"))).id)
        transport.down.clear()
        with b.node.db.activated():
            stored = await pull_changes(b.node, peer_a, await PeerLink.get(peer_id=peer_a.id))
            assert stored == 1
            assert (await PeerLink.get(peer_id=peer_a.id)).cursor != cursor
        assert await holds(b, lost["origin"], lost["seq"])
        assert b.node.tree.state.neighbours[url_of("a")] is Mode.EAGER


async def test_changes_answers_what_moved_since_the_cursor(tmp_path: Path) -> None:
    async with network(tmp_path, ["a"], **FAST) as (_, nodes):
        a = nodes["a"]
        r = await a.client.post("/federation/v1/changes", json={})
        first = r.json()
        assert r.status_code == 200 and first["reset"] is True and first["changes"] == {}
        created = await publish(a, "Atelier")
        r = await a.client.post("/federation/v1/changes", json={"cursor": first["cursor"]})
        answer = r.json()
        assert answer["changes"] == {created["origin"]: created["seq"]}
        assert answer["more"] is False and answer["cursor"] != first["cursor"]
        r = await a.client.post("/federation/v1/changes", json={"cursor": answer["cursor"]})
        again = r.json()
        assert again["changes"] == {} and again["cursor"] == answer["cursor"]
        epoch, position = answer["cursor"].split(".")
        r = await a.client.post("/federation/v1/changes", json={"cursor": f"{epoch}.99999"})
        assert r.json()["reset"] is True  # beyond our last position
        r = await a.client.post("/federation/v1/changes", json={"cursor": f"other.{position}"})
        assert r.json()["reset"] is True  # another epoch


async def test_version_1_and_1_1_nodes_sync_both_ways(tmp_path: Path) -> None:
    per_node = {"old": {"federation_features": ""}}
    async with network(tmp_path, ["new", "old"], per_node, **FAST) as (_, nodes):
        new, old = nodes["new"], nodes["old"]
        await link(new, "old")
        await link(old, "new")
        with new.node.db.activated():
            assert (await PeerLink.get(peer__url=url_of("old"))).features == ""
            assert not new.node.tree.ids  # no neighbour: old does not speak broadcast
        # Pushes: new pushes to old by version 1, old pushes to new by version 1.
        from node.services.deliveries import run_due_deliveries

        one = await publish(new, "Depuis le nouveau")
        two = await publish(old, "Depuis l'ancien")
        with new.node.db.activated():
            assert await run_due_deliveries(new.node) == 1
        with old.node.db.activated():
            assert await run_due_deliveries(old.node) == 1
        assert await holds(old, one["origin"], one["seq"])
        assert await holds(new, two["origin"], two["seq"])
        # Pulls: each visits the other with version 1 rounds (old has no changes).
        three = await publish(new, "Tire")
        four = await publish(old, "Tire aussi")
        with new.node.db.activated():
            await visit(new.node, await Peer.get(url=url_of("old")), full=False, deadline=30)
        with old.node.db.activated():
            await visit(old.node, await Peer.get(url=url_of("new")), full=False, deadline=30)
        assert await holds(old, three["origin"], three["seq"])
        assert await holds(new, four["origin"], four["seq"])


async def test_a_peer_that_went_back_to_version_1_is_forgotten(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"], **FAST) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        # b restarts as a version 1 node: its 1.1 paths answer 404.
        b.node.settings = b.node.settings.replace(federation_features="")
        await publish(a, "Atelier")
        with a.node.db.activated():
            peer = await Peer.get(url=url_of("b"))
            await send_frames(a.node, peer.id)
            row = await PeerLink.get(peer_id=peer.id)
            assert row.features == "" and not row.neighbour
            assert url_of("b") not in (await tree_of(a.node)).ids
            assert json.loads((await Frame.get(peer_id=peer.id)).entries)


async def test_missing_heads_saved_side_by_side(tmp_path: Path) -> None:
    """Saves of the same missing record side by side end in one row. (Under load, in the
    20-process test, two saves once both inserted one new record and a frame got a 500;
    that interleaving of Tortoise's shared SQLite connection did not reproduce in one
    process, so the fix, one upsert under a lock, is checked there: test_broadcast_e2e.)"""
    import asyncio

    from federation.broadcast import Missing
    from node.models import MissingHead
    from node.services.tree import save

    async with network(tmp_path, ["a"]) as (_, nodes):
        node = nodes["a"].node
        with node.db.activated():
            tree = await tree_of(node)
            origin = "ed25519:" + "A" * 43
            tree.state.missing[origin] = Missing(3, ["http://b.test"], 0.0)
            await asyncio.gather(save(tree), save(tree), save(tree))
            assert (await MissingHead.get(origin=origin)).wanted == 3
            tree.state.missing.clear()
            await asyncio.gather(save(tree), save(tree))
            assert await MissingHead.all().count() == 0


async def test_an_entry_pushed_by_an_old_node_goes_on_along_the_tree(tmp_path: Path) -> None:
    from node.services.deliveries import run_due_deliveries

    per_node = {"old": {"federation_features": ""}}
    async with network(tmp_path, ["a", "b", "old"], per_node, **FAST) as (_, nodes):
        a, b, old = nodes["a"], nodes["b"], nodes["old"]
        await link(a, "b", "old")
        await link(b, "a")
        await link(old, "a")
        created = await publish(old, "Atelier ancien")
        with old.node.db.activated():
            assert await run_due_deliveries(old.node) == 1  # a version 1 push to a
        assert await holds(a, created["origin"], created["seq"])
        assert await send_all(a) == 1  # and a frame from a to b, its neighbour
        assert await holds(b, created["origin"], created["seq"])


async def test_a_sender_we_cannot_pull_from_is_not_pruned(tmp_path: Path) -> None:
    """Regression (chain of real nodes): a node answered ``prune`` to the frames of a peer
    its address rules refuse; the sender then only announced, the receiver could not pull
    the announcements, and the sender's entries never reached it."""
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await publish(a, "Tableur")
        r = await a.client.get(
            "/federation/v1/entries", params={"origin": a.node.origin, "after": 0}
        )
        entries = r.json()["entries"]

        async def send(entry: dict[str, Any]) -> dict[str, Any]:
            frame = {"from": url_of("a"), "entries": [entry]}
            r = await b.client.post("/federation/v1/broadcast", json=frame)
            assert r.status_code == 200, r.text
            answer: dict[str, Any] = r.json()
            return answer

        with b.node.db.activated():
            peer = await Peer.get_or_none(url=url_of("a")) or await add_peer(url_of("a"))
        # Known and reachable, but not a neighbour (its features not read): told to
        # announce instead.
        assert (await send(entries[0]))["prune"] is True
        assert await holds(b, a.node.origin, 1)
        # Refused by b's address rules: b cannot pull its announcements, no prune.
        with b.node.db.activated():
            await Peer.filter(id=peer.id).update(state="refused")
        assert "prune" not in await send(entries[-1])
        # Unknown to b: no prune either.
        with b.node.db.activated():
            await Peer.filter(id=peer.id).delete()
        assert "prune" not in await send(entries[-1])


async def test_a_place_vouched_for_gets_its_log_taken_by_the_next_visit(
    tmp_path: Path,
) -> None:
    """Regression (real nodes, closed network): a place's log refused as ``not_member``
    was never offered again once the refusing peer was visited by changes pulls, which
    list only what the peer stored. A membership refusal makes the next visit a full
    round, whose push back offers the log again."""
    from node.services.changes import visit
    from tests.test_membership import closed_network, found

    async with closed_network(tmp_path, ["a", "b"], **FAST) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        with b.node.db.activated():
            peer = await add_peer(url_of("a"))
            assert await refresh_features(b.node, peer)
        await publish(b, "Tableur")

        async def visit_a() -> None:
            with b.node.db.activated():
                await visit(b.node, await Peer.get(id=peer.id), full=False, deadline=None)

        await visit_a()  # first contact: a full round; a refuses b's log
        assert await found(a, "tableur") == []
        assert peer.id in b.node.full_round_wanted
        r = await a.client.post("/api/v1/vouches", json={"subject": b.node.origin}, headers=a.auth)
        assert r.status_code == 201, r.text
        await visit_a()
        assert await found(a, "tableur") == [b.node.origin]
        assert peer.id not in b.node.full_round_wanted  # taken: changes pulls again


async def test_an_exception_before_a_frame_is_sent_is_a_counted_attempt(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """As for deliveries (the same lifecycle): a failure outside the request itself (here
    opening the neighbour's client) counts on the frames it was for, the neighbour in
    backoff; it was left pending without counting, tried again at every wake-up."""

    def broken_client(peer: Peer | None = None, **_: object) -> None:
        raise RuntimeError("a bug while opening the client")

    async with network(tmp_path, ["a", "b"], **FAST) as (_, nodes):
        a = nodes["a"]
        await link(a, "b")
        await publish(a, "Atelier tableur")
        monkeypatch.setattr(a.node, "peer_client", broken_client)
        with a.node.db.activated():
            peer = await Peer.get(url=url_of("b"))
            assert await send_frames(a.node, peer.id) == (0, True)
            frame = await Frame.get(peer_id=peer.id)
            peer = await Peer.get(id=peer.id)
        assert frame.state == "pending" and frame.attempts == 1
        assert frame.next_attempt == peer.next_attempt
        assert peer.state == "failing" and (peer.last_error or "").startswith("[internal]")


async def test_a_prune_of_the_last_eager_link_is_grafted_back(tmp_path: Path) -> None:
    """b prunes a (b has another eager link, c); a had no other: it would be cut off the
    tree (a 50-node run: 1 to 14 nodes without an eager link after the first minutes)."""
    from node.services.entries import by_refs

    async with network(tmp_path, ["a", "b", "c"], **FAST) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(a, "b")
        await link(b, "a", "c")
        await link(c, "b")
        created = await publish(c, "Atelier en double")
        await send_all(c)  # b has it along the tree (its frame to a waits)
        with c.node.db.activated():
            log = [(created["origin"], seq) for seq in range(1, created["seq"] + 1)]
            documents = [e.document() for e in await by_refs(log, c.node.db.connection())]
        assert await holds(b, created["origin"], created["seq"])
        # a gets c's log by another path first (a version 1 push), and frames it to b.
        r = await a.client.post("/federation/v1/push", json={"entries": documents, "ttl": 1})
        assert r.status_code == 200 and not r.json().get("rejected"), r.text
        assert await send_all(a) == 1
        # b answered prune (a duplicate, b has c): a grafted the link back.
        assert a.node.tree.state.neighbours[url_of("b")] is Mode.EAGER
        assert b.node.tree.state.neighbours[url_of("a")] is Mode.EAGER
        assert b.node.tree.state.neighbours[url_of("c")] is Mode.EAGER


async def test_a_push_with_ttl_0_still_goes_along_the_tree(tmp_path: Path) -> None:
    """ttl 0 (a round's push back, or the last hop of version 1 gossip) ends version 1
    gossip, not the tree: a neighbour that cannot pull from us (a discovered peer on a
    private address, a pull-only node) gets these entries only in a frame. Keeping them
    off the tree left a vouched place's log on the first node that took it
    (tests/test_federation_e2e_membership.py)."""
    from node.services.entries import by_refs

    async with network(tmp_path, ["a", "b", "c"], **FAST) as (_, nodes):
        a, c = nodes["a"], nodes["c"]
        await link(a, "b")
        created = await publish(c, "Atelier poussé")
        origin = created["origin"]
        with c.node.db.activated():
            log = [(origin, seq) for seq in range(1, created["seq"] + 1)]
            documents = [e.document() for e in await by_refs(log, c.node.db.connection())]
        r = await a.client.post("/federation/v1/push", json={"entries": documents, "ttl": 0})
        assert r.status_code == 200 and not r.json().get("rejected"), r.text
        with a.node.db.activated():
            assert await Frame.all().count() == 1


async def test_a_frame_leaves_out_what_the_neighbour_is_known_to_hold_by_then(
    tmp_path: Path,
) -> None:
    """A frame row waits while another request to its neighbour is in flight; if the
    neighbour meanwhile showed it holds the entries (it sent them to us, or announced
    them), the row goes without a request: sending them would only bring a duplicate."""
    async with network(tmp_path, ["a", "b"], **FAST) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        first = await publish(a, "Atelier croisé")
        second = await publish(a, "Atelier croisé bis")
        # b got the first one by another path and told us so (a frame, an announcement).
        a.node.tree.state.known.learn(url_of("b"), {first["origin"]: first["seq"]})
        with a.node.db.activated():
            rows = await Frame.all().order_by("id")
            assert len(rows) == 2
            await Frame.filter(id=rows[1].id).update(
                next_attempt=rows[1].created.replace(year=2999)
            )
        assert await send_all(a) == 1
        with a.node.db.activated():
            done = await Frame.get(id=rows[0].id)
            assert done.state == "done" and done.request is None  # no request went
        assert not await holds(b, first["origin"], first["seq"])
        # What b is not known to hold still goes, in a request.
        with a.node.db.activated():
            await Frame.filter(id=rows[1].id).update(next_attempt=rows[1].created)
        assert await send_all(a) == 1
        with a.node.db.activated():
            assert (await Frame.get(id=rows[1].id)).request == rows[1].id
        assert await holds(b, second["origin"], second["seq"])


async def test_spreading_waits_for_another_process_writing_the_database(
    tmp_path: Path,
) -> None:
    """The frame rows of entries new to us are written in a transaction that holds the
    write lock from its start. A deferred one read the peers, then another process on the
    same file (``papi`` next to the node) committed, and its insert failed at once with
    "database is locked", after the entries were stored: a 500 on a push, seen under load
    in the propagation benchmark."""
    import asyncio
    import sqlite3

    from federation.entry import parse_entry
    from node.services.entries import by_refs
    from node.services.tree import spread

    async with network(tmp_path, ["a", "b", "c"], **FAST) as (_, nodes):
        a, c = nodes["a"], nodes["c"]
        await link(a, "b")
        created = await publish(c, "Atelier écrit pendant une commande papi")
        with c.node.db.activated():
            log = [(created["origin"], seq) for seq in range(1, created["seq"] + 1)]
            entries = [
                parse_entry(e.document()) for e in await by_refs(log, c.node.db.connection())
            ]
        path = a.node.db.sqlite_path()
        assert path is not None
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE peers SET url = url")  # a write, not yet committed

            async def commit_soon() -> None:
                await asyncio.sleep(0.3)  # while spread is under way
                other.execute("COMMIT")

            with a.node.db.activated():
                committed = asyncio.create_task(commit_soon())
                await spread(a.node, entries)
                await committed
                assert await Frame.all().count() == 1
        finally:
            other.close()


async def test_a_peer_that_did_not_choose_us_is_told_and_sends_us_entries(
    tmp_path: Path,
) -> None:
    """a chooses b as a neighbour; b has neighbours enough (or has not ticked yet) and did
    not choose a. Until a frame from a, b did not know a and sent it nothing, while a held
    the link eager: a was cut off the tree until its pulls (12.1)."""
    from node.services.changes import graft_due

    async with network(tmp_path, ["a", "b"], **FAST) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        with b.node.db.activated():
            assert await refresh_features(b.node, await add_peer(url_of("a")))
        await link(a, "b")
        assert url_of("a") not in b.node.tree.state.neighbours
        with a.node.db.activated():
            await graft_due(a.node)  # the tick's grafts: a greeting to b
        assert b.node.tree.state.neighbours[url_of("a")] is Mode.EAGER
        assert a.node.tree.state.neighbours[url_of("b")] is Mode.EAGER
        created = await publish(b, "Atelier accueil")
        assert await send_all(b) == 1
        assert await holds(a, created["origin"], created["seq"])
