"""Issue 8 (protocol conformance and ingest): out-of-range dates, entries this node cannot
store, forks however they arrive, frozen origins, stripped payloads, the bounds on
entries kept aside and on new origins. Each arrives by push and by pull where it can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.models import ForkEvidence, MissingPayload, Origin, PendingEntry
from node.services import store
from node.services.sync import FROZEN_SEQ, answer_sync
from tests.conftest import InProcessNode, in_process_node
from tests.forger import Forger
from tests.hostile import held, public_pages_answer, pull, push, victim_and_hostile


def codes(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["rejected"]]


def dated_batch() -> tuple[list[Forger], list[Forger], list[dict[str, Any]]]:
    """Good origins and origins whose second entry is an event dated out of range."""
    good, bad = [Forger(), Forger()], [Forger(), Forger(), Forger()]
    for forger in good:
        forger.write("place", "place")
        forger.write(
            "event", "e1", {"title": "Atelier smartphone", "start": "2099-05-02T10:00:00+02:00"}
        )
    dates = (
        {"start": "9999-12-31T23:30:00Z"},
        {"start": "2026-05-02T10:00:00Z", "end": "9999-12-31T23:00:00-23:59"},
        {"start": "0001-01-01T00:00:00+23:59"},
    )
    for forger, when in zip(bad, dates, strict=True):
        forger.write("place", "place")
        forger.write("event", "e1", {"title": "Atelier de l'an 9999", **when})
    batch = [e for f in (good[0], bad[0], bad[1], good[1], bad[2]) for e in f.log]
    return good, bad, batch


async def assert_dated_outcome(node: InProcessNode, good: list[Forger], bad: list[Forger]) -> None:
    for forger in good:
        assert await held(node, forger.origin) == forger.log
    for forger in bad:
        assert await held(node, forger.origin) == forger.log[:1]
    await public_pages_answer(node)
    r = await node.client.get("/api/v1/search", params={"kind": "event"})
    assert {x["title"] for x in r.json()["results"]} == {"Atelier smartphone"}


async def test_out_of_range_dates_are_refused_by_push_the_rest_stored(papi: InProcessNode) -> None:
    good, bad, batch = dated_batch()
    answer = await push(papi, batch)
    assert codes(answer) == ["schema"] * 3
    assert len(answer["accepted"]) == 7
    await assert_dated_outcome(papi, good, bad)


async def test_out_of_range_dates_are_refused_by_pull_the_rest_stored(tmp_path: Path) -> None:
    good, bad, batch = dated_batch()
    async with victim_and_hostile(tmp_path) as (victim, hostile):
        hostile.sync_entries = batch
        result = await pull(victim)
        assert result.error is None and (result.accepted, result.rejected) == (7, 3)
        await assert_dated_outcome(victim, good, bad)


async def test_an_entry_that_cannot_be_stored_costs_only_itself(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever fails while storing one entry: that entry (and what follows it in its log)
    is rejected ``unstorable``, the rest of the batch is stored, no 500."""
    derive = store.object_columns

    def fragile(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("title") == "Piège":
            raise OverflowError("date value out of range")
        return derive(kind, payload)

    monkeypatch.setattr(store, "object_columns", fragile)
    a, b = Forger(), Forger()
    a.write("place", "place"), a.write(payload={"title": "Piège"}), a.write(oid="s2")
    b.write("place", "place"), b.write()
    answer = await push(papi, a.log + b.log)
    assert codes(answer) == ["unstorable", "unstorable"]
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert await held(papi, a.origin) == a.log[:1]
    assert await held(papi, b.origin) == b.log
    monkeypatch.setattr(store, "object_columns", derive)
    assert len((await push(papi, a.log[1:]))["accepted"]) == 2


# -- forks -------------------------------------------------------------------------------


def forked() -> tuple[Forger, dict[str, Any]]:
    """An origin with 2 entries, and a validly signed seq 3 of another history."""
    author = Forger()
    author.write("place", "place"), author.write()
    other = author.branch(2)
    other.write(payload={"title": "Une autre histoire"})
    divergent = other.write(oid="s2")  # seq 3, its prev is the other seq 2
    return author, divergent


async def assert_frozen_with_evidence(node: InProcessNode, author: Forger, seq: int) -> None:
    with node.node.db.activated():
        origin = await Origin.get(id=author.origin)
        evidence = await ForkEvidence.filter(origin=author.origin).first()
    assert origin.frozen and origin.head_seq == 2
    assert evidence is not None and evidence.seq == 2
    assert json.loads(evidence.header_a) == author.log[1]["header"]
    assert json.loads(evidence.header_b)["seq"] == seq
    nodes = (await node.client.get("/api/v1/nodes")).json()
    [shown] = [o for o in nodes["origins"] if o["id"] == author.origin]
    assert shown["frozen"] and shown["fork_evidence"]
    # Nothing more is accepted from it, not even its genuine next entry.
    author.write(oid="s3")
    assert codes(await push(node, [author.entry(3)])) == ["origin_frozen"]


async def test_fork_at_head_plus_one_by_push(papi: InProcessNode) -> None:
    author, divergent = forked()
    await push(papi, author.log)
    answer = await push(papi, [divergent])
    assert codes(answer) == ["fork"]
    await assert_frozen_with_evidence(papi, author, 3)


async def test_fork_at_head_plus_one_by_pull(tmp_path: Path) -> None:
    author, divergent = forked()
    async with victim_and_hostile(tmp_path) as (victim, hostile):
        await push(victim, author.log)
        hostile.sync_entries = [divergent]
        result = await pull(victim)
        assert result.rejected == 1
        await assert_frozen_with_evidence(victim, author, 3)


async def test_fork_by_entries_while_repairing_a_payload(tmp_path: Path) -> None:
    """``/federation/v1/entries`` of a peer (asked to repair a stripped payload) serves
    another seq 2: the fork is found there too."""
    from node.services.repair import repair_missing

    author = Forger()
    author.write("place", "place"), author.write()
    other = author.branch(2)
    other.write(payload={"title": "Une autre histoire"})
    async with victim_and_hostile(tmp_path) as (victim, hostile):
        await push(victim, [author.entry(1), author.stripped(2)])
        hostile.log = other.log
        with victim.node.db.activated():
            assert await repair_missing(victim.node) == 0
            origin = await Origin.get(id=author.origin)
            evidence = await ForkEvidence.get(origin=author.origin)
        assert origin.frozen and evidence.seq == 2


async def test_fork_found_when_draining_entries_kept_aside(papi: InProcessNode) -> None:
    author = Forger()
    author.write("place", "place"), author.write(), author.write()
    other = author.branch(3)
    other.write(payload={"title": "Autre"})
    other.write(oid="s4")  # seq 4 linked to the other seq 3
    assert len((await push(papi, [other.entry(4)]))["pending"]) == 1
    answer = await push(papi, author.log)  # seq 1-3: the pending seq 4 does not follow
    assert len(answer["accepted"]) == 3
    with papi.node.db.activated():
        assert (await Origin.get(id=author.origin)).frozen
        assert await ForkEvidence.filter(origin=author.origin, seq=3).exists()
        assert not await PendingEntry.filter(origin=author.origin).exists()


async def test_frozen_origin_in_sync_answers(papi: InProcessNode) -> None:
    """A frozen origin is claimed at FROZEN_SEQ, none of its log is sent, and an asker
    that holds it past the fork gets the evidence, which freezes it there too."""
    author, divergent = forked()
    await push(papi, author.log)
    await push(papi, [divergent])
    db = papi.node.db
    empty = await answer_sync(db, {"vector": {}}, 1 << 20)
    behind = await answer_sync(db, {"vector": {author.origin: 1}}, 1 << 20)
    holding = await answer_sync(db, {"vector": {author.origin: 2}}, 1 << 20)
    frozen_too = await answer_sync(db, {"vector": {author.origin: FROZEN_SEQ}}, 1 << 20)
    assert empty["vector"][author.origin] == FROZEN_SEQ
    for answer in (empty, behind, frozen_too):
        assert [e for e in answer["entries"] if e["header"]["origin"] == author.origin] == []
    evidence = [e for e in holding["entries"] if e["header"]["origin"] == author.origin]
    assert [e["header"]["seq"] for e in evidence] == [2, 3]
    async with in_process_node(papi.data_dir.parent / "other") as other:
        await push(other, author.log)
        answer = await push(other, evidence)
        assert codes(answer) == ["fork"]
        with other.node.db.activated():
            assert (await Origin.get(id=author.origin)).frozen


# -- stripped payloads -------------------------------------------------------------------


async def objects(node: InProcessNode, origin: str) -> dict[str, Any]:
    r = await node.client.get("/api/v1/search", params={"origin": origin})
    return {x["id"]: x["title"] for x in r.json()["results"] if x["kind"] != "place"}


async def missing(node: InProcessNode) -> list[tuple[str, int]]:
    with node.node.db.activated():
        return [(m.origin, m.seq) for m in await MissingPayload.all()]


async def test_stripped_put_then_its_payload_repairs_it(papi: InProcessNode) -> None:
    author = Forger()
    author.write("place", "place"), author.write(payload={"title": "Atelier tablette"})
    answer = await push(papi, [author.entry(1), author.stripped(2)])
    assert len(answer["accepted"]) == 2
    assert await missing(papi) == [(author.origin, 2)]
    nodes = (await papi.client.get("/api/v1/nodes")).json()
    assert nodes["pending"]["missing_payloads"] == 1
    answer = await push(papi, [author.entry(2)])  # the real one: not a mere duplicate
    assert [a["seq"] for a in answer["accepted"]] == [2] and answer["duplicate"] == []
    assert await held(papi, author.origin) == author.log
    assert await objects(papi, author.origin) == {"s1": "Atelier tablette"}
    assert await missing(papi) == []


async def test_payload_then_stripped_copy_changes_nothing(papi: InProcessNode) -> None:
    author = Forger()
    author.write("place", "place"), author.write(payload={"title": "Atelier tablette"})
    await push(papi, author.log)
    answer = await push(papi, [author.stripped(2)])
    assert [d["seq"] for d in answer["duplicate"]] == [2]
    assert await held(papi, author.origin) == author.log
    assert await objects(papi, author.origin) == {"s1": "Atelier tablette"}


async def test_stripped_update_does_not_erase_the_object(papi: InProcessNode) -> None:
    author = Forger()
    author.write("place", "place"), author.write(payload={"title": "Version 1"})
    author.write(payload={"title": "Version 2"})
    await push(papi, [author.entry(1), author.entry(2), author.stripped(3)])
    assert await objects(papi, author.origin) == {"s1": "Version 1"}
    await push(papi, [author.entry(3)])
    assert await objects(papi, author.origin) == {"s1": "Version 2"}


async def test_stripped_put_explained_by_a_later_tombstone(papi: InProcessNode) -> None:
    author = Forger()
    author.write("place", "place"), author.write(payload={"title": "Effacé"})
    author.write(op="delete")
    await push(papi, [author.entry(1), author.stripped(2)])
    await push(papi, [author.entry(3)])
    assert await missing(papi) == []
    # Erasure is real: the old payload arriving afterwards is not put back.
    answer = await push(papi, [author.entry(2)])
    assert [d["seq"] for d in answer["duplicate"]] == [2]
    assert (await held(papi, author.origin))[1]["payload"] is None
    assert await objects(papi, author.origin) == {}


async def test_repair_job_fetches_the_payload_from_a_peer(tmp_path: Path) -> None:
    from node.services.repair import repair_missing

    author = Forger()
    author.write("place", "place"), author.write(payload={"title": "Atelier tablette"})
    async with victim_and_hostile(tmp_path) as (victim, hostile):
        await push(victim, [author.entry(1), author.stripped(2)])
        hostile.log = author.log
        with victim.node.db.activated():
            assert await repair_missing(victim.node) == 1
        assert await objects(victim, author.origin) == {"s1": "Atelier tablette"}
        assert await missing(victim) == []


# -- entries kept aside, new origins ----------------------------------------------------


async def test_pending_entries_are_capped_globally_and_the_biggest_sender_loses(
    tmp_path: Path,
) -> None:
    async with in_process_node(tmp_path / "n", pending_max_entries=20) as node:
        ingest = node.node.ingestor.ingest
        honest = [Forger() for _ in range(2)]
        for forger in honest:
            for _ in range(4):
                forger.write()
        flood = [Forger() for _ in range(12)]
        for forger in flood:
            forger.write(), forger.write(), forger.write()
        with node.node.db.activated():
            report = await ingest([e for f in honest for e in f.log[1:]], sender="http://a.test")
            assert len(report.pending) == 6
            for forger in flood:
                await ingest(forger.log[1:], sender="client:192.0.2.66")
            assert await PendingEntry.all().count() <= 20
            assert await PendingEntry.filter(source="http://a.test").count() == 6
        nodes = (await node.client.get("/api/v1/nodes")).json()
        pending = nodes["pending"]
        assert pending["entries"] <= 20 and pending["max_entries"] == 20
        peers = {p["peer"]: p["entries"] for p in pending["by_peer"]}
        assert peers["http://a.test"] == 6 and peers["client:192.0.2.66"] <= 14
        assert pending["bytes"] == sum(p["bytes"] for p in pending["by_peer"])


async def test_pending_bytes_are_capped(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "n", pending_max_bytes=6000) as node:
        forger = Forger()
        forger.write()
        for _ in range(10):
            forger.write(payload={"title": "x", "description": "é" * 400})
        answer = await push(node, forger.log[1:])
        nodes = (await node.client.get("/api/v1/nodes")).json()
        assert 0 < nodes["pending"]["bytes"] <= 6000
        assert len(answer["pending"]) == 10  # each was kept, older ones made room


async def test_new_origins_per_sender_and_hour(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "n", new_origins_per_hour=2) as node:
        forgers = [Forger() for _ in range(4)]
        for forger in forgers:
            forger.write("place", "place")
        answer = await push(node, [f.entry(1) for f in forgers])
        assert len(answer["accepted"]) == 2 and codes(answer) == ["too_many_new_origins"] * 2
        # Origins already held cost nothing; the budget is spent for this client.
        forgers[0].write()
        assert len((await push(node, [forgers[0].entry(2)]))["accepted"]) == 1
        assert codes(await push(node, [forgers[2].entry(1)])) == ["too_many_new_origins"]
        with node.node.db.activated():
            # Another sender has its own budget; the node itself (None) has none.
            report = await node.node.ingestor.ingest([forgers[2].entry(1)], sender="http://b.test")
            assert len(report.accepted) == 1
            report = await node.node.ingestor.ingest([forgers[3].entry(1)])
            assert len(report.accepted) == 1


# -- what the docs say, exactly ----------------------------------------------------------


async def test_sync_request_errors_name_the_missing_member(papi: InProcessNode) -> None:
    r = await papi.client.post("/federation/v1/sync", json={"scope": [3], "max_bytes": 4096})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == "vector" and "digest" not in error["message"]
    r = await papi.client.post("/federation/v1/sync", json={"max_bytes": 4096})
    assert r.status_code == 422
    assert all(name in r.json()["error"]["message"] for name in ("digest", "vector", "buckets"))


@pytest.mark.parametrize("max_bytes", [1024, 1500, 3000, 7777])
async def test_sync_answer_entries_never_exceed_max_bytes(
    papi: InProcessNode, max_bytes: int
) -> None:
    """Serialised as the answer carries them, the entries take at most ``max_bytes``
    (multi-byte characters included), unless one entry alone is larger."""
    forgers = [Forger() for _ in range(3)]
    for n, forger in enumerate(forgers):
        forger.write("place", "place")
        for i in range(6):
            forger.write(oid=f"s{i}", payload={"title": "é" * (25 * (i + n) + 1)})
    await push(papi, [e for f in forgers for e in f.log])
    vector: dict[str, int] = {}
    seen = 0
    while True:
        r = await papi.client.post(
            "/federation/v1/sync", json={"vector": vector, "max_bytes": max_bytes}
        )
        answer = r.json()
        entries = answer["entries"]
        size = len(json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode())
        assert len(entries) >= 1
        assert size <= max_bytes or len(entries) == 1
        seen += len(entries)
        for entry in entries:
            vector[entry["header"]["origin"]] = entry["header"]["seq"]
        if not answer["more"]:
            break
    assert seen == 21 + 1  # three logs of 7 and the node's own place
