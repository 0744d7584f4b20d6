"""``GET /metrics``: Prometheus's text format, read back with prometheus-client's own
parser; one registry per app (two nodes in one process count apart)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from node.migrations import LATEST
from node.services.deliveries import run_due_deliveries
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.conftest import InProcessNode, in_process_node
from tests.network import network, url_of

PDF = b"%PDF-1.4\n% metrics\n%%EOF\n"


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(node: InProcessNode, **headers: str) -> Samples:
    answer = await node.client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def entries_of(node: InProcessNode) -> list[dict[str, Any]]:
    answer = await node.client.get(
        "/federation/v1/entries", params={"origin": node.node.origin, "limit": 500}
    )
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


async def test_counters_and_state_of_a_node_that_syncs(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        for title in ("Courriels", "Traitement de texte"):
            created = await a.client.post("/api/v1/skills", json={"title": title}, headers=a.auth)
            assert created.status_code == 201
        upload = await a.client.post(
            "/api/v1/blobs", content=PDF, headers={**a.auth, "content-type": "application/pdf"}
        )
        assert upload.status_code == 201
        dead = "http://gone.test"
        with b.node.db.activated():
            await add_peer(url_of("a"))
            await add_peer(dead)
            results = await sync_all(b.node)
        assert sorted(r.synced for r in results) == [False, True]
        held = len(await entries_of(a))  # the place profile and the two skills

        seen = await scrape(b)
        assert value(seen, "papi_entries_ingested_total") == held
        assert value(seen, "papi_sync_rounds_total", outcome="ok") == 1
        assert value(seen, "papi_sync_rounds_total", outcome="failed") == 1
        assert value(seen, "papi_sync_round_duration_seconds_count") == 2
        assert value(seen, "papi_sync_bytes_total", direction="received") > 500
        assert value(seen, "papi_sync_bytes_total", direction="sent") > 0
        assert value(seen, "papi_sync_failures_total", peer=dead, kind="unreachable") == 1
        assert value(seen, "papi_peer_consecutive_failures", peer=dead) == 1
        assert value(seen, "papi_peer_consecutive_failures", peer=url_of("a")) == 0
        assert value(seen, "papi_peer_last_success_timestamp_seconds", peer=url_of("a")) > 0
        assert ("papi_peer_last_success_timestamp_seconds", (("peer", dead),)) not in seen
        assert value(seen, "papi_peers", state="ok") == 1
        assert value(seen, "papi_peers", state="failing") == 1
        assert value(seen, "papi_origins") == 2
        assert value(seen, "papi_origins_frozen") == 0
        assert value(seen, "papi_log_head_seq") == 1  # b's own place profile
        assert value(seen, "papi_schema_version") == LATEST
        assert value(seen, "papi_blobs_quota_bytes") == b.node.settings.blob_quota_bytes
        assert value(seen, "papi_disk_free_bytes") > 0
        skew = b.node.clock_skew()  # one peer's Date headers: an estimate, or not yet
        if skew is None:
            assert math.isnan(value(seen, "papi_clock_skew_seconds"))
        else:
            assert value(seen, "papi_clock_skew_seconds") == skew.seconds
        assert value(seen, "papi_node_info", version=_version()) == 1

        # a, in the same process, counts apart: it ran no round and ingested only what
        # b's round sent back (b's place profile).
        mine = await scrape(a)
        assert value(mine, "papi_blobs") == 1 and value(mine, "papi_blobs_bytes") == len(PDF)
        assert value(mine, "papi_entries_ingested_total") == 1
        assert value(mine, "papi_sync_round_duration_seconds_count") == 0
        with a.node.db.activated():
            await add_peer(url_of("b"))
        await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        queued = await scrape(a)
        assert value(queued, "papi_delivery_queue", state="pending") == 1
        with a.node.db.activated():
            assert await run_due_deliveries(a.node) == 1
        delivered = await scrape(a)
        assert value(delivered, "papi_delivery_queue", state="pending") == 0
        assert value(delivered, "papi_delivery_queue", state="done") == 1


def _version() -> str:
    from node.version import version

    return version()


async def test_rejected_entries_by_reason_and_pending_entries(tmp_path: Path) -> None:
    async with (
        in_process_node(tmp_path / "a") as a,
        in_process_node(tmp_path / "b") as b,
    ):
        for title in ("Un", "Deux"):
            await a.client.post("/api/v1/skills", json={"title": title}, headers=a.auth)
        first, _, last = await entries_of(a)
        forged = {
            **first,
            "sig": first["sig"][:-4] + ("AAAA" if first["sig"][-4:] != "AAAA" else "BBBB"),
        }
        pushed = await b.client.post(
            "/federation/v1/push", json={"entries": [forged, last], "ttl": 0}
        )
        assert pushed.status_code == 200, pushed.text
        [rejection] = pushed.json()["rejected"]
        seen = await scrape(b)
        assert value(seen, "papi_entries_rejected_total", reason=rejection["code"]) == 1
        # The last entry came ahead of a gap: kept aside, not ingested yet.
        assert value(seen, "papi_pending_entries") == 1
        assert value(seen, "papi_pending_entries_bytes") > 0
        assert value(seen, "papi_entries_ingested_total") == 0


async def test_the_metrics_token_when_set(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "a", metrics_token="s3cret-metrics-token") as a:
        for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic x"}):
            answer = await a.client.get("/metrics", headers=headers)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "unauthorized"
            assert "s3cret" not in answer.text
        assert "s3cret" not in repr(a.node.settings)
        seen = await scrape(a, authorization="Bearer s3cret-metrics-token")
        assert value(seen, "papi_log_head_seq") == 1
