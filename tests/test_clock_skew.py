"""Clock skew: measured from peers' Date headers, writes refused while our clock is off,
and entries we refuse for their date not fetched (nor logged) again every round."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from federation.clockskew import SkewEstimator, clock_is_off
from federation.entry import build_entry
from federation.keys import NodeKey
from federation.timeutil import utc_now
from node.services.peers import add_peer
from node.services.rejections import RejectionMemory
from node.services.sync import sync_all
from tests.network import network, url_of
from tests.peer_fakes import MixedTransport

DAY = 86400.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_estimate_is_the_median_of_the_latest_sample_of_each_peer() -> None:
    estimator = SkewEstimator()
    estimator.record("http://a", 5.0)
    estimator.record("http://a", 2 * DAY)  # a's latest replaces its first
    estimator.record("http://b", 2 * DAY + 10)
    estimator.record("http://c", -3.0)
    estimate = estimator.estimate(DAY)
    assert estimate is not None
    assert estimate.seconds == 2 * DAY and estimate.peers == 3 and estimate.agreeing == 2
    assert clock_is_off(estimate, DAY, min_peers=2)


@pytest.mark.parametrize(
    ("offsets", "off"),
    [
        ([2 * DAY], True),  # one peer is enough to say we are ahead
        ([-2 * DAY], False),  # not to say we are behind
        ([2 * DAY, 2 * DAY], True),
        ([-2 * DAY, -3 * DAY, 10.0], True),  # our clock is behind most peers
        ([-2 * DAY, 0.0], False),  # one odd peer among two: no majority
        ([2 * DAY, 0.0], False),
        ([3 * DAY, 0.0, 5.0], False),
        ([DAY - 1, DAY - 1, DAY - 1], False),  # within the margin
        ([DAY + 60, DAY + 60, 0.0], True),
    ],
)
def test_when_the_clock_is_judged_off(offsets: list[float], off: bool) -> None:
    estimator = SkewEstimator()
    for index, offset in enumerate(offsets):
        estimator.record(f"http://peer{index}", offset)
    assert clock_is_off(estimator.estimate(DAY), DAY, min_peers=2) is off


def test_old_samples_are_forgotten() -> None:
    clock = FakeMonotonic()
    estimator = SkewEstimator(max_age=3600, monotonic=clock)
    estimator.record("http://a", 2 * DAY)
    estimator.record("http://b", 2 * DAY)
    clock.now += 3601
    assert estimator.estimate(DAY) is None


@pytest.mark.parametrize("offset_days", [2.0, -2.5, 30.0])
async def test_a_node_whose_clock_is_off_refuses_to_write(
    tmp_path: Path, offset_days: float
) -> None:
    transport = MixedTransport(add_date=True)  # peers answer with a Date, as uvicorn does
    async with network(tmp_path, ["a", "b", "c"], transport=transport) as (_, nodes):
        a = nodes["a"]
        a.node.clock = lambda: time.time() + offset_days * DAY
        with a.node.db.activated():
            await add_peer(url_of("b"))
            await add_peer(url_of("c"))
            await sync_all(a.node)
        estimate = a.node.clock_skew()
        assert estimate is not None and estimate.peers == 2
        assert abs(estimate.seconds - offset_days * DAY) < 60
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "clock_skew"
        message = r.json()["error"]["message"]
        assert "NTP" in message and ("ahead" if offset_days > 0 else "behind") in message
        health = (await a.client.get("/api/v1/nodes")).json()["health"]
        assert health["clock"]["ok"] is False and health["clock"]["problem"]
        # With the clock right again, writing works.
        a.node.clock = time.time
        with a.node.db.activated():
            await sync_all(a.node)
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 201


async def test_a_node_with_a_right_clock_writes(tmp_path: Path) -> None:
    transport = MixedTransport(add_date=True)
    async with network(tmp_path, ["a", "b", "c"], transport=transport) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
            await add_peer(url_of("c"))
            await sync_all(a.node)
        estimate = a.node.clock_skew()
        assert estimate is not None and abs(estimate.seconds) < 60
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 201


def _future_log(days: float) -> list[dict[str, object]]:
    key = NodeKey.generate()
    place = build_entry(
        key, seq=1, prev=None, kind="place", oid="place", op="put",
        payload={"nom": "Lieu pressé", "commune": "Brest"},
    )  # fmt: skip
    ahead = build_entry(
        key, seq=2, prev=place.header_hash, kind="skill", oid="s1", op="put",
        payload={"title": "Atelier du futur"}, ts=utc_now() + timedelta(days=days),
    )  # fmt: skip
    return [place.to_json(), ahead.to_json()]


async def test_entries_refused_for_their_date_are_not_fetched_every_round(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # b takes entries dated up to 10 days ahead; a, the default day.
    per_node = {"b": {"max_future_seconds": 10 * 86400}}
    async with network(tmp_path, ["a", "b"], per_node) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        log = _future_log(3)
        r = await b.client.post("/federation/v1/push", json={"entries": log})
        assert len(r.json()["accepted"]) == 2
        with a.node.db.activated():
            await add_peer(url_of("b"))
            caplog.set_level(logging.WARNING, logger="node")
            [first] = await sync_all(a.node)
            assert first.rejected == 1 and first.error is None
            [second] = await sync_all(a.node)
        refusals = [r for r in caplog.records if "future_timestamp" in r.getMessage()]
        assert len(refusals) == 1
        assert second.received == 0 and second.rejected == 0
        # The other origins keep flowing from b.
        await b.client.post("/api/v1/skills", json={"title": "Scanner"}, headers=b.auth)
        with a.node.db.activated():
            [third] = await sync_all(a.node)
        assert third.accepted == 1 and third.rejected == 0


def test_a_future_entry_is_asked_again_when_it_becomes_acceptable() -> None:
    memory = RejectionMemory()
    soon = {"header": {"ts": (utc_now() + timedelta(days=1, seconds=-1)).isoformat()}}
    later = {"header": {"ts": (utc_now() + timedelta(days=3)).isoformat()}}
    margin = timedelta(days=1)
    assert memory.remember("http://p", "o1", 2, "future_timestamp", soon, margin)
    assert memory.remember("http://p", "o2", 2, "future_timestamp", later, margin)
    assert not memory.remember("http://p", "o2", 2, "future_timestamp", later, margin)
    # o1 is dated less than the margin ahead now: acceptable, not skipped any more.
    assert set(memory.skipped_origins("http://p")) == {"o2"}
    assert memory.skipped_origins("http://other") == {}


async def test_between_two_nodes_the_one_ahead_stops_writing(tmp_path: Path) -> None:
    transport = MixedTransport(add_date=True)
    async with network(tmp_path, ["a", "b"], transport=transport) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        a.node.clock = transport.clocks["a.test"] = lambda: time.time() + 2 * DAY
        with a.node.db.activated():
            await add_peer(url_of("b"))
            await sync_all(a.node)
        with b.node.db.activated():
            await add_peer(url_of("a"))
            await sync_all(b.node)
        estimate = b.node.clock_skew()
        assert estimate is not None and estimate.seconds < -DAY  # b looks behind a
        r = await a.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "clock_skew"
        r = await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        assert r.status_code == 201


async def test_entries_a_peer_refused_are_not_pushed_back_every_round(tmp_path: Path) -> None:
    # a takes entries dated up to 10 days ahead; b, the default day.
    async with network(tmp_path, ["a", "b"], {"a": {"max_future_seconds": 10 * 86400}}) as (
        transport,
        nodes,
    ):
        a = nodes["a"]
        r = await a.client.post("/federation/v1/push", json={"entries": _future_log(3)})
        assert len(r.json()["accepted"]) == 2
        with a.node.db.activated():
            await add_peer(url_of("b"))
            [first] = await sync_all(a.node)
            assert first.pushed_back >= 2
            before = transport.requests
            [second] = await sync_all(a.node)
        assert second.pushed_back == 0 and second.synced
        # digest + one vector page: nothing pushed to b again.
        assert transport.requests - before == 2
