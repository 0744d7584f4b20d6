"""Key rotation and recovery between in-process nodes (docs/protocol.md 17): peers follow
a rotation signed by the old key; a recovery signed by the offline recovery key makes a
fresh node's key the place's, entries of the old key are refused from then on, and
entries it wrote meanwhile give way to the recovery everywhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from federation.canonical import canonical_bytes
from federation.entry import Entry, build_entry
from federation.keys import NodeKey
from node.datadir import init_data_dir
from node.services.identity import declare_recovery, recover, rotate, write_origin
from node.settings import NEW_LOG_MARKER
from tests.conftest import InProcessNode, in_process_node
from tests.independent_verifier import verify_log
from tests.network import RoutingTransport, network, url_of
from tests.test_federation_inprocess import all_entries, link
from tests.test_membership import found, sync


def old_key_entry(key: NodeKey, log: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """What a thief holding the old key writes after ``log`` (a skill)."""
    last = log[-1]["header"]
    entry = build_entry(
        key, seq=last["seq"] + 1, prev="sha256:" + _hash(last), kind="skill", oid=title.lower(),
        op="put", payload={"title": title}, origin=last["origin"],
    )  # fmt: skip
    return entry.to_json()


def _hash(header: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(canonical_bytes(header)).hexdigest()


async def push(node: InProcessNode, entries: list[dict[str, Any]]) -> dict[str, Any]:
    r = await node.client.post("/federation/v1/push", json={"entries": entries})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_a_rotation_is_followed_by_every_peer(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(c, "b")
        origin, old = a.node.origin, a.node.key
        with a.node.db.activated():
            new = await rotate(a.node)
        assert a.node.origin == origin and a.node.key.origin == new.origin != old.origin
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 201
        await sync(b)
        await sync(c)
        assert await found(c, "tableur") == [origin]
        log = await all_entries(c, origin)
        assert log[-1]["header"]["signer"] == new.origin
        verify_log(log)
        # The old key signs nothing any more.
        answer = await push(c, [old_key_entry(old, log, "Courriels")])
        assert answer["rejected"][0]["code"] == "wrong_key"


async def test_recovery_on_a_fresh_node_continues_the_place(tmp_path: Path) -> None:
    transport = RoutingTransport()
    async with network(tmp_path, ["a", "b", "c"], transport=transport) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(c, "b")
        recovery = NodeKey.generate()
        with a.node.db.activated():
            await declare_recovery(a.node, recovery)
        await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        await sync(b)
        await sync(c)
        origin, stolen = a.node.origin, a.node.key
        log = await all_entries(b, origin)
        # The thief writes with the stolen key; c takes it before the recovery exists.
        thief = old_key_entry(stolen, log, "Arnaque")
        assert (await push(c, [thief]))["accepted"]

        # A fresh machine: a new key, the place's origin, no new log of its own.
        fresh_dir = tmp_path / "a2"
        init_data_dir(fresh_dir, {"name": "a"})
        (fresh_dir / NEW_LOG_MARKER).unlink()
        write_origin(fresh_dir, origin)
        async with in_process_node(
            fresh_dir, transport=transport, url=url_of("a2"), allow_private_peers=True
        ) as a2:
            transport.add("a2.test", a2.app)
            assert a2.node.origin == origin
            await link(a2, "b")
            await sync(a2)  # brings the place's log back from b
            with a2.node.db.activated():
                entry = await recover(a2.node, recovery)
            assert entry.header["signer"] == recovery.origin
            assert entry.seq == len(log) + 1
            await sync(a2)  # pushes the recovery back to b
            r = await a2.client.post("/api/v1/skills", json={"title": "Courriels"},
                                     headers=a2.auth)  # fmt: skip
            assert r.status_code == 201
            await sync(a2)
            assert await found(b, "courriels") == [origin]
            # c held the thief's entry at the recovery's seq: it gives way to the recovery.
            await sync(c)
            await sync(c)
            assert await found(c, "arnaque") == []
            assert await found(c, "courriels") == [origin]
            copy = await all_entries(c, origin)
            assert copy == await all_entries(a2, origin)
            verify_log(copy)
            # From now on the stolen key's entries are refused everywhere.
            for node in (b, c):
                answer = await push(node, [old_key_entry(stolen, copy, "Encore")])
                assert answer["rejected"][0]["code"] == "wrong_key"
            # Even one that competes with the history before the recovery.
            rewrite = old_key_entry(stolen, copy[:2], "Reecriture")
            assert (await push(b, [rewrite]))["rejected"][0]["code"] == "superseded"
            r = await b.client.get("/api/v1/nodes")
            assert not {o["id"]: o for o in r.json()["origins"]}[origin]["frozen"]


async def test_a_recovery_lifts_the_freeze_of_a_stolen_key_fork(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        recovery = NodeKey.generate()
        with a.node.db.activated():
            await declare_recovery(a.node, recovery)
        await sync(b)
        log = await all_entries(b, a.node.origin)
        # Two entries of the stolen key at one seq: a fork, b freezes the place.
        one = old_key_entry(a.node.key, log, "Un")
        two = old_key_entry(a.node.key, log, "Deux")
        await push(b, [one])
        assert (await push(b, [two]))["rejected"][0]["code"] == "fork"
        nodes_b = {o["id"]: o for o in (await b.client.get("/api/v1/nodes")).json()["origins"]}
        assert nodes_b[a.node.origin]["frozen"]
        # The coordinator's view lists the frozen place, with when its fork was proven.
        frozen = (await b.client.get("/api/v1/membership")).json()["frozen"]
        assert [(f["origin"], f["reason"]) for f in frozen] == [
            (a.node.origin, f"fork at seq {one['header']['seq']}")
        ]
        assert frozen[0]["name"] == "a" and frozen[0]["since"]
        held = await all_entries(b, a.node.origin)
        fresh = NodeKey.generate()
        last = held[-1]["header"]
        recovered = build_entry(
            recovery, seq=last["seq"] + 1, prev="sha256:" + _hash(last), kind="key", oid="key",
            op="put", payload={"node_key": fresh.origin}, origin=a.node.origin,
        )  # fmt: skip
        assert (await push(b, [recovered.to_json()]))["accepted"]
        nodes_b = {o["id"]: o for o in (await b.client.get("/api/v1/nodes")).json()["origins"]}
        assert not nodes_b[a.node.origin]["frozen"]
        assert (await b.client.get("/api/v1/membership")).json()["frozen"] == []
        assert isinstance(recovered, Entry)


def test_a_rotated_node_backs_up_and_restores_as_its_place(tmp_path: Path) -> None:
    """Regression: the backup named the key's id as the node, and restore refused it."""
    from tests.conftest import run_papi

    data = tmp_path / "node"
    out = run_papi("init", "--data-dir", str(data), "--name", "EPN", "--no-recovery-key").stdout
    origin = re.findall(r"ed25519:[A-Za-z0-9_-]{43}", out)[0]
    run_papi("key", "rotate", "--data-dir", str(data))
    assert (data / "origin").read_text().strip() == origin
    run_papi("backup", str(tmp_path / "b.tar.gz"), "--data-dir", str(data))
    restored = tmp_path / "restored"
    done = run_papi("restore", str(tmp_path / "b.tar.gz"), "--yes", "--data-dir", str(restored))
    assert origin in done.stdout
    assert (restored / "origin").read_text().strip() == origin


async def test_a_rotated_node_restarted_still_takes_the_steps_addressed_to_its_place(
    tmp_path: Path,
) -> None:
    """Regression (merge of cooperation): the ingestor named the key's id as this node's
    origin, so after a rotation and a restart no loan request reached the lender's tasks."""
    from tests.coop_helpers import add_item, ask, deliver, link, loan, process

    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a = nodes["a"]
        origin = a.node.origin
        with a.node.db.activated():
            await rotate(a.node)
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        assert a.node.origin == origin != a.node.key.origin
        await link(a, "b")
        await link(b, "a")
        item = await add_item(a)
        await sync(b)
        asked = await ask(b, item)
        await deliver(b)
        assert await process(a) == 1
        assert (await loan(a, asked["id"]))["state"] == "requested"
