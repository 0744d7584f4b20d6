"""The broadcast tree's rows (node/store/tree.py, node/store/frames.py): what each write
keeps of a row it finds, and what the reads give back."""

from __future__ import annotations

from datetime import timedelta

from federation.timeutil import utc_now
from node.services.peers import add_peer, record_failure
from node.store import frames as frame_rows
from node.store import peers as peer_rows
from node.store import tree as tree_rows
from node.store.deliveries import Attempt
from node.store.frames import NewFrame
from node.store.tree import MissingRow
from tests.conftest import InProcessNode

REF = ("ed25519:" + "A" * 43, 3)


async def test_making_a_neighbour_keeps_what_the_link_row_knows(papi: InProcessNode) -> None:
    """A peer's link row holds its features and changes cursor: choosing it as a
    neighbour (again) sets the mode and forgets the failures, nothing else."""
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        known = await add_peer("http://192.0.2.10:8000", conn=conn)
        new = await add_peer("http://192.0.2.11:8000", conn=conn)
        await peer_rows.save_features(
            conn, peer_id=known.id, features="broadcast changes", checked=utc_now()
        )
        await peer_rows.save_cursor(conn, peer_id=known.id, cursor="c1")
        await tree_rows.count_failure(conn, peer_id=known.id, mode="eager")
        await tree_rows.make_neighbour(conn, peer_id=known.id, mode="eager")
        await tree_rows.make_neighbour(conn, peer_id=new.id, mode="eager")  # no row yet
        link = await peer_rows.link_or_none(conn, peer_id=known.id)
        assert link is not None
        assert (link.features, link.cursor) == ("broadcast changes", "c1")
        assert link.neighbour and link.mode == "eager" and link.link_failures == 0
        fresh = await peer_rows.link_or_none(conn, peer_id=new.id)
        assert fresh is not None and fresh.features == "" and fresh.neighbour
        await tree_rows.set_mode(conn, peer_id=new.id, mode="lazy")
        await tree_rows.drop_neighbour(conn, peer_id=known.id)
        neighbours = await tree_rows.neighbours(conn)
    assert [(n.peer_id, n.url, n.mode) for n in neighbours] == [(new.id, new.url, "lazy")]


async def test_link_failures_are_counted_and_forgotten(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        peer = await add_peer("http://192.0.2.12:8000", conn=conn)
        await tree_rows.count_failure(conn, peer_id=peer.id, mode="eager")  # creates the row
        await tree_rows.count_failure(conn, peer_id=peer.id, mode="eager")
        link = await peer_rows.link_or_none(conn, peer_id=peer.id)
        assert link is not None and link.link_failures == 2 and not link.neighbour
        await tree_rows.forget_failures(conn, peer_id=peer.id)
        link = await peer_rows.link_or_none(conn, peer_id=peer.id)
    assert link is not None and link.link_failures == 0


async def test_missing_records_are_written_replaced_and_deleted(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        first = MissingRow("o1", 5, ("http://a.test",), 10.0, 0)
        await tree_rows.save_missing(
            conn, changed=[first, MissingRow("o2", 2, (), 1.0, 1)], gone=[]
        )
        await tree_rows.save_missing(
            conn, changed=[MissingRow("o1", 7, ("http://a.test", "http://b.test"), 40.0, 1)],
            gone=["o2"],
        )  # fmt: skip
        # Announcers that cannot be read (a hand-edited row) count as none.
        await conn.execute_query(
            "INSERT INTO missing_heads (origin, wanted, announcers, due, tries)"
            " VALUES ('o3', 1, 'not json', 0, 0)"
        )
        rows = await tree_rows.missing(conn)
    assert rows == [
        MissingRow("o1", 7, ("http://a.test", "http://b.test"), 40.0, 1),
        MissingRow("o3", 1, (), 0.0, 0),
    ]


async def test_frames_skip_a_neighbour_in_backoff_and_keep_their_attempts(
    papi: InProcessNode,
) -> None:
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        ready = await add_peer("http://192.0.2.13:8000", conn=conn)
        waiting = await add_peer("http://192.0.2.14:8000", conn=conn)
        await record_failure(waiting, "down", kind="unreachable", retry_after=600, conn=conn)
        now = utc_now()
        written = await frame_rows.enqueue(
            conn,
            frames=[NewFrame(ready.id, (REF,)), NewFrame(waiting.id, (REF,)),
                    NewFrame(ready.id, (REF, (REF[0], 4)))],
            state="pending",
            now=now,
        )  # fmt: skip
        assert written == 2
        assert await frame_rows.due_peer_ids(conn, state="pending", now=now) == [ready.id]
        due = await frame_rows.due(conn, peer_id=ready.id, state="pending", now=now, limit=10)
        assert [f.refs for f in due] == [(REF,), (REF, (REF[0], 4))]
        assert all(f.attempts == 0 and f.peer_id == ready.id for f in due)
        first, second = due
        later = now + timedelta(minutes=5)
        await frame_rows.save_attempts(
            conn,
            attempts=[
                Attempt(first.id, "failed", 6, "[refused] no", None),  # given up
                Attempt(second.id, "pending", 1, "[busy] later", later),
            ],
        )
        assert await frame_rows.due(conn, peer_id=ready.id, state="pending", now=now, limit=9) == []
        again = await frame_rows.due(conn, peer_id=ready.id, state="pending", now=later, limit=9)
        assert [(f.id, f.attempts) for f in again] == [(second.id, 1)]
        await frame_rows.postpone(
            conn, peer_id=ready.id, state="pending", until=later + timedelta(minutes=1)
        )
        assert (
            await frame_rows.due(conn, peer_id=ready.id, state="pending", now=later, limit=9) == []
        )
        await frame_rows.sent(
            conn, ids=[second.id], from_state="pending", to_state="done", request=second.id
        )
        rows = await conn.execute_query_dict("SELECT id, state, request FROM frames ORDER BY id")
    assert [(r["state"], r["request"]) for r in rows] == [
        ("failed", None), ("done", second.id),
    ]  # fmt: skip
