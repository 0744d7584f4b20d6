"""A restored node's catch-up (services/bootstrap.py ``settle_catch_up``): when the
``restored`` marker goes, and what stays refused while it is there."""

from __future__ import annotations

from pathlib import Path

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


async def test_admin_says_why_a_restored_node_accepts_no_change(papi: InProcessNode) -> None:
    from tests.test_web import log_in, make_user

    await make_user(papi)
    await log_in(papi)
    page = (await papi.client.get("/admin")).text
    assert "restauré depuis une sauvegarde" not in page
    (papi.data_dir / RESTORED_MARKER).write_text("restored\n")
    page = (await papi.client.get("/admin")).text
    assert "Ce nœud a été restauré depuis une sauvegarde" in page
    assert "n'accepte aucune modification" in page


async def test_admin_says_why_a_node_whose_database_was_lost_waits(tmp_path: Path) -> None:
    from tests.conftest import in_process_node
    from tests.test_web import log_in, make_user

    async with in_process_node(tmp_path / "n"):
        pass
    for suffix in ("", "-wal", "-shm"):  # the database is lost, the key is kept
        (tmp_path / "n" / f"papi.sqlite3{suffix}").unlink(missing_ok=True)
    async with in_process_node(tmp_path / "n") as node:
        await make_user(node)
        await log_in(node)
        page = (await node.client.get("/admin")).text
        assert "Ce nœud récupère ses propres publications auprès de ses pairs" in page
