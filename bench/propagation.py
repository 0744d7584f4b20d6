"""Benchmark 4a, propagation: N real ``papi serve`` processes on 127.0.0.1 (50 with
``--full``), random peering of degree 3-4 made with ``papi peer add``; an entry created on
one node through the JSON API: seconds until every node holds it (p50, p95 over 20).

- The network starts converged: every node already holds every place (ingested into each
  data directory before start, as after a first round of anti-entropy). No node learns
  extra peers from those places, so gossip follows the 3-4 peers given by ``papi peer add``
  and nothing else (the bench never contacts a node's discovered peers).
- Arrival is detected by reading each node's SQLite database read-only from this process
  (``entries`` row of that origin and seq), every ~10 ms: polling 50 nodes over HTTP that
  often would load the 2 cores more than the gossip itself. A final HTTP check asks every
  node's ``/federation/v1/entries`` for the last entry.
- Anti-entropy keeps its default 60 s interval: what is measured is how new entries are
  pushed; pulls only repair.
- Two variants on the same graph, in the same run: version 1 (``federation_features``
  empty: push gossip, ``push_fanout`` 3, ``gossip_ttl`` 6, forward once) and protocol 1.1
  (the default: frames along the broadcast tree, docs/protocol.md 12). In 1.1, peers added
  with ``papi peer add`` are read for their features, and the next tick makes them
  neighbours; the bench waits until every node has one.
- Both variants then wait until the set-up has settled: every node holds every node's
  first entries (written at start, before the node had peers, they spread by rounds,
  pulls, grafts and the frames that follow) and no frame or push is pending or in flight.
  Push requests per entry count the version 1 pushes and broadcast frame requests (rows
  sent together count once) sent from then until after the last measured entry, divided
  by the entries; grafts are not counted (in the set-up: each chosen neighbour told once,
  docs/protocol.md 12.1; afterwards none is expected unless an entry is late). The set-up's
  requests are reported apart (``propagation_setup_requests``), and the note of the
  per-entry figure gives it with them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.common import (
    NodeProc,
    median,
    open_node,
    percentile,
    processes,
    record,
    section,
    size,
    workdir,
)


def random_graph(
    count: int, rng: random.Random, low: int = 3, high: int = 4
) -> set[tuple[int, int]]:
    """An undirected connected graph with every degree in [low, high]: a ring (connected,
    degree 2), then random chords."""
    edges = {(min(i, (i + 1) % count), max(i, (i + 1) % count)) for i in range(count)}
    degree = [2] * count
    for _ in range(100):
        short = [i for i in range(count) if degree[i] < low]
        if not short:
            break
        rng.shuffle(short)
        for i in short:
            if degree[i] >= low:
                continue
            candidates = [
                j
                for j in range(count)
                if j != i and degree[j] < high and (min(i, j), max(i, j)) not in edges
            ]
            if not candidates:
                continue
            j = rng.choice(candidates)
            edges.add((min(i, j), max(i, j)))
            degree[i] += 1
            degree[j] += 1
    return edges


async def preseed(nodes: list[NodeProc]) -> None:
    """Every node gets an API token and every other node's place entry."""
    from node.api.auth import create_token
    from node.services.entries import by_refs

    places = []
    for proc in nodes:
        async with open_node(proc.data_dir) as node:
            proc.token = await create_token("bench")
            places.extend(
                entry.document()
                for entry in await by_refs([(node.origin, 1)], node.db.connection())
            )
    for proc in nodes:
        async with open_node(proc.data_dir) as node:
            others = [p for p in places if p["header"]["origin"] != node.origin]
            report = await node.ingestor.ingest(others)
            if report.rejected:
                raise RuntimeError(report.rejected[0].to_json())


