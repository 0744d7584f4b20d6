"""The demo data (node/demo_data.py) on one in-process node: the first demo place is the
node's own (published through its log), the four others arrive as signed logs of other
origins, as they would from peers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from federation.entry import build_entry
from federation.keys import NodeKey
from node.demo_data import demo_places
from node.services.log import new_oid, publish
from tests.conftest import InProcessNode

COLLECTIONS = {"skills": "skill", "equipment": "equipment", "events": "event"}


@dataclass
class SignedLog:
    """Another origin's log, signed here."""

    key: NodeKey = field(default_factory=NodeKey.generate)
    seq: int = 0
    prev: str | None = None

    @property
    def origin(self) -> str:
        return self.key.origin

    def entry(self, kind: str, oid: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        self.seq += 1
        op = "put" if payload is not None else "delete"
        entry = build_entry(
            self.key, seq=self.seq, prev=self.prev, kind=kind, oid=oid, op=op, payload=payload
        )
        self.prev = entry.header_hash
        return entry.to_json()


@dataclass
class DemoNetwork:
    #: Origin of each demo place, by its name.
    origins: dict[str, str]
    #: Object ids by (place name, kind), in the order of the demo data.
    oids: dict[tuple[str, str], list[str]]


async def ingest(papi: InProcessNode, documents: list[dict[str, Any]]) -> None:
    with papi.node.db.activated():
        report = await papi.node.ingestor.ingest(documents)
    assert not report.rejected, [r.to_json() for r in report.rejected]


async def load_demo(papi: InProcessNode) -> DemoNetwork:
    places = demo_places()
    origins: dict[str, str] = {}
    oids: dict[tuple[str, str], list[str]] = {}
    own, others = places[0], places[1:]
    with papi.node.db.activated():
        await publish(papi.node, "place", "place", "put", own["place"])
        for collection, kind in COLLECTIONS.items():
            for item in own[collection]:
                oid = new_oid()
                await publish(papi.node, kind, oid, "put", item)
                oids.setdefault((own["name"], kind), []).append(oid)
    origins[own["name"]] = papi.node.origin
    for place in others:
        log = SignedLog()
        documents = [log.entry("place", "place", place["place"])]
        for collection, kind in COLLECTIONS.items():
            for item in place[collection]:
                oid = new_oid()
                documents.append(log.entry(kind, oid, item))
                oids.setdefault((place["name"], kind), []).append(oid)
        await ingest(papi, documents)
        origins[place["name"]] = log.origin
    return DemoNetwork(origins, oids)
