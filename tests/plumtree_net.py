"""An in-memory network of nodes running the protocol 1.1 broadcast and changes
(``federation.broadcast``, ``federation.reconcile``, ``federation.territory``) over a
transport that loses, duplicates and reorders, for the property tests and for
``bench/simulate.py``.

What a node does on each message is what docs/protocol.md sections 11 and 12 say a node
does; only the store is a toy (entries are ``(origin, seq)`` without content, kept aside
beyond a gap like the real ones) and HTTP is a pair of envelopes (request, answer) with
a latency each. A request that is lost is seen failing by its sender, like an HTTP error;
a lost answer too (its request was processed). Time is simulated: events run in the
order of their due time.

A ``meter`` callback sees every envelope delivered (for byte counts); ``full_round`` is
the version 1 round (digest, buckets, vectors, push-back) reduced to its effect: both
sides end with the union of their logs.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from federation.broadcast import (
    Action,
    Broadcast,
    EntryId,
    GiveUp,
    Gossip,
    Graft,
    KnownHeads,
    Mode,
    Receipt,
    Serve,
    heads_of,
    new_neighbours,
)
from federation.reconcile import changes_since

EPOCH = "sim"


@dataclass
class Store:
    """One node's logs: contiguous heads, entries kept aside beyond a gap, and the arrival
    positions (with times) that the changes cursor walks."""

    heads: dict[str, int] = field(default_factory=dict)
    pending: dict[str, set[int]] = field(default_factory=dict)
    arrivals: list[tuple[int, str, int]] = field(default_factory=list)
    stored_at: list[float] = field(default_factory=list)

    def ingest(self, ids: Iterable[EntryId], now: float) -> Receipt:
        accepted: list[EntryId] = []
        duplicate: list[EntryId] = []
        pending: list[EntryId] = []
        for origin, seq in sorted(set(ids)):
            head = self.heads.get(origin, 0)
            if seq <= head or seq in self.pending.get(origin, ()):
                duplicate.append((origin, seq))
            elif seq == head + 1:
                self._store(origin, seq, now, accepted)
                waiting = self.pending.get(origin, set())
                while self.heads[origin] + 1 in waiting:
                    waiting.discard(self.heads[origin] + 1)
                    self._store(origin, self.heads[origin] + 1, now, accepted)
            else:
                self.pending.setdefault(origin, set()).add(seq)
                pending.append((origin, seq))
        still = [(o, s) for o, s in pending if s > self.heads.get(o, 0)]
        return Receipt(
            accepted=tuple(accepted),
            duplicate=tuple(duplicate),
            pending=tuple(still),
            heads={origin: self.heads.get(origin, 0) for origin, _ in still},
        )

    def _store(self, origin: str, seq: int, now: float, accepted: list[EntryId]) -> None:
        self.heads[origin] = seq
        self.arrivals.append((len(self.arrivals) + 1, origin, seq))
        self.stored_at.append(now)
        accepted.append((origin, seq))

    def after(self, heads: dict[str, int], wants: Callable[[str], bool] | None) -> list[EntryId]:
        """The entries that follow ``heads`` (what a graft asks for)."""
        return [
            (origin, seq)
            for origin, held in sorted(heads.items())
            if wants is None or wants(origin)
            for seq in range(held + 1, self.heads.get(origin, 0) + 1)
        ]

    def settled(self, now: float, settle: float) -> int:
        """Position of the last arrival stored at least ``settle`` ago."""
        position = len(self.stored_at)
        while position and self.stored_at[position - 1] > now - settle:
            position -= 1
        return position


@dataclass
class Envelope:
    kind: str  # "frame", "answer", "pull", "pulled"
    source: str
    target: str
    body: dict[str, Any]
    #: For answers: the request's body.
    request: dict[str, Any] | None = None
    #: How many times this frame was sent before (retries of a failed one).
    attempt: int = 0


@dataclass
class SimNode:
    name: str
    broadcast: Broadcast
    store: Store = field(default_factory=Store)
    #: Per neighbour: the position its cursor gave us (None: first contact).
    cursors: dict[str, int | None] = field(default_factory=dict)
    #: Origins this node follows (None: all).
    follows: Callable[[str], bool] | None = None
    full_rounds: int = 0
    #: Per neighbour: pulls that failed in a row.
    failures: dict[str, int] = field(default_factory=dict)


@dataclass
class Counters:
    frames: int = 0
    gossip_entries: int = 0
    duplicates: int = 0
    prunes: int = 0
    grafts: int = 0
    pulls: int = 0
    lost: int = 0
    full_rounds: int = 0
    give_ups: int = 0


class Net:
    """Nodes, links, and the event queue between them."""

    def __init__(
        self,
        graph: dict[str, list[str]],
        rng: random.Random,
        *,
        loss: float = 0.0,
        duplicate: float = 0.0,
        latency: tuple[float, float] = (0.02, 0.05),
        settle: float = 0.0,
        graft_retry: float = 30.0,
        follows: dict[str, Callable[[str], bool]] | None = None,
        meter: Callable[[Envelope], None] | None = None,
        retries: int = 0,
        retry_delay: float = 15.0,
    ) -> None:
        self.rng = rng
        self.retries = retries
        self.retry_delay = retry_delay
        self.loss = loss
        self.duplicate = duplicate
        self.latency = latency
        self.settle = settle
        self.meter = meter
        self.now = 0.0
        #: Nodes that are stopped: requests to them fail, answers to them are lost.
        self.down: set[str] = set()
        self.counters = Counters()
        self._queue: list[tuple[float, int, Envelope]] = []
        self._order = itertools.count()
        self.nodes: dict[str, SimNode] = {}
        follows = follows or {}
        for name in graph:
            state = Broadcast(graft_retry=graft_retry)
            self.nodes[name] = SimNode(name, state, follows=follows.get(name))
        for name, peers in graph.items():
            for peer in peers:
                self.link(name, peer)
        self.seqs: dict[str, int] = {}

    def link(self, one: str, other: str) -> None:
        node = self.nodes[one]
        if other not in node.broadcast.neighbours:
            node.broadcast.add_neighbour(other, Mode.EAGER, self.nodes[other].follows)
            node.cursors.setdefault(other, None)

    # -- the world's actions ------------------------------------------------------------

    def publish(self, author: str) -> EntryId:
        """``author`` writes a new entry of its own log and broadcasts it."""
        seq = self.seqs.get(author, 0) + 1
        self.seqs[author] = seq
        node = self.nodes[author]
        receipt = node.store.ingest([(author, seq)], self.now)
        self._act(node, node.broadcast.on_local(receipt.accepted, ours=True))
        return (author, seq)

    def start_cursors(self) -> None:
        """Every node has pulled every neighbour once, up to now (a network running for
        a while): no first-contact full rounds."""
        for node in self.nodes.values():
            for peer in node.cursors:
                node.cursors[peer] = len(self.nodes[peer].store.arrivals)

    def pull(self, asker: str, peer: str) -> None:
        cursor = self.nodes[asker].cursors.get(peer)
        body: dict[str, Any] = {"from": asker}
        if cursor is not None:
            body["cursor"] = f"{EPOCH}.{cursor}"
        self._send(Envelope("pull", asker, peer, body))

    def pull_round(self) -> None:
        for name in sorted(self.nodes):
            if name in self.down:
                continue
            for peer in sorted(self.nodes[name].cursors):
                self.pull(name, peer)

    def replace_failing(self, degree: int) -> None:
        """Each running node whose neighbours failed its last 2 pulls links to other
        nodes until ``degree`` neighbours work (``federation.broadcast.new_neighbours``)."""
        for name in sorted(self.nodes):
            node = self.nodes[name]
            if name in self.down:
                continue
            failing = [peer for peer, count in node.failures.items() if count >= 2]
            candidates = sorted(set(self.nodes) - {name})
            for peer in new_neighbours(
                node.broadcast.neighbours, failing, candidates, degree, self.rng
            ):
                self.link(name, peer)
                self.link(peer, name)
                self.nodes[peer].cursors[name] = len(node.store.arrivals)
                node.cursors[peer] = None  # first contact: a full round

    def restart(self, name: str) -> None:
        """A stopped node starts again with what it stored (logs, cursors, link modes,
        missing records); what it knew of its neighbours' holdings was in memory."""
        self.down.discard(name)
        self.nodes[name].broadcast.known = KnownHeads()

    def tick(self) -> None:
        for node in self.nodes.values():
            if node.name not in self.down and node.broadcast.missing:
                self._act(node, node.broadcast.tick(self.now, node.store.heads))

    def run(self, until: float | None = None, on_idle: Callable[[], None] | None = None) -> None:
        """Deliver events in time order (until ``until``, or until none is left)."""
        while self._queue:
            due, _, envelope = self._queue[0]
            if until is not None and due > until:
                break
            heapq.heappop(self._queue)
            self.now = max(self.now, due)
            self._deliver(envelope)
        if until is not None:
            self.now = max(self.now, until)

    def full_round(self, one: str, other: str) -> None:
        """The version 1 round between two nodes, by its effect: each ends with what the
        other had (within what it follows); new entries are broadcast on."""
        self.counters.full_rounds += 1
        for node, peer in (
            (self.nodes[one], self.nodes[other]),
            (self.nodes[other], self.nodes[one]),
        ):
            node.full_rounds += 1
            wants = node.follows
            ids = [
                (origin, seq)
                for origin, head in sorted(peer.store.heads.items())
                if wants is None or wants(origin)
                for seq in range(node.store.heads.get(origin, 0) + 1, head + 1)
            ]
            receipt = node.store.ingest(ids, self.now)
            node.broadcast.known.learn(peer.name, heads_of(ids))
            node.broadcast.on_stored(receipt.accepted, self.now)
            actions = node.broadcast.on_local(receipt.accepted, source=peer.name, now=self.now)
            self._act(node, actions)

    # -- transport ------------------------------------------------------------------------

    def _send(self, envelope: Envelope, delay: float = 0.0) -> None:
        low, high = self.latency
        copies = 2 if self.duplicate and self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            due = self.now + delay + self.rng.uniform(low, high)
            heapq.heappush(self._queue, (due, next(self._order), envelope))

    def _deliver(self, envelope: Envelope) -> None:
        if envelope.target in self.down:
            if envelope.kind in ("frame", "pull"):
                self._failed(envelope)  # connection refused: its sender sees it
            return
        if self.loss and self.rng.random() < self.loss:
            self.counters.lost += 1
            self._failed(envelope)
            return
        if self.meter:
            self.meter(envelope)
        handler = {
            "frame": self._on_frame,
            "answer": self._on_answer,
            "pull": self._on_pull,
            "pulled": self._on_pulled,
        }[envelope.kind]
        handler(envelope)

    def _failed(self, envelope: Envelope) -> None:
        """The sender of a lost request (or of a request whose answer was lost) sees an
        error: it sends the frame again after a while (``retries`` times, the delay
        doubling, as deliveries do), then routes around that peer; a pull is simply made
        again at the next interval."""
        if envelope.kind == "pull":
            failures = self.nodes[envelope.source].failures
            failures[envelope.target] = failures.get(envelope.target, 0) + 1
        if envelope.kind not in ("frame", "answer"):
            return
        if envelope.kind == "frame":
            sender, peer, body = envelope.source, envelope.target, envelope.body
        else:
            sender, peer, body = envelope.target, envelope.source, envelope.request or {}
        if envelope.attempt < self.retries:
            body = {**body, "again": True}
            again = Envelope("frame", sender, peer, body, attempt=envelope.attempt + 1)
            self._send(again, delay=self.retry_delay * 2**envelope.attempt)
        else:
            self.nodes[sender].broadcast.on_unreachable(peer)

    # -- what a node does -----------------------------------------------------------------

    def _act(self, node: SimNode, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Gossip):
                self._frame(node, action.peer, {"entries": list(action.ids)})
            elif isinstance(action, Graft):
                self.counters.grafts += 1
                self._frame(node, action.peer, {"graft": dict(action.after)})
            elif isinstance(action, Serve):
                peer = self.nodes[action.peer]
                ids = node.store.after(action.after, peer.follows)
                if ids:
                    self._frame(node, action.peer, {"entries": ids})
            elif isinstance(action, GiveUp):
                self.counters.give_ups += 1
                peers = sorted(node.broadcast.neighbours)
                if peers:
                    self.full_round(node.name, self.rng.choice(peers))

    def _frame(self, node: SimNode, peer: str, body: dict[str, Any]) -> None:
        self.counters.frames += 1
        self.counters.gossip_entries += len(body.get("entries", ()))
        self._send(Envelope("frame", node.name, peer, {"from": node.name, **body}))

    def _on_frame(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.target]
        sender = envelope.source
        self.link(node.name, sender)  # a frame makes its sender a neighbour
        body = envelope.body
        answer: dict[str, Any] = {}
        actions: list[Action] = []
        if body.get("prune"):
            node.broadcast.on_prune(sender)
        if "graft" in body:
            for action in node.broadcast.on_graft(sender, body["graft"]):
                if isinstance(action, Serve):
                    ids = node.store.after(action.after, self.nodes[sender].follows)
                    answer["entries"] = ids
        if body.get("entries"):
            receipt = node.store.ingest(body["entries"], self.now)
            self.counters.duplicates += len(receipt.duplicate)
            part, actions = node.broadcast.on_frame(
                sender, receipt, self.now, again=bool(body.get("again"))
            )
            if part.get("prune"):
                self.counters.prunes += 1
            answer.update(part)
        self._send(
            Envelope("answer", node.name, sender, answer, request=body, attempt=envelope.attempt)
        )
        self._act(node, actions)

    def _on_answer(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.target]
        peer = envelope.source
        request = envelope.request or {}
        answer = envelope.body
        actions = node.broadcast.on_answer(peer, request.get("entries", []), answer, self.now)
        if "entries" in answer:
            receipt = node.store.ingest(answer["entries"], self.now)
            actions += node.broadcast.on_served(peer, receipt, self.now)
        self._act(node, actions)

    def _on_pull(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.target]
        asker = envelope.source
        cursor = envelope.body.get("cursor")
        settled = node.store.settled(self.now, self.settle)
        answer: dict[str, Any]
        if cursor is None:
            answer = {"cursor": f"{EPOCH}.{settled}", "changes": {}, "reset": True}
        else:
            changes = changes_since(
                node.store.arrivals[int(cursor.rpartition(".")[2]) :],
                int(cursor.rpartition(".")[2]),
                settled,
            )
            heads = node.broadcast.announce_to(asker, changes.heads)
            answer = {"cursor": f"{EPOCH}.{changes.position}", "changes": heads}
            if changes.more:
                answer["more"] = True
        self.counters.pulls += 1
        self._send(Envelope("pulled", node.name, asker, answer, request=envelope.body))

    def _on_pulled(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.target]
        peer = envelope.source
        node.failures[peer] = 0
        answer = envelope.body
        position = int(answer["cursor"].rpartition(".")[2])
        request = envelope.request or {}
        if request.get("cursor") != (
            None if node.cursors.get(peer) is None else f"{EPOCH}.{node.cursors[peer]}"
        ):
            return  # an answer to an older pull (duplicated, reordered): ignored
        if answer.get("reset"):
            node.cursors[peer] = position
            self.full_round(node.name, peer)
            return
        node.cursors[peer] = position
        changes = {
            origin: seq
            for origin, seq in answer["changes"].items()
            if node.follows is None or node.follows(origin)
        }
        self._act(node, node.broadcast.on_ihave(peer, changes, node.store.heads, self.now))
        if answer.get("more"):
            self.pull(node.name, peer)

    # -- views ----------------------------------------------------------------------------

    def holders(self, entry: EntryId) -> int:
        origin, seq = entry
        return sum(1 for node in self.nodes.values() if node.store.heads.get(origin, 0) >= seq)

    def eager_links(self) -> set[frozenset[str]]:
        """Links eager on both sides."""
        return {
            frozenset((name, peer))
            for name, node in self.nodes.items()
            for peer, mode in node.broadcast.neighbours.items()
            if mode is Mode.EAGER and self.nodes[peer].broadcast.neighbours.get(name) is Mode.EAGER
        }


def random_graph(
    count: int, rng: random.Random, low: int = 3, high: int = 4
) -> dict[str, list[str]]:
    """A connected graph with degrees mostly in [low, high]: a ring, then random chords."""
    names = [f"n{i:05d}" for i in range(count)]
    peers: list[set[int]] = [{(i - 1) % count, (i + 1) % count} - {i} for i in range(count)]
    stubs = [i for i in range(count) for _ in range(rng.randint(low, high) - 2)]
    for _ in range(3):
        rng.shuffle(stubs)
        left = []
        for a, b in zip(stubs[::2], stubs[1::2], strict=False):
            if a != b and b not in peers[a] and len(peers[a]) < high and len(peers[b]) < high:
                peers[a].add(b)
                peers[b].add(a)
            else:
                left += [a, b]
        stubs = [i for i in left if len(peers[i]) < low]
    return {names[i]: [names[j] for j in sorted(p)] for i, p in enumerate(peers)}