class Watcher:
    """Reads every node's database (read-only) to see when an entry arrives."""

    def __init__(self, nodes: list[NodeProc]) -> None:
        self.connections = [
            sqlite3.connect(
                f"file:{proc.data_dir / 'papi.sqlite3'}?mode=ro", uri=True, check_same_thread=False
            )
            for proc in nodes
        ]

    def holds(self, index: int, origin: str, seq: int) -> bool:
        with contextlib.suppress(sqlite3.OperationalError):  # busy: try again
            row = (
                self.connections[index]
                .execute("SELECT 1 FROM entries WHERE origin = ? AND seq = ?", (origin, seq))
                .fetchone()
            )
            return row is not None
        return False

    def wait_all(self, origin: str, seq: int, start: float, timeout: float) -> list[float]:
        """Seconds from ``start`` until each node held (origin, seq); inf if never."""
        arrived = [float("inf")] * len(self.connections)
        waiting = set(range(len(self.connections)))
        while waiting and time.perf_counter() - start < timeout:
            for index in list(waiting):
                if self.holds(index, origin, seq):
                    arrived[index] = time.perf_counter() - start
                    waiting.discard(index)
            time.sleep(0.01)
        return arrived

    def deliveries(self) -> int:
        """Push requests sent: version 1 deliveries done, and broadcast frame requests
        (frame rows sent together share their ``request``)."""
        total = 0
        for connection in self.connections:
            total += connection.execute(
                "SELECT count(*) FROM deliveries WHERE state = 'done'"
            ).fetchone()[0]
            total += connection.execute(
                "SELECT count(DISTINCT request) FROM frames WHERE state = 'done'"
            ).fetchone()[0]
        return int(total)

    def settled(self, origins: int) -> bool:
        """Whether the set-up is over: every node holds the same head of every one of the
        ``origins`` origins, and no frame or version 1 push is pending or in flight."""
        vectors = []
        for connection in self.connections:
            try:
                rows = connection.execute(
                    "SELECT origin, max(seq) FROM entries GROUP BY origin"
                ).fetchall()
                pending = connection.execute(
                    "SELECT (SELECT count(*) FROM frames WHERE state = 'pending')"
                    " + (SELECT count(*) FROM deliveries WHERE state = 'pending')"
                ).fetchone()[0]
            except sqlite3.OperationalError:  # busy: not known to be settled
                return False
            if pending:
                return False
            vectors.append(dict(rows))
        return len(vectors[0]) == origins and all(v == vectors[0] for v in vectors)

    def neighbours(self, index: int) -> int:
        with contextlib.suppress(sqlite3.OperationalError):
            row = (
                self.connections[index]
                .execute("SELECT count(*) FROM peer_links WHERE neighbour")
                .fetchone()
            )
            return int(row[0])
        return 0

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


#: Longest wait for the set-up to settle (a few sync intervals of 60 s).
SETTLE_TIMEOUT = 300.0


def wait_settled(watcher: Watcher, count: int) -> bool:
    """Wait until the set-up is over (``Watcher.settled``, twice 2 s apart: a frame may be
    on its way between two reads); False after ``SETTLE_TIMEOUT``."""
    deadline = time.perf_counter() + SETTLE_TIMEOUT
    while time.perf_counter() < deadline:
        if watcher.settled(count):
            time.sleep(2.0)
            if watcher.settled(count):
                return True
        time.sleep(1.0)
    return False


