"""A restored node's catch-up (services/bootstrap.py ``settle_catch_up``): when the
``restored`` marker goes, and what stays refused while it is there."""

from __future__ import annotations

from node.services.bootstrap import settle_catch_up
from node.services.sync import RoundResult
from node.settings import RESTORED_MARKER
from tests.conftest import InProcessNode


def reached(seq: int | None, error: str | None = None) -> RoundResult:
    return RoundResult("http://peer.test", error=error, peer_head_of_ours=seq)


async def test_writes_wait_until_every_reached_peer_holds_no_more_of_our_log(
    papi: InProcessNode,
) -> None:
    marker = papi.data_dir / RESTORED_MARKER
    marker.write_text("restored\n")
    r = await papi.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=papi.auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "recovering"
    with papi.node.db.activated():  # our head is 1 (the place)
        await settle_catch_up(papi.node, [])
        assert marker.exists()  # no round at all
        await settle_catch_up(papi.node, [reached(None, error="connection refused")])
        assert marker.exists()  # no peer reached
        await settle_catch_up(papi.node, [reached(1), reached(3)])
        assert marker.exists()  # one peer holds more of our log than we do
        await settle_catch_up(papi.node, [reached(1), reached(9, error="timeout"), reached(0)])
        assert not marker.exists()
    r = await papi.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=papi.auth)
    assert r.status_code == 201 and r.json()["seq"] == 2
