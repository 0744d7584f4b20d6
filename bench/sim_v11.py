"""The protocol 1.1 model of bench/simulate.py (the "after"): entries spreading through N
nodes by the broadcast tree (docs/protocol.md section 11) and the changes cursor (section
12), with the real protocol code (``federation.broadcast``, ``federation.reconcile``,
``federation.territory`` through ``tests.plumtree_net``), simulated time and latencies,
and every message sized from its real encoding (``bench.sim_sizes``).

The network runs as it would: every node pulls the changes of each neighbour every
``INTERVAL`` seconds (each node at its own phase), announcements list entries stored
``SETTLE`` seconds ago or more, grafts are retried on a ``TICK``. It starts converged
(every node holds every log and has a cursor on each neighbour, as after a while), with
new links: the first entry floods them and prunes them into a tree (reported on its own),
a few more settle it, then the measured entries are written, ``gap`` seconds apart, by
random nodes. Bytes are counted from the first measured entry until every announcement of
the last one was pulled: frames (eager pushes, grafts, their answers) and what the
announcements add to the pulls are caused by the entries; the pulls as they would be with
nothing to announce are the idle cost, reported per node and hour.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.sim_sizes import (
    ANSWER_HEADERS,
    REQUEST_HEADERS,
    Entries,
    body_bytes,
    client_bytes,
    push_delivery,
    server_bytes,
    url_of,
)
from tests.plumtree_net import Envelope, Net

EntryId = tuple[str, int]
#: A cursor's epoch as the reference writes it (12 characters).
EPOCH = "k3v9QdA7c2Xw"
INTERVAL = 60.0
SETTLE = 10.0
TICK = 5.0
LATENCY = (0.02, 0.08)


def _ids_of(body: dict[str, Any]) -> list[EntryId]:
    """The entries a frame (or its answer) is about."""
    ids = [tuple(i) for i in body.get("entries", ())]
    ids += [(author, held + 1) for author, held in body.get("graft", {}).items()]
    return [(str(a), int(s)) for a, s in ids]


@dataclass
class Meter:
    """Counts the bytes of every message delivered while ``active``."""

    entries: Entries
    names: dict[str, str]
    kinds: tuple[str, ...] = ("skill", "event")
    #: The JSON a node's pulls carry when it follows a territory.
    territories: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Which class an entry's author belongs to (territory experiment).
    classify: Callable[[str], str] = lambda author: "all"
    active: bool = False
    caused: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    idle: float = 0.0
    frames: int = 0
    pulls: int = 0
    #: kind -> entry -> node -> bytes uploaded for it.
    upload: dict[str, dict[EntryId, dict[str, float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    )
    #: (node, class) -> entry-caused bytes sent and received (first kind); node -> idle.
    node_caused: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    node_idle: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def __call__(self, envelope: Envelope) -> None:
        if not self.active:
            return
        if envelope.kind in ("frame", "answer"):
            self._frame(envelope)
        elif envelope.kind == "pull":
            self._pull(envelope)
        else:
            self._pulled(envelope)

    def _charge(
        self, kind: str, ids: list[EntryId], sender: str, receiver: str, size: float
    ) -> None:
        self.caused[kind] += size
        share = size / max(1, len(ids))
        for entry in ids:
            self.upload[kind][entry][sender] += share
            if kind == self.kinds[0]:
                cls = self.classify(entry[0])
                self.node_caused[(sender, cls)] += share
                self.node_caused[(receiver, cls)] += share

    def _frame(self, envelope: Envelope) -> None:
        answer = envelope.kind == "answer"
        if not answer:
            self.frames += 1
        ids = _ids_of(envelope.request if answer and envelope.request else envelope.body)
        headers = ANSWER_HEADERS if answer else REQUEST_HEADERS
        for kind in self.kinds:
            size = headers + body_bytes(envelope.body, self.entries, kind, self.names, answer)
            self._charge(kind, ids, envelope.source, envelope.target, size)

    def _cursor(self, text: str) -> str:
        return f"{EPOCH}.{text.rpartition('.')[2]}"

    def _pull(self, envelope: Envelope) -> None:
        self.pulls += 1
        body: dict[str, Any] = {"from": self.names[envelope.source]}
        if "cursor" in envelope.body:
            body["cursor"] = self._cursor(envelope.body["cursor"])
        if envelope.source in self.territories:
            body["territory"] = self.territories[envelope.source]
        self._idle(envelope, REQUEST_HEADERS + client_bytes(body))

    def _idle(self, envelope: Envelope, size: float) -> None:
        self.idle += size
        self.node_idle[envelope.source] += size
        self.node_idle[envelope.target] += size

    def _pulled(self, envelope: Envelope) -> None:
        body = dict(envelope.body)
        body["cursor"] = self._cursor(body["cursor"])
        heads = body.pop("changes")
        empty = ANSWER_HEADERS + server_bytes({**body, "changes": {}})
        self._idle(envelope, empty)
        if not heads:
            return
        for kind in self.kinds:
            full = ANSWER_HEADERS + body_bytes(
                {**body, "changes": heads}, self.entries, kind, self.names, True
            )
            self._charge(kind, list(heads.items()), envelope.source, envelope.target, full - empty)


class Driver:
    """Simulated time: each node pulls every neighbour once per ``INTERVAL`` at its own
    phase, and due grafts are sent every ``TICK``."""

    def __init__(self, net: Net, rng: random.Random) -> None:
        self.net = net
        self.pulls = [(rng.uniform(0, INTERVAL), name) for name in sorted(net.nodes)]
        heapq.heapify(self.pulls)
        self.next_tick = TICK

    def advance(self, until: float) -> None:
        while True:
            next_pull = self.pulls[0][0] if self.pulls else float("inf")
            at = min(next_pull, self.next_tick)
            if at > until:
                break
            self.net.run(until=at)
            if at == next_pull:
                _, name = heapq.heappop(self.pulls)
                for peer in sorted(self.net.nodes[name].cursors):
                    self.net.pull(name, peer)
                heapq.heappush(self.pulls, (at + INTERVAL, name))
            else:
                self.net.tick()
                self.next_tick += TICK
        self.net.run(until=until)


@dataclass
class Result:
    count: int
    measured: list[EntryId]
    bytes_per_entry: dict[str, float]
    minimum_per_entry: dict[str, float]
    #: The same minimum with the leaner delivery of protocol 1.1: one frame of the entry
    #: and its empty answer.
    frame_minimum_per_entry: dict[str, float]
    max_upload_per_entry: dict[str, float]
    first_entry_bytes: float
    frames_per_entry: float
    pulls: int
    #: Bytes of the idle pulls a node sends and receives in an hour.
    idle_per_node_hour: float
    eager_coverage: float
    depth_p95: float
    holders_min: int
    grafts: int
    prunes: int
    full_rounds: int
    meter: Meter
    window: float


def eccentricity(net: Net, root: str) -> int:
    """Hops from ``root`` to the farthest node along links eager on both sides."""
    adjacency: dict[str, list[str]] = defaultdict(list)
    for link in net.eager_links():
        one, other = sorted(link)
        adjacency[one].append(other)
        adjacency[other].append(one)
    depth, frontier, seen = 0, [root], {root}
    while frontier:
        following = [p for here in frontier for p in adjacency[here] if p not in seen]
        seen.update(following)
        if following:
            depth += 1
        frontier = following
    return depth


def run(
    graph: dict[str, list[str]],
    *,
    measured: int,
    warmup: int = 3,
    gap: float = 20.0,
    seed: int = 7,
    kinds: tuple[str, ...] = ("skill", "event"),
    follows: dict[str, Callable[[str], bool]] | None = None,
    territories: dict[str, dict[str, Any]] | None = None,
    classify: Callable[[str], str] | None = None,
    authors: list[str] | None = None,
    loss: float = 0.0,
    retries: int = 3,
) -> Result:
    """One network: first entry, warm-up, then ``measured`` entries ``gap`` s apart by
    random ``authors`` (all nodes by default)."""
    rng = random.Random(seed)
    entries = Entries()
    names = {name: url_of(i) for i, name in enumerate(sorted(graph))}
    meter = Meter(entries, names, kinds, territories or {})
    if classify is not None:
        meter.classify = classify
    net = Net(
        graph,
        rng,
        latency=LATENCY,
        settle=SETTLE,
        meter=meter,
        follows=follows,
        loss=loss,
        retries=retries,
    )
    net.start_cursors()
    driver = Driver(net, rng)
    candidates = sorted(authors or graph)

    def publish() -> EntryId:
        author = rng.choice(candidates)
        entry = net.publish(author)
        for kind in kinds:
            entries.sizes(kind, *entry)
        return entry

    # The first entry over new links: a flood, pruned into a tree.
    start = 1.0
    driver.advance(start)
    meter.active = True
    publish()
    driver.advance(start + SETTLE + INTERVAL + 5)
    meter.active = False
    first = meter.caused[kinds[0]]
    meter.caused.clear()
    meter.upload.clear()
    # A few more settle the tree; then quiet until every announcement was pulled.
    now = net.now
    for index in range(warmup):
        driver.advance(now + gap * (index + 1))
        publish()
    driver.advance(net.now + SETTLE + 2 * INTERVAL)
    grafts, prunes = net.counters.grafts, net.counters.prunes
    frames0, pulls0, idle0 = meter.frames, meter.pulls, meter.idle
    meter.node_caused.clear()
    meter.node_idle.clear()
    # The measured entries.
    begin = net.now
    meter.active = True
    ids: list[EntryId] = []
    coverage = 0.0
    depths: list[int] = []
    for _ in range(measured):
        at = net.now + gap * rng.uniform(0.8, 1.2)
        driver.advance(at)
        author = rng.choice(candidates)
        depths.append(eccentricity(net, author))
        entry = net.publish(author)
        for kind in kinds:
            entries.sizes(kind, *entry)
        ids.append(entry)
        driver.advance(at + SETTLE - 0.5)  # no announcement of it yet: the tree alone
        reach = [
            n
            for n in net.nodes.values()
            if follows is None or n.follows is None or n.follows(author)
        ]
        coverage += sum(1 for n in reach if n.store.heads.get(author, 0) >= entry[1]) / len(reach)
    driver.advance(net.now + SETTLE + INTERVAL + 5)
    meter.active = False
    window = net.now - begin
    count = len(graph)
    minimum = {
        kind: (count - 1)
        * sum(push_delivery(entries.document(kind, *e), url_of(0)) for e in ids)
        / len(ids)
        for kind in kinds
    }
    frame = {
        kind: (count - 1)
        * sum(
            REQUEST_HEADERS
            + body_bytes({"from": url_of(0), "entries": [e]}, entries, kind, names, False)
            + ANSWER_HEADERS
            + server_bytes({})
            for e in ids
        )
        / len(ids)
        for kind in kinds
    }
    uploads = {
        kind: sum(max(meter.upload[kind][e].values(), default=0.0) for e in ids) / len(ids)
        for kind in kinds
    }
    depths.sort()
    return Result(
        count=count,
        measured=ids,
        bytes_per_entry={kind: meter.caused[kind] / len(ids) for kind in kinds},
        minimum_per_entry=minimum,
        frame_minimum_per_entry=frame,
        max_upload_per_entry=uploads,
        first_entry_bytes=first,
        frames_per_entry=(meter.frames - frames0) / len(ids),
        pulls=meter.pulls - pulls0,
        idle_per_node_hour=2 * (meter.idle - idle0) / count / (window / 3600),
        eager_coverage=coverage / len(ids),
        depth_p95=float(depths[max(0, -(-len(depths) * 95 // 100) - 1)]),
        holders_min=min(net.holders(e) for e in ids) if follows is None else -1,
        grafts=net.counters.grafts - grafts,
        prunes=net.counters.prunes - prunes,
        full_rounds=net.counters.full_rounds,
        meter=meter,
        window=window,
    )


def territory_json() -> dict[str, Any]:
    """What the pulls of the territory's nodes carry: 30 km around Brest."""
    return {"near": {"latitude": 48.3904, "longitude": -4.4861, "km": 30}}


def describe(result: Result) -> str:
    return json.dumps(
        {
            "frames/entry": round(result.frames_per_entry, 1),
            "coverage": round(result.eager_coverage, 4),
            "grafts": result.grafts,
            "prunes": result.prunes,
            "full rounds": result.full_rounds,
        }
    )