def _parallel(jobs: list[Any], workers: int = 4) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def run_variant(label: str, features: str) -> None:
    """One network of ``count`` nodes speaking ``features``; its figures get ``label``."""
    count, rounds = size(12, 50), size(10, 20)
    rng = random.Random(4)
    with workdir(f"propagation{label}") as base, processes() as started:
        t = time.perf_counter()
        nodes = [NodeProc(base / f"n{i:02d}", f"n{i:02d}") for i in range(count)]
        for node in nodes:
            node.env["PAPI_FEDERATION_FEATURES"] = features
        _parallel([node.init for node in nodes])
        asyncio.run(preseed(nodes))
        for node in nodes:
            node.spawn()
            started.append(node)
        for node in nodes:
            node.wait_ready(timeout=600)  # 50 starting at once on a shared 2-core machine
        edges = random_graph(count, rng)
        jobs = []
        for i, j in sorted(edges):
            jobs.append(lambda a=nodes[i], b=nodes[j]: a.papi("peer", "add", b.url))
            jobs.append(lambda a=nodes[j], b=nodes[i]: a.papi("peer", "add", b.url))
        _parallel(jobs)
        degrees = [sum(1 for e in edges if i in e) for i in range(count)]
        watcher = Watcher(nodes)
        if features:  # the next tick (60 s interval) makes the peers neighbours
            deadline = time.perf_counter() + 180
            while time.perf_counter() < deadline and not all(
                watcher.neighbours(i) for i in range(count)
            ):
                time.sleep(1)
        # The set-up is over when every node holds every node's first entries (written
        # at start, before the node had peers, they spread by rounds, pulls and the frames
        # that follow) and nothing is pending: the entries measured then spread alone.
        settle_start = time.perf_counter()
        settled = wait_settled(watcher, count)
        print(
            f"{'protocol 1.1' if features else 'version 1'}: {count} nodes, {len(edges)} links"
            f" (degree {min(degrees)}-{max(degrees)}), set up in {time.perf_counter() - t:.0f}s,"
            f" {'settled' if settled else 'NOT settled'} after"
            f" {time.perf_counter() - settle_start:.0f}s"
        )
        setup_requests = watcher.deliveries()  # the set-up's, before the measured entries
        times: list[float] = []
        missing = 0
        last: tuple[NodeProc, str, int] | None = None
        for index in range(rounds):
            creator = nodes[rng.randrange(count)]
            start = time.perf_counter()
            answer = httpx.post(
                creator.url + "/api/v1/skills",
                headers=creator.auth,
                timeout=30,
                json={"title": f"Atelier {index}", "description": "Propagation"},
            )
            answer.raise_for_status()
            created = answer.json()
            origin, seq = created["origin"], created["seq"]
            arrived = watcher.wait_all(origin, seq, start, timeout=30.0)
            missing += sum(1 for a in arrived if a == float("inf"))
            times.append(max(arrived))
            last = (creator, origin, seq)
            time.sleep(0.3)
        assert last is not None
        _, origin, seq = last
        confirmed = sum(
            1
            for node in nodes
            if httpx.get(
                node.url + "/federation/v1/entries",
                timeout=30,
                params={"origin": origin, "after": seq - 1, "limit": 1},
            ).json()["entries"]
        )
        time.sleep(1.0)
        pushes = watcher.deliveries()
        watcher.close()
        rss = [node.rss_mb() for node in nodes]
    finite = [x for x in times if x != float("inf")]
    what = "protocol 1.1 (broadcast tree)" if features else "version 1 (push gossip)"
    record(
        f"propagation{label}_p50_s",
        median(finite) if finite else float("inf"),
        "s",
        note=f"{what}, {count} nodes, {rounds} entries",
    )
    record(
        f"propagation{label}_p95_s",
        percentile(times, 95),
        "s",
        target=1.0 if features else None,
        note=f"{what}, max {max(times):.2f}s, {missing} node-arrivals missing after 30s",
    )
    record(
        f"propagation{label}_push_requests_per_entry",
        (pushes - setup_requests) / rounds,
        "requests",
        target=60 if features else None,
        note=f"{what}, pushes and frames the measured entries caused, per entry, {count}"
        f" nodes; {pushes / rounds:.1f} per entry with the set-up's",
    )
    record(
        f"propagation{label}_setup_requests",
        setup_requests,
        "requests",
        note=f"{what}: sent before the first measured entry, while the nodes' own first"
        " entries spread" + ("" if settled else f" (NOT settled in {SETTLE_TIMEOUT:.0f}s)"),
    )
    record(
        f"propagation{label}_http_confirmed",
        confirmed,
        "nodes",
        note=f"of {count} serve the last entry on /federation/v1/entries",
    )
    record(
        f"propagation{label}_node_rss_mb_mean",
        sum(rss) / len(rss),
        "MiB",
        note=f"max {max(rss):.1f} MiB, total {sum(rss):.0f} MiB for {count} nodes",
    )


def main() -> None:
    section("4a. propagation (real processes): version 1, then protocol 1.1")
    run_variant("_v1", "")
    run_variant("", "broadcast changes")


if __name__ == "__main__":
    main()
