"""Benchmark 2, catch-up: a fresh node joins one peer holding 30,000 entries (300 origins x
100), real processes on 127.0.0.1.

1. The source's data directory is filled in-process through the node's own ingest path,
   then ``papi serve`` starts on it; a fresh node starts too (``papi serve``).
2. The clock starts; ``papi peer add --sync SOURCE`` runs against the fresh node's data
   directory (what the README tells an operator to do) while it serves; the clock stops
   when ``/api/v1/nodes`` of the fresh node shows every origin at its last seq: that is
   ``catchup_s``. The path of two commands, ``papi peer add SOURCE`` then ``papi sync``,
   is timed the same way in the same run on another fresh node: ``catchup_two_commands_s``.
   (bench/footprint.py measures the other way in: the node syncing by itself.)
   A full run makes 3 trials of each path, each on a new fresh node, each bracketed by
   one run of the reference ceiling's workload just before and just after
   (``bench.common.Bracketed``), the two paths in turn (which goes first alternates); each
   figure is the trial of median reference seconds, with every trial listed and the
   reference figure from the run's start-of-run ceiling kept next to it.
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


#: The operator's paths: the README's (one command) and the one of two commands.
ONE_COMMAND = "one command"
TWO_COMMANDS = "two commands"


def operator_path(
    base: Path,
    name: str,
    source: NodeProc,
    expected: dict[str, int],
    started: list[NodeProc],
    path: str,
) -> tuple[Bracketed, float, float]:
    """One trial of an operator's path on a fresh node, bracketed by the ceiling:
    (timing, seconds of ``papi peer add``, seconds until the round's command returned;
    one command: both are the seconds of ``papi peer add --sync``)."""
    fresh = NodeProc(base / name, name)
    fresh.init()
    fresh.spawn()
    started.append(fresh)
    fresh.wait_ready()
    # A node runs its first round 0.2-2 s after start: let it pass (it has no peer yet),
    # so that the trial starts from an idle node.
    time.sleep(2.5)
    before = bracketed_ceiling()
    start = time.perf_counter()
    if path == ONE_COMMAND:
        fresh.papi("peer", "add", "--sync", source.url)
        added = synced = time.perf_counter() - start
    else:
        fresh.papi("peer", "add", source.url)
        added = time.perf_counter() - start
        fresh.papi("sync")
        synced = time.perf_counter() - start
    wait_for(lambda: holds_all(fresh.url, expected), timeout=120, interval=0.5)
    total = time.perf_counter() - start
    after = bracketed_ceiling()
    fresh.stop()  # the next trial's machine is as idle as this one's was
    return Bracketed(total, before, after), added, synced


Trial = tuple[Bracketed, float, float]


def record_path(
    name: str, path: str, runs: list[Trial], entries: int, target: float | None
) -> None:
    """The trial of median reference seconds of one path: its raw time and ceiling go
    together; every trial listed."""
    timing, added, synced = sorted(runs, key=lambda run: run[0].reference)[len(runs) // 2]
    steps = (
        f"papi peer add --sync {synced:.1f}s"
        if path == ONE_COMMAND
        else f"peer add {added:.1f}s + papi sync {synced - added:.1f}s"
    )
    record(
        name,
        timing.seconds,
        "s",
        target=target,
        reference_ceiling=timing.ceiling,
        note=f"{entries} entries, {path}, median of {len(runs)} trial(s): {steps}",
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

        runs: dict[str, list[Trial]] = {ONE_COMMAND: [], TWO_COMMANDS: []}
        for trial in range(trials):
            order = [ONE_COMMAND, TWO_COMMANDS][:: 1 if trial % 2 == 0 else -1]
            for path in order:
                name = f"fresh{trial}{'a' if path == ONE_COMMAND else 'b'}"
                timing, added, synced = operator_path(base, name, source, expected, started, path)
                runs[path].append((timing, added, synced))
                steps = (
                    f"papi peer add --sync {synced:.2f} s"
                    if path == ONE_COMMAND
                    else f"peer add {added:.2f} s, papi sync {synced - added:.2f} s"
                )
                print(
                    f"  trial {trial + 1}/{trials}, {path}: {timing.seconds:.2f} s ({steps}),"
                    f" ceiling {timing.before:,.0f} before, {timing.after:,.0f}/s after:"
                    f" ref {timing.reference:.2f} s",
                    flush=True,
                )
        # catchup_s is the README's path: one command.
        record_path("catchup_s", ONE_COMMAND, runs[ONE_COMMAND], len(entries), 3.0)
        record_path("catchup_two_commands_s", TWO_COMMANDS, runs[TWO_COMMANDS], len(entries), None)
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
