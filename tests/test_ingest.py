"""Ingest through ``POST /federation/v1/push``: every kind of bad entry is rejected with
its reason, nothing is stored, and the node keeps working."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from federation.canonical import canonical_bytes, sha256_tag
from federation.entry import Entry, build_entry
from federation.keys import NodeKey
from federation.timeutil import utc_now
from node.models import ForkEvidence, Origin
from tests.conftest import InProcessNode


class Author:
    """A remote origin writing its own log, for crafting good and bad entries."""

    def __init__(self) -> None:
        self.key = NodeKey.generate()
        self.entries: list[Entry] = []

    def write(
        self, kind: str = "skill", oid: str = "s1", op: str = "put", **payload: Any
    ) -> dict[str, Any]:
        prev = self.entries[-1].header_hash if self.entries else None
        if op == "put" and not payload:
            payload = {"nom": "Cybercommune de Crozon"} if kind == "place" else {"title": "Atelier"}
        entry = build_entry(
            self.key, seq=len(self.entries) + 1, prev=prev, kind=kind, oid=oid, op=op,
            payload=payload if op == "put" else None,
        )  # fmt: skip
        self.entries.append(entry)
        return entry.to_json()


def resign(key: NodeKey, document: dict[str, Any]) -> dict[str, Any]:
    document["sig"] = key.sign(canonical_bytes(document["header"]))
    return document


async def push(node: InProcessNode, entries: list[Any]) -> dict[str, Any]:
    r = await node.client.post("/federation/v1/push", json={"entries": entries})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def stored(node: InProcessNode, origin: str) -> list[dict[str, Any]]:
    r = await node.client.get("/federation/v1/entries", params={"origin": origin})
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


async def test_good_entries_are_accepted_and_idempotent(papi: InProcessNode) -> None:
    author = Author()
    batch = [author.write("place", "place"), author.write()]
    assert len((await push(papi, batch))["accepted"]) == 2
    again = await push(papi, batch)
    assert again["accepted"] == [] and len(again["duplicate"]) == 2
    assert await stored(papi, author.key.origin) == batch


def _tamper_payload(a: Author, doc: dict[str, Any]) -> dict[str, Any]:
    doc["payload"]["title"] = "Autre chose"
    return doc


def _forge_sig(a: Author, doc: dict[str, Any]) -> dict[str, Any]:
    return resign(NodeKey.generate(), doc)


def _schema(a: Author, doc: dict[str, Any]) -> dict[str, Any]:
    doc["header"]["kind"] = "projector"
    return resign(a.key, doc)


def _payload_schema(a: Author, doc: dict[str, Any]) -> dict[str, Any]:
    doc["payload"] = {"title": "x", "colour": "red"}
    doc["header"]["payload_hash"] = sha256_tag(canonical_bytes(doc["payload"]))
    doc["header"]["payload_len"] = len(canonical_bytes(doc["payload"]))
    return resign(a.key, doc)


def _oversized(a: Author, doc: dict[str, Any]) -> dict[str, Any]:
    doc["header"]["payload_len"] = 10**6
    return resign(a.key, doc)


def _future(a: Author, doc: dict[str, Any]) -> dict[str, Any]:
    doc["header"]["ts"] = (utc_now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return resign(a.key, doc)


def _malformed(a: Author, doc: dict[str, Any]) -> Any:
    return {"header": doc["header"], "signature": doc["sig"]}


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (_tamper_payload, "payload_mismatch"),
        (_forge_sig, "bad_signature"),
        (_schema, "schema"),
        (_payload_schema, "schema"),
        (_oversized, "too_large"),
        (_future, "future_timestamp"),
        (_malformed, "malformed"),
    ],
)
async def test_bad_entry_is_rejected_with_reason(
    papi: InProcessNode, spoil: Any, code: str
) -> None:
    author = Author()
    first = author.write("place", "place")
    await push(papi, [first])
    bad = spoil(author, copy.deepcopy(author.write()))
    answer = await push(papi, [bad])
    assert [r["code"] for r in answer["rejected"]] == [code]
    assert answer["rejected"][0]["reason"]
    assert await stored(papi, author.key.origin) == [first]
    # The node keeps working: the genuine entry is accepted afterwards.
    good = author.entries[-1].to_json()
    assert len((await push(papi, [good]))["accepted"]) == 1


async def test_bad_entry_in_a_batch_does_not_spoil_the_others(papi: InProcessNode) -> None:
    author = Author()
    good = author.write("place", "place")
    bad = _forge_sig(author, copy.deepcopy(author.write()))
    answer = await push(papi, [good, bad])
    assert len(answer["accepted"]) == 1 and answer["rejected"][0]["index"] == 1


async def test_gap_is_kept_aside_then_filled(papi: InProcessNode) -> None:
    author = Author()
    docs = [author.write("place", "place"), author.write(oid="a"), author.write(oid="b")]
    answer = await push(papi, [docs[0], docs[2]])
    assert [p["seq"] for p in answer["pending"]] == [3]
    assert answer["need"] == {author.key.origin: 1}
    assert len(await stored(papi, author.key.origin)) == 1
    answer = await push(papi, [docs[1]])
    assert [a["seq"] for a in answer["accepted"]] == [2, 3]
    assert await stored(papi, author.key.origin) == docs


async def test_fork_freezes_the_origin_and_keeps_evidence(papi: InProcessNode) -> None:
    author = Author()
    place = author.write("place", "place")
    honest = author.write(title="Version A")
    await push(papi, [place, honest])
    author.entries.pop()
    other = author.write(title="Version B")
    answer = await push(papi, [other])
    assert [r["code"] for r in answer["rejected"]] == ["fork"]
    later = author.write(oid="s2")
    assert [r["code"] for r in (await push(papi, [later]))["rejected"]] == ["origin_frozen"]
    assert await stored(papi, author.key.origin) == [place, honest]
    with papi.node.db.activated():
        origin = await Origin.get(id=author.key.origin)
        evidence = await ForkEvidence.filter(origin=author.key.origin)
    assert origin.frozen and len(evidence) == 1
    nodes = (await papi.client.get("/api/v1/nodes")).json()["origins"]
    assert any(o["id"] == author.key.origin and o["frozen"] for o in nodes)


async def test_replayed_old_entry_changes_nothing(papi: InProcessNode) -> None:
    author = Author()
    docs = [author.write("place", "place"), author.write(title="v1"), author.write(title="v2")]
    await push(papi, docs)
    answer = await push(papi, [docs[1]])
    assert answer["duplicate"] == [{"origin": author.key.origin, "seq": 2}]
    r = await papi.client.get("/api/v1/search", params={"q": "v2"})
    assert [x["title"] for x in r.json()["results"]] == ["v2"]


async def test_tombstone_purges_replica_payloads(papi: InProcessNode) -> None:
    author = Author()
    docs = [
        author.write("place", "place"),
        author.write(title="Tablettes"),
        author.write(op="delete"),
    ]
    await push(papi, docs)
    kept = await stored(papi, author.key.origin)
    assert kept[1]["payload"] is None and kept[2]["payload"] is None
    r = await papi.client.get("/api/v1/search", params={"q": "tablettes"})
    assert r.json()["results"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"entries": []}', 422),
        (b'{"entries": "x"}', 422),
        (b'{"entries": [{}], "extra": 1}', 422),
    ],
)
async def test_malformed_push_bodies(papi: InProcessNode, body: bytes, status: int) -> None:
    r = await papi.client.post(
        "/federation/v1/push", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert set(r.json()["error"]) >= {"code", "message"}


async def test_oversized_push_body_is_refused(papi: InProcessNode) -> None:
    body = b'{"entries": [' + b'"x",' * 100_000 + b'"x"]}'
    r = await papi.client.post("/federation/v1/push", content=body)
    assert r.status_code == 413


async def test_deleted_payload_bytes_leave_the_database_files(papi: InProcessNode) -> None:
    secret = "Tablette-confidentielle-4242"
    r = await papi.client.post("/api/v1/equipment", json={"title": secret}, headers=papi.auth)
    await papi.client.delete(f"/api/v1/equipment/{r.json()['id']}", headers=papi.auth)
    files = [p for p in papi.data_dir.iterdir() if p.name.startswith("papi.sqlite3")]
    assert files
    for path in files:
        content = path.read_bytes()
        assert secret.encode() not in content, path.name
        # Nor in the full-text index, which stores words lowercased.
        assert b"confidentielle" not in content, path.name


async def test_fork_inside_the_first_batch_of_an_origin_still_freezes_it(
    papi: InProcessNode,
) -> None:
    author = Author()
    place = author.write("place", "place")
    one = author.write(title="Version A")
    author.entries.pop()
    other = author.write(title="Version B")
    answer = await push(papi, [place, one, other])
    assert [r["code"] for r in answer["rejected"]] == ["fork"]
    later = author.write(oid="s2")
    assert [r["code"] for r in (await push(papi, [later]))["rejected"]] == ["origin_frozen"]
    with papi.node.db.activated():
        assert (await Origin.get(id=author.key.origin)).frozen
