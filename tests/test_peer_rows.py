"""Peers as rows (node/store/peers.py): what an exchange's outcome writes."""

from __future__ import annotations

from federation.keys import NodeKey
from node.services.peers import add_peer, identified, record_failure, record_success
from node.store import peers as peer_rows
from tests.conftest import InProcessNode


async def test_an_outcome_writes_its_own_columns_only(papi: InProcessNode) -> None:
    """A round's outcome, recorded on the row it started with, keeps what changed meanwhile:
    the origin learnt by another task, the entries counted by another exchange."""
    origin = NodeKey.generate().origin
    # Model queries need a current context (Tortoise reads its capabilities there).
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        peer = await add_peer("http://192.0.2.7:8000", conn=conn)
        await identified(peer, origin, conn=conn)  # ``peer`` still says origin None
        await record_success(peer, 2, conn=conn)
        after = await record_success(peer, 3, conn=conn)
        stored = await peer_rows.with_url(conn, url=peer.url)
    assert stored is not None and stored.origin == origin
    assert stored.entries_received == 5 and stored.state == "ok"
    assert after.state == "ok" and after.next_attempt is None


async def test_a_failure_gives_the_backoff_it_stored(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        conn = papi.node.db.connection()
        peer = await add_peer("http://192.0.2.8:8000", conn=conn)
        failed = await record_failure(
            peer, "timeout", kind="unreachable", retry_after=600, conn=conn
        )
        stored = await peer_rows.with_url(conn, url=peer.url)
    assert stored is not None and failed == stored
    assert stored.state == "failing" and stored.consecutive_failures == 1
    assert stored.last_error == "[unreachable] timeout"
    assert stored.next_attempt is not None and stored.last_attempt is not None
    assert (stored.next_attempt - stored.last_attempt).total_seconds() >= 600
