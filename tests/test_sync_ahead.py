"""A sync round asks for the next page while it stores the current one
(``node.services.sync._PageAhead``), and uses that answer only when the round's own
request turns out to be the same: the pages, and what the node holds after the round,
are those of a round that asks one page at a time."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from federation.entry import Entry, build_entry
from federation.keys import NodeKey
from federation.timeutil import utc_now
from node.services.peers import add_peer
from node.services.sync import FROZEN_SEQ, sync_with
from tests.bulk import origin_log
from tests.conftest import InProcessNode
from tests.network import RoutingTransport, network, url_of


class Recorder(RoutingTransport):
    """Records each sync request (with the vector it sends) in ``events``."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/federation/v1/sync":
            body = json.loads(await request.aread())
            self.events.append(("ask", body.get("vector")))
        return await super().handle_async_request(request)


def record_ingests(node: InProcessNode, events: list[tuple[str, Any]]) -> None:
    ingestor = node.node.ingestor
    ingest = ingestor.ingest

    async def recorded(documents: list[Any], **options: Any) -> Any:
        events.append(("store", len(documents)))
        report = await ingest(documents, **options)
        events.append(("stored", len(report.accepted)))
        return report

    ingestor.ingest = recorded  # type: ignore[method-assign]


async def round_with(a: InProcessNode, b_name: str) -> Any:
    with a.node.db.activated():
        peer = await add_peer(url_of(b_name))
        return await sync_with(a.node, peer)


async def held(node: InProcessNode) -> dict[str, int]:
    answer = (await node.client.get("/api/v1/nodes")).json()
    return {origin["id"]: origin["seq"] for origin in answer["origins"]}


async def push(node: InProcessNode, entries: list[dict[str, Any]]) -> None:
    for start in range(0, len(entries), 100):
        r = await node.client.post("/federation/v1/push", json={"entries": entries[start:][:100]})
        assert r.status_code == 200 and not r.json()["rejected"], r.text


async def test_the_next_page_is_asked_for_while_the_current_one_is_stored(
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    async with network(tmp_path, ["a", "b"], transport=recorder, sync_page_bytes=8192) as (
        _,
        nodes,
    ):
        a, b = nodes["a"], nodes["b"]
        logs = [origin_log(index, 30) for index in range(4)]
        await push(b, [entry for log in logs for entry in log])
        record_ingests(a, recorder.events)
        result = await round_with(a, "b")
        assert result.error is None and result.pages > 3
        holds = await held(a)
        for log in logs:
            assert holds[log[0]["header"]["origin"]] == 30
        asks = [event for event in recorder.events if event[0] == "ask"]
        # The digest, then exactly one request per page: nothing asked in vain.
        assert len(asks) == 1 + result.pages
        # Each page but the last was asked for before the previous one was stored.
        kinds = [kind for kind, _ in recorder.events]
        stores = [i for i, kind in enumerate(kinds) if kind == "stored"]
        ask_indexes = [i for i, kind in enumerate(kinds) if kind == "ask"][1:]
        for page, stored_at in enumerate(stores[:-1]):
            assert ask_indexes[page + 1] < stored_at


async def test_a_page_not_stored_as_foreseen_is_asked_for_again(tmp_path: Path) -> None:
    recorder = Recorder()
    settings = {"a": {"max_future_seconds": 60}}
    async with network(
        tmp_path, ["a", "b"], per_node=settings, transport=recorder, sync_page_bytes=8192
    ) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        # The first origin of the pages has entries dated two hours ahead from seq 4 on:
        # b takes them (one day of tolerance), a refuses them (one minute).
        key = NodeKey.generate()
        while key.origin > min(b.node.origin, a.node.origin):
            key = NodeKey.generate()
        entries = origin_log(0, 3, key)
        ahead = utc_now() + timedelta(hours=2)
        last = Entry(entries[-1]["header"], entries[-1]["sig"], entries[-1]["payload"])
        for seq in range(4, 20):
            last = build_entry(
                key, seq=seq, prev=last.header_hash, kind="skill", oid=f"o{seq}", op="put",
                payload={"title": f"Atelier {seq}"}, ts=ahead,
            )  # fmt: skip
            entries.append(last.to_json())
        others = [origin_log(index, 30) for index in range(1, 4)]
        await push(b, entries + [entry for log in others for entry in log])
        record_ingests(a, recorder.events)
        result = await round_with(a, "b")
        assert result.error is None
        holds = await held(a)
        assert holds[key.origin] == 3  # refused from seq 4 on
        for log in others:
            assert holds[log[0]["header"]["origin"]] == 30
        asks = [vector for kind, vector in recorder.events if kind == "ask"]
        # The page ahead, asked for as if the refused entries were stored, was dropped:
        # the round asked again with what it holds (the refused origin claimed complete).
        assert len(asks) >= 2 + result.pages
        assert any((vector or {}).get(key.origin) == FROZEN_SEQ for vector in asks)


async def test_the_next_page_is_checked_while_the_current_one_is_stored(tmp_path: Path) -> None:
    from node.services import ingest

    if ingest.PARSE_THREADS < 2:  # one core: everything is checked inline, nothing ahead
        return
    recorder = Recorder()
    async with network(tmp_path, ["a", "b"], transport=recorder, sync_page_bytes=65536) as (
        _,
        nodes,
    ):
        a, b = nodes["a"], nodes["b"]
        logs = [origin_log(index, 80) for index in range(4)]
        await push(b, [entry for log in logs for entry in log])
        record_ingests(a, recorder.events)
        ingestor = a.node.ingestor
        parse_all = ingestor._parse_all

        async def recorded(documents: list[Any], **options: Any) -> Any:
            recorder.events.append(("check", len(documents)))
            return await parse_all(documents, **options)

        ingestor._parse_all = recorded  # type: ignore[method-assign]
        result = await round_with(a, "b")
        assert result.error is None and result.pages >= 3
        holds = await held(a)
        for log in logs:
            assert holds[log[0]["header"]["origin"]] == 80
        kinds = [kind for kind, _ in recorder.events]
        # Each page is checked once; from the second on (but a small last page), before
        # the previous one is stored.
        assert kinds.count("check") == kinds.count("store") == result.pages
        checks = [i for i, kind in enumerate(kinds) if kind == "check"]
        stored = [i for i, kind in enumerate(kinds) if kind == "stored"]
        sizes = [size for kind, size in recorder.events if kind == "store"]
        for page in range(1, result.pages):
            if sizes[page] >= ingest.PARSE_THREADS_MIN_BATCH:  # smaller: checked inline
                assert checks[page] < stored[page - 1]
        assert sum(size >= ingest.PARSE_THREADS_MIN_BATCH for size in sizes[1:]) >= 2
        assert not ingestor._ahead  # nothing left behind
