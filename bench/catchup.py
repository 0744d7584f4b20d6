"""Benchmark 2, catch-up: a fresh node joins one peer holding 30,000 entries (300 origins x
100), real processes on 127.0.0.1.

1. The source's data directory is filled in-process through the node's own ingest path,
   then ``papi serve`` starts on it; a fresh node starts too (``papi serve``).
2. The clock starts; ``papi peer add SOURCE`` then ``papi sync`` run against the fresh
   node's data directory (what the README tells an operator to do) while it serves; the
   clock stops when ``/api/v1/nodes`` of the fresh node shows every origin at its last
   seq. (bench/footprint.py measures the other way in: the node syncing by itself.)
   A full run makes 3 trials, each on a new fresh node, each bracketed by one run of the
   reference ceiling's workload just before and just after (``bench.common.Bracketed``):
   ``catchup_s`` is the trial of median reference seconds, with every trial listed and
   the reference figure from the run's start-of-run ceiling kept next to it.
3. Bytes: a second fresh node, in this process, runs the same sync round
   (``node.services.sync.sync_with``) over real HTTP against the source with a
   ``PeerClient`` whose counters give the request and answer bytes (bodies; HTTP headers
   are a few hundred bytes per request on top). Compared with the bytes of the entries
   themselves (compact JSON).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Bracketed,
    NodeProc,
    bracketed_ceiling,
    entry_bytes,
    open_node,
    preload,
    processes,
    record,
    section,
    signed_logs,
    size,
    sync_order,
    wait_for,
    workdir,
)

#: Trials of the operator's path in a full run; the median (in reference seconds) is kept.
TRIALS = 3


def prepare_source(
    base: Path, origins: int, per_origin: int
) -> tuple[NodeProc, list[dict[str, Any]]]:
    """An initialised (not started) source whose database holds the entries."""
    source = NodeProc(base / "source", "source")
    source.init()
    entries = sync_order(signed_logs(origins, per_origin))

    async def fill() -> None:
        async with open_node(source.data_dir) as node:
            await preload(node, entries)

    asyncio.run(fill())
    return source, entries


def holds_all(url: str, expected: dict[str, int]) -> bool:
    """``/api/v1/nodes`` shows every expected origin at (at least) its expected seq.

    Every page of it: the directory is paged (100 origins by default, 500 at most), and
    reading its first page only, as this did before, never saw 300 origins."""
    seqs: dict[str, int] = {}
    offset: int | None = 0
    try:
        while offset is not None:
            answer = httpx.get(
                url + "/api/v1/nodes", params={"limit": 500, "offset": offset}, timeout=30
            ).json()
            seqs.update((origin["id"], origin["seq"]) for origin in answer["origins"])
            offset = answer.get("next")
    except httpx.HTTPError:
        return False
    return all(seqs.get(origin, 0) >= seq for origin, seq in expected.items())


async def measured_sync(data_dir: Path, source_url: str) -> dict[str, float]:
    """One sync round from a fresh in-process node; time and PeerClient byte counters."""
    from federation.client import PeerClient
    from node.services.peers import add_peer
    from node.services.sync import sync_with

    async with open_node(data_dir, allow_private_peers=True) as node:
        peer = await add_peer(source_url)
        client = PeerClient(timeout=node.settings.peer_timeout_seconds)
        node.peer_client = lambda *args, **kwargs: client  # keep a handle on the counters
        start = time.perf_counter()
        result = await sync_with(node, peer)
        elapsed = time.perf_counter() - start
        if result.error:
            raise RuntimeError(f"sync failed: {result.error}")
        return {
            "seconds": elapsed,
            "accepted": result.accepted,
            "pages": result.pages,
            "requests": client.requests,
            "sent": client.bytes_sent,
            "received": client.bytes_received,
        }


def operator_path(
    base: Path, name: str, source: NodeProc, expected: dict[str, int], started: list[NodeProc]
) -> tuple[Bracketed, float, float]:
    """One trial of the operator's path on a fresh node, bracketed by the ceiling:
    (timing, seconds of ``papi peer add``, seconds until ``papi sync`` returned)."""
    fresh = NodeProc(base / name, name)
    fresh.init()
    fresh.spawn()
    started.append(fresh)
    fresh.wait_ready()
    # A node runs its first round 0.2-2 s after start: let it pass (it has no peer yet),
    # or it would sync at the same time as `papi sync` and one of them could meet
    # "database is locked" (see docs/performance.md).
    time.sleep(2.5)
    before = bracketed_ceiling()
    start = time.perf_counter()
    fresh.papi("peer", "add", source.url)
    added = time.perf_counter() - start
    fresh.papi("sync")
    synced = time.perf_counter() - start
    wait_for(lambda: holds_all(fresh.url, expected), timeout=120, interval=0.5)
    total = time.perf_counter() - start
    after = bracketed_ceiling()
    fresh.stop()  # the next trial's machine is as idle as this one's was
    return Bracketed(total, before, after), added, synced


def main() -> None:
    section("2. catch-up")
    origins, per_origin = size(100, 300), size(50, 100)
    trials = size(1, TRIALS)
    with workdir("catchup") as base, processes() as started:
        t = time.perf_counter()
        source, entries = prepare_source(base, origins, per_origin)
        print(
            f"source holds {len(entries)} entries of {origins} origins"
            f" (prepared in {time.perf_counter() - t:.1f}s)"
        )
        source.spawn()
        started.append(source)
        source.wait_ready()
        expected: dict[str, int] = {}
        for entry in entries:
            expected[entry["header"]["origin"]] = entry["header"]["seq"]

        runs = []
        for trial in range(trials):
            timing, added, synced = operator_path(base, f"fresh{trial}", source, expected, started)
            runs.append((timing, added, synced))
            print(
                f"  trial {trial + 1}/{trials}: {timing.seconds:.2f} s (peer add {added:.2f} s,"
                f" papi sync {synced - added:.2f} s), ceiling {timing.before:,.0f} before,"
                f" {timing.after:,.0f}/s after: ref {timing.reference:.2f} s",
                flush=True,
            )
        # The trial of median reference seconds: its raw time and ceiling go together.
        timing, added, synced = sorted(runs, key=lambda run: run[0].reference)[len(runs) // 2]
        record(
            "catchup_s",
            timing.seconds,
            "s",
            target=3.0,
            reference_ceiling=timing.ceiling,
            note=f"{len(entries)} entries, median of {trials} trial(s): peer add {added:.1f}s"
            f" + papi sync {synced - added:.1f}s (each CLI start ~0.4s)",
            extra={
                "trials": [
                    {
                        "s": round(run.seconds, 3),
                        "ceiling_before": round(run.before, 1),
                        "ceiling_after": round(run.after, 1),
                        "reference": round(run.reference, 3),
                        "peer_add_s": round(run_added, 3),
                        "papi_sync_s": round(run_synced - run_added, 3),
                    }
                    for run, run_added, run_synced in runs
                ]
            },
        )
        before = bracketed_ceiling()
        figures = asyncio.run(measured_sync(base / "inproc", source.url))
        round_timing = Bracketed(figures["seconds"], before, bracketed_ceiling())

    payload = sum(entry_bytes(entry) for entry in entries)
    transferred = figures["sent"] + figures["received"]
    record(
        "catchup_sync_round_s",
        figures["seconds"],
        "s",
        reference_ceiling=round_timing.ceiling,
        note=f"in-process sync_with over HTTP, {figures['pages']:.0f} pages,"
        f" {figures['requests']:.0f} requests",
    )
    record("catchup_entries_per_s", figures["accepted"] / figures["seconds"], "entries/s")
    record(
        "catchup_bytes",
        transferred,
        "bytes",
        note=f"sent {figures['sent']:,.0f} + received {figures['received']:,.0f}",
    )
    record("catchup_entry_bytes", payload, "bytes", note="the entries as compact JSON")
    record("catchup_overhead_ratio", transferred / payload, "transferred/entries")


if __name__ == "__main__":
    main()
