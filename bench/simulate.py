"""Benchmark 4b, simulation: bringing 300 to 20,000 nodes up to date with each new entry,
before (version 1: push gossip and digest/bucket anti-entropy, ``bench/sim_v1.py``) and
after (protocol 1.1: broadcast tree and changes cursor, ``bench/sim_v11.py``), against
the physical minimum (each node receives the entry once: N - 1 deliveries of it, a
delivery being a version 1 push of the entry alone with its answer and headers) and
against an ActivityPub fan-out of the same event as Mobilizon sends it
(``bench/activitypub/``). Also: the idle cost per node and hour as the network grows, and a
territory of 300 places inside 20,000 against a network of its own.

Sizes: ``size(small, full)``; ``--full`` runs more entries per network. Nothing here is a
wall-clock time: every figure is bytes or counts from real encodings.
"""

from __future__ import annotations

import random
import time

from bench.common import record, section, size
from bench.sim_sizes import activitypub_delivery, push_delivery, url_of
from bench.sim_v1 import simulate as simulate_v1
from bench.sim_v11 import Result, describe, run, territory_json
from tests.plumtree_net import random_graph

#: Entries a place writes a day (BRIEF section 7: ~100 objects, a few updates a day).
ENTRIES_PER_PLACE_PER_DAY = 5


def _v11(count: int, measured: int, seed: int = 7, loss: float = 0.0) -> Result:
    rng = random.Random(seed)
    return run(random_graph(count, rng), measured=measured, seed=seed, loss=loss)


def _minimum_ratio(result: Result, kind: str = "skill") -> float:
    return result.bytes_per_entry[kind] / result.minimum_per_entry[kind]


def _report_v11(result: Result, label: str, *, target: float | None = None) -> None:
    count = result.count
    delivery = result.minimum_per_entry["skill"] / (count - 1)
    record(
        f"bytes_vs_minimum_{label}",
        _minimum_ratio(result),
        "x minimum",
        target=target,
        note=f"protocol 1.1, {count} nodes: {result.bytes_per_entry['skill']:,.0f} B per entry"
        f" for {count - 1} x {delivery:,.0f} B; {describe(result)}",
    )
    record(
        f"bytes_vs_frame_minimum_{label}",
        result.bytes_per_entry["skill"] / result.frame_minimum_per_entry["skill"],
        "x minimum",
        note="the same bytes against N - 1 deliveries of protocol 1.1 (a frame of the entry and"
        f" its empty answer: {result.frame_minimum_per_entry['skill'] / (count - 1):,.0f} B)",
    )
    record(
        f"sim_{label}_max_upload_per_entry",
        result.max_upload_per_entry["skill"],
        "bytes",
        note=f"busiest node's upload for one entry ="
        f" {result.max_upload_per_entry['skill'] / delivery:.2f} deliveries of it",
    )
    record(
        f"sim_{label}_first_entry_vs_minimum",
        result.first_entry_bytes / result.minimum_per_entry["skill"],
        "x minimum",
        note="the first entry over new links: it floods them, and duplicates prune them to a tree",
    )
    record(
        f"idle_sync_bytes_per_node_hour_{label}",
        result.idle_per_node_hour,
        "bytes",
        note=f"changes pulls with nothing to announce ({result.pulls:,} pulls in"
        f" {result.window:,.0f} s), sent + received by one node",
    )


def _activitypub(results: dict[str, Result]) -> None:
    ap = activitypub_delivery()
    record(
        "activitypub_delivery_bytes",
        ap.total,
        "bytes",
        note=f"Create{{Event}} as Mobilizon sends it: body {ap.body:,} B (JSON-LD context and all),"
        f" request line and headers with HTTP signature {ap.request_headers} B, 202 answer"
        f" {ap.answer} B",
    )
    for label, result in results.items():
        count = result.count
        record(
            f"bytes_vs_activitypub_{label}",
            result.bytes_per_entry["event"] / ((count - 1) * ap.total),
            "papi/ActivityPub",
            note=f"the same event: papi 1.1 {result.bytes_per_entry['event']:,.0f} B to bring"
            f" {count} nodes up to date, ActivityPub fan-out {(count - 1) * ap.total:,.0f} B"
            f" (papi's minimum: {result.minimum_per_entry['event']:,.0f} B)",
        )


def _territory(measured: int) -> None:
    """A territory of 300 places (its nodes follow its origins only, linked among
    themselves and to the rest by 3 bridges) inside 20,000, against a network of 300."""
    rng = random.Random(11)
    outside = random_graph(19_700, rng)
    inside = {
        "t" + name[1:]: ["t" + peer[1:] for peer in peers]
        for name, peers in random_graph(300, rng).items()
    }
    graph = {**outside, **{name: list(peers) for name, peers in inside.items()}}
    for t, n in (("t00000", "n00000"), ("t00100", "n05000"), ("t00200", "n10000")):
        graph[t].append(n)
        graph[n].append(t)

    def member(origin: str) -> bool:
        return origin.startswith("t")

    def classify(author: str) -> str:
        return "territory" if member(author) else "outside"

    members = sorted(inside)
    authors = members * (len(outside) // len(members)) + sorted(outside)  # half and half
    big = run(
        graph,
        measured=measured,
        seed=11,
        kinds=("skill",),
        follows=dict.fromkeys(members, member),
        territories=dict.fromkeys(members, territory_json()),
        classify=classify,
        authors=authors,
    )
    alone = run(
        inside,
        measured=measured,
        seed=11,
        kinds=("skill",),
        follows=dict.fromkeys(members, member),
        territories=dict.fromkeys(members, territory_json()),
        classify=classify,
    )
    per_day = ENTRIES_PER_PLACE_PER_DAY / 24

    def hourly(result: Result, names: list[str]) -> tuple[float, float, float]:
        entries = {"territory": 0, "outside": 0}
        for author, _ in result.measured:
            entries[classify(author)] += 1
        idle = sum(result.meter.node_idle[n] for n in names) / len(names) / result.window * 3600
        caused = {
            cls: sum(result.meter.node_caused[(n, cls)] for n in names) / len(names) / max(1, k)
            for cls, k in entries.items()
        }
        territory_rate = 300 * per_day
        outside_rate = (result.count - 300) * per_day
        return (
            idle,
            territory_rate * caused["territory"],
            outside_rate * caused["outside"],
        )

    idle_big, own_big, outside_big = hourly(big, members)
    idle_alone, own_alone, _ = hourly(alone, members)
    total_big = idle_big + own_big + outside_big
    total_alone = idle_alone + own_alone
    record(
        "territory_300_in_20000_bytes_per_node_hour",
        total_big,
        "bytes",
        note=f"idle {idle_big:,.0f} + its entries {own_big:,.0f} + the other 19,700 places'"
        f" {outside_big:,.0f} (at {ENTRIES_PER_PLACE_PER_DAY} entries per place and day)",
    )
    record(
        "territory_300_alone_bytes_per_node_hour",
        total_alone,
        "bytes",
        note=f"the same 300 nodes as a network of their own: idle {idle_alone:,.0f} + entries"
        f" {own_alone:,.0f}",
    )
    record(
        "territory_cost_ratio",
        total_big / total_alone,
        "in 20,000 / alone",
        target=1.1,
        note="what following a territory of 300 inside 20,000 costs each of its nodes, against"
        " a 300-node network",
    )


def main() -> None:
    section("4b. propagation (simulation): version 1 before, protocol 1.1 after")
    started = time.perf_counter()
    # Before: the version 1 model, same graphs' degree, same entry.
    before = {
        300: simulate_v1(300, size(3, 10), ttl=6),
        20_000: simulate_v1(20_000, size(1, 3), ttl=6),
    }
    for count, figures in before.items():
        label = str(count)
        record(
            f"bytes_vs_minimum_{label}_v1",
            figures["bytes"] / figures["fanout_bytes"],
            "x minimum",
            note=f"version 1: push hops {figures['push_hops']:.0f} reaching"
            f" {figures['coverage']:.1%}, then {figures['ae_rounds']:.0f} anti-entropy rounds;"
            f" {figures['messages']:,.0f} requests",
        )
        record(
            f"sim_{label}_max_upload_per_entry_v1",
            figures["max_upload"],
            "bytes",
            note="busiest node's upload for one entry, version 1",
        )
        record(
            f"idle_sync_bytes_per_node_hour_{label}_v1",
            2 * figures["idle_bytes_per_round"] / count * 60,
            "bytes",
            note="version 1: digest exchanges with every peer each interval, nothing changed;"
            " sent + received by one node",
        )
    # After: protocol 1.1.
    after = {
        "300": _v11(300, size(10, 40)),
        "20000": _v11(20_000, size(3, 12)),
    }
    _report_v11(after["300"], "300", target=1.3)
    _report_v11(after["20000"], "20000", target=1.5)
    upload = after["20000"].max_upload_per_entry["skill"]
    delivery = after["20000"].minimum_per_entry["skill"] / (20_000 - 1)
    record(
        "sim_20000_max_upload_vs_delivery",
        upload / delivery,
        "deliveries",
        target=10,
        note=f"busiest node's upload per new entry, 20,000 nodes: {upload:,.0f} B"
        f" (version 1: {before[20_000]['max_upload']:,.0f} B)",
    )
    # Lost messages: the tree breaks where they are lost and heals by grafts.
    lossy = _v11(300, size(10, 40), loss=0.05)
    record(
        "bytes_vs_minimum_300_lossy",
        _minimum_ratio(lossy),
        "x minimum",
        note=f"5 % of messages lost (a failed frame is sent again 3 times, 15 s then doubling,"
        " then its link is lazy until a graft):"
        f" {describe(lossy)}; every node got every entry: {lossy.holders_min == 300}",
    )
    # The idle cost as the network grows.
    middle = _v11(2_000, size(3, 6))
    record(
        "idle_sync_bytes_per_node_hour_2000",
        middle.idle_per_node_hour,
        "bytes",
        note="changes pulls with nothing to announce, 2,000 nodes; sent + received by one node",
    )
    # Fifty nodes: the figures the real-process benchmark will measure.
    fifty = _v11(50, size(20, 40))
    record(
        "sim_50_frames_per_entry",
        fifty.frames_per_entry,
        "requests",
        target=60,
        note=f"broadcast frames (eager pushes, grafts) per entry, 50 nodes; version 1: 123 pushes;"
        f" eager tree {fifty.eager_coverage:.1%} of nodes",
    )
    record(
        "sim_50_tree_hops_p95",
        fifty.depth_p95,
        "hops",
        note="hops from the author to the farthest node along the tree (p95 over entries)",
    )
    _activitypub(after)
    record(
        "papi_event_delivery_bytes",
        push_delivery(
            after["300"].meter.entries.document("event", *after["300"].measured[0]), url_of(0)
        ),
        "bytes",
        note="one delivery of the same event as a papi entry (version 1 push, with headers)",
    )
    _territory(size(6, 16))
    print(f"    (simulations took {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
