"""The version 1 model of bench/simulate.py (the "before"): one new entry spreading through
N nodes by push gossip (fanout 3, ttl, forward once) and anti-entropy rounds, with the real
protocol code and an in-memory transport, compared with an ActivityPub-style fan-out where
the origin delivers to every other node itself.

What is real: the entry (``federation.entry.build_entry`` with a real Ed25519 key), every
message body (built as the node builds it and sized as ``PeerClient`` and Starlette encode
it), the version-vector digests (``federation.vector.vector_digest`` on full vectors of
real-format origin ids) and buckets (``bucket_of``), ``parse_entry`` (signature included)
on a sample of the receipts, and the rules of node/services: push to ``push_fanout``
random peers other than the sender and the author, ``ttl`` decremented, forwarded once
(only when newly accepted), an entry beyond a gap kept aside with ``need`` answered and
the gap filled by the sender; anti-entropy as ``sync.py`` runs it (digest; above 256
origins the 256 bucket digests, then the vectors of the differing buckets only; then
push-back) with every peer each round. For comparison, the 20,000-node case is also run
with full vectors in every round that is not idle (the protocol before the bucket step).

What is simulated: node state is one integer per (node, origin with new entries): the
contiguous seq held. Every node starts holding the whole network (N origins at seq 100).
The peering graph is random with degree 3-4 (``tests.plumtree_net.random_graph``, the
graph of the protocol 1.1 model too), each link usable both ways. HTTP headers are counted
as ``bench.sim_sizes.HTTP_HEADERS`` per request + answer.

Per entry: push rounds (hops) and messages, coverage after push, anti-entropy rounds until
every node holds it, and bytes: push + gap fills + the anti-entropy exchanges that are not
idle (idle exchanges happen every interval anyway; their cost is reported on its own).
"""

from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bench.sim_sizes import HTTP_HEADERS
from bench.sim_sizes import client_bytes as _client_bytes
from bench.sim_sizes import server_bytes as _server_bytes

SEQ = 100  # every origin's head before the new entries


def random_graph(count: int, rng: random.Random) -> list[list[int]]:
    """Adjacency lists of ``tests.plumtree_net.random_graph`` (degree 3-4)."""
    from tests.plumtree_net import random_graph as named_graph

    graph = named_graph(count, rng)
    index = {name: i for i, name in enumerate(sorted(graph))}
    return [sorted(index[peer] for peer in graph[name]) for name in sorted(graph)]


@dataclass
class Tally:
    messages: int = 0
    bytes: int = 0
    upload: dict[int, int] = field(default_factory=dict)

    def add(self, sender: int, request: int, answer: int, receiver: int) -> None:
        self.messages += 1
        self.bytes += request + answer + HTTP_HEADERS
        self.upload[sender] = self.upload.get(sender, 0) + request
        self.upload[receiver] = self.upload.get(receiver, 0) + answer

    @property
    def max_upload(self) -> int:
        return max(self.upload.values(), default=0)


class Network:
    def __init__(
        self, count: int, rng: random.Random, *, fanout: int, ttl: int, buckets: bool = True
    ) -> None:
        from federation.keys import NodeKey

        self.count = count
        self.buckets = buckets
        self.rng = rng
        self.fanout = fanout
        self.ttl = ttl
        self.peers = random_graph(count, rng)
        self.urls = [f"https://papi-{i:05d}.example.fr" for i in range(count)]
        # Real-format origin ids; the authors of new entries get real keys.
        self.origins = ["ed25519:" + secrets.token_urlsafe(32)[:43] for _ in range(count)]
        self.keys: dict[int, NodeKey] = {}
        self.logs: dict[int, list[dict[str, Any]]] = {}  # author -> new entries (seq > SEQ)
        self.held: dict[int, list[int]] = {}  # author -> seq held by each node
        self.digests: dict[tuple[int, ...], str] = {}
        self.verified = 0
        self.verify_seconds = 0.0
        self.verify_budget = 0

    # -- real protocol pieces --------------------------------------------------------

    def new_entry(self, author: int) -> dict[str, Any]:
        from federation.entry import build_entry
        from federation.keys import NodeKey

        key = self.keys.setdefault(author, NodeKey.generate())
        self.origins[author] = key.origin
        log = self.logs.setdefault(author, [])
        seq = SEQ + len(log) + 1
        entry = build_entry(
            key,
            seq=seq,
            prev="sha256:" + "0" * 64 if not log else _hash(log[-1]),
            kind="skill",
            oid=f"s{seq}",
            op="put",
            payload={
                "title": "Atelier smartphone",
                "description": "Apprendre à utiliser son smartphone: appels, photos, messages. "
                * 3,
            },
        )
        log.append(entry.to_json())
        self.held.setdefault(author, [SEQ] * self.count)[author] = seq
        return log[-1]

    def verify(self, document: dict[str, Any]) -> None:
        """``parse_entry`` on the document as it arrives, for a sample of receipts."""
        if self.verified >= self.verify_budget:
            return
        from federation.entry import parse_entry

        start = time.perf_counter()
        parse_entry(json.loads(json.dumps(document)))
        self.verify_seconds += time.perf_counter() - start
        self.verified += 1

    def state(self, node: int) -> tuple[int, ...]:
        return tuple(self.held[a][node] for a in sorted(self.held))

    def digest(self, node: int) -> str:
        """The real digest of the node's full version vector (cached per distinct state)."""
        from federation.vector import vector_digest

        state = self.state(node)
        if state not in self.digests:
            vector = dict.fromkeys(self.origins, SEQ)
            for author, seq in zip(sorted(self.held), state, strict=True):
                vector[self.origins[author]] = seq
            self.digests[state] = vector_digest(vector)
        return self.digests[state]

    def vector_bytes(self, bucket: int | None = None) -> int:
        """JSON size of the version vector (every origin, seq ~100), or of one bucket's
        part of it."""
        if not hasattr(self, "_bucket_bytes"):
            from federation.vector import bucket_of

            self._bucket_bytes = [0] * 256
            for origin in self.origins:
                self._bucket_bytes[bucket_of(origin)] += len(origin) + 3 + 3 + 1
        if bucket is None:
            return sum(self._bucket_bytes) + 1
        return self._bucket_bytes[bucket]

    def vectors(self, authors: list[int]) -> tuple[int, int, list[int] | None]:
        """Version-vector bytes (request, answer) of a round that is not idle, and its
        ``scope``. Above ``BUCKET_THRESHOLD`` origins (node/services/sync.py) the round
        first compares the 256 bucket digests, then sends only the vectors of the buckets
        that differ; otherwise (or with ``buckets=False``, the protocol before the bucket
        step) both full vectors travel."""
        from federation.vector import bucket_of
        from node.services.sync import BUCKET_THRESHOLD

        if not self.buckets or self.count <= BUCKET_THRESHOLD:
            full = self.vector_bytes()
            return full, full, None
        scope = sorted({bucket_of(self.origins[a]) for a in authors})
        part = sum(self.vector_bytes(b) for b in scope)
        return part, part, scope

    # -- push gossip (node/api/federation_routes.py push, services/deliveries.py) ------

    def push(self, author: int, seq: int, tally: Tally) -> tuple[int, int]:
        """The wave of one new entry; (hops, nodes holding it after the wave)."""
        document = self.logs[author][seq - SEQ - 1]
        frontier = [(author, None, self.ttl)]
        hops = 0
        while frontier:
            hops += 1
            following = []
            for sender, came_from, ttl in frontier:
                candidates = [p for p in self.peers[sender] if p != came_from and p != author]
                for target in self.rng.sample(candidates, min(self.fanout, len(candidates))):
                    accepted = self.receive(sender, target, author, document, ttl, tally)
                    if accepted and ttl > 0:  # forwarded once, when new to the receiver
                        following.append((target, sender, ttl - 1))
            frontier = following
        holders = sum(1 for s in self.held[author] if s >= seq)
        return hops - 1, holders

    def receive(
        self,
        sender: int,
        target: int,
        author: int,
        document: dict[str, Any],
        ttl: int,
        tally: Tally,
    ) -> bool:
        """POST /federation/v1/push of one entry; True when newly accepted (forward it)."""
        seq = document["header"]["seq"]
        body = {"entries": [document], "ttl": ttl, "from": self.urls[sender]}
        held = self.held[author][target]
        ids = [{"origin": self.origins[author], "seq": seq}]
        if held >= seq:
            answer: dict[str, Any] = {
                "accepted": [],
                "duplicate": ids,
                "pending": [],
                "rejected": [],
            }
            tally.add(sender, _client_bytes(body), _server_bytes(answer), target)
            return False
        self.verify(document)
        if held == seq - 1:
            self.held[author][target] = seq
            answer = {"accepted": ids, "duplicate": [], "pending": [], "rejected": []}
            tally.add(sender, _client_bytes(body), _server_bytes(answer), target)
            return True
        # Beyond a gap: kept aside, "need" answered, the sender fills the gap at once.
        answer = {
            "accepted": [],
            "duplicate": [],
            "pending": ids,
            "rejected": [],
            "need": {self.origins[author]: held},
        }
        tally.add(sender, _client_bytes(body), _server_bytes(answer), target)
        missing = self.logs[author][held - SEQ : seq - SEQ - 1]
        fill = {"entries": missing, "ttl": ttl, "from": self.urls[sender]}
        self.held[author][target] = seq
        accepted = [{"origin": self.origins[author], "seq": s} for s in range(held + 1, seq + 1)]
        tally.add(
            sender,
            _client_bytes(fill),
            _server_bytes({"accepted": accepted, "duplicate": [], "pending": [], "rejected": []}),
            target,
        )
        return True

    # -- anti-entropy (node/services/sync.py) ------------------------------------------

    def exchange(self, asker: int, peer: int, tally: Tally, idle: Tally) -> None:
        mine, theirs = self.digest(asker), self.digest(peer)
        first = {"digest": mine}
        answer = {"digest": theirs, "in_sync": mine == theirs}
        if mine == theirs:
            idle.add(asker, _client_bytes(first), _server_bytes(answer), peer)
            return
        tally.add(asker, _client_bytes(first), _server_bytes(answer), peer)
        differing = [a for a, held in self.held.items() if held[asker] != held[peer]]
        sent, received, scope = self.vectors(differing)
        if scope is not None:
            buckets = {"buckets": ["0123456789abcdef"] * 256}
            differ = {"digest": theirs, "in_sync": False, "differ": scope}
            tally.add(asker, _client_bytes(buckets), _server_bytes(differ), peer)
        request: dict[str, Any] = {"vector": {}, "max_bytes": 1048576, "from": self.urls[asker]}
        if scope is not None:
            request["scope"] = scope
        lacking = []  # entries the peer sends to the asker
        giving = []  # entries the asker pushes back
        for author in differing:
            held, log = self.held[author], self.logs[author]
            if held[peer] > held[asker]:
                lacking += log[held[asker] - SEQ : held[peer] - SEQ]
                held[asker] = held[peer]
            elif held[asker] > held[peer]:
                giving += log[held[peer] - SEQ : held[asker] - SEQ]
                held[peer] = held[asker]
        for document in lacking + giving:
            self.verify(document)
        reply = {
            "digest": theirs,
            "in_sync": False,
            "vector": {},
            "entries": lacking,
            "more": False,
        }
        tally.add(asker, _client_bytes(request) + sent, _server_bytes(reply) + received, peer)
        if giving:
            body = {"entries": giving, "ttl": 0, "from": self.urls[asker]}
            ids = [{"origin": d["header"]["origin"], "seq": d["header"]["seq"]} for d in giving]
            tally.add(
                asker,
                _client_bytes(body),
                _server_bytes({"accepted": ids, "duplicate": [], "pending": [], "rejected": []}),
                peer,
            )

    def anti_entropy(self, author: int, seq: int, tally: Tally, idle: Tally) -> int:
        """Rounds of ``sync_all`` on every node (all its peers) until all hold ``seq``."""
        rounds = 0
        while any(s < seq for s in self.held[author]):
            rounds += 1
            order = list(range(self.count))
            self.rng.shuffle(order)
            for asker in order:
                for peer in self.peers[asker]:
                    self.exchange(asker, peer, tally, idle)
        return rounds


def _hash(document: dict[str, Any]) -> str:
    from federation.canonical import canonical_bytes, sha256_tag

    return sha256_tag(canonical_bytes(document["header"]))


def fan_out(net: Network, document: dict[str, Any], author: int) -> Tally:
    """ActivityPub style: the origin posts the entry to every other node itself."""
    tally = Tally()
    for target in range(net.count):
        if target != author:
            body = {"entries": [document], "ttl": 0, "from": net.urls[author]}
            ids = [{"origin": document["header"]["origin"], "seq": document["header"]["seq"]}]
            answer = {"accepted": ids, "duplicate": [], "pending": [], "rejected": []}
            tally.add(author, _client_bytes(body), _server_bytes(answer), target)
    return tally


def simulate(
    count: int, entries: int, *, ttl: int, fanout: int = 3, seed: int = 7, buckets: bool = True
) -> dict[str, float]:
    rng = random.Random(seed)
    net = Network(count, rng, fanout=fanout, ttl=ttl, buckets=buckets)
    net.verify_budget = 400
    totals = {
        "push_hops": 0.0,
        "push_messages": 0.0,
        "coverage": 0.0,
        "ae_rounds": 0.0,
        "ae_messages": 0.0,
        "messages": 0.0,
        "bytes": 0.0,
        "fanout_bytes": 0.0,
        "fanout_messages": 0.0,
        "max_upload": 0.0,
        "fanout_max_upload": 0.0,
        "idle_bytes_per_round": 0.0,
        "entry_bytes": 0.0,
    }
    for _ in range(entries):
        author = rng.randrange(count)
        document = net.new_entry(author)
        seq = document["header"]["seq"]
        push, ae, idle = Tally(), Tally(), Tally()
        hops, holders = net.push(author, seq, push)
        rounds = net.anti_entropy(author, seq, ae, idle)
        reference = fan_out(net, document, author)
        upload: dict[int, int] = {}
        for tally in (push, ae):
            for node, sent in tally.upload.items():
                upload[node] = upload.get(node, 0) + sent
        totals["push_hops"] += hops
        totals["push_messages"] += push.messages
        totals["coverage"] += holders / count
        totals["ae_rounds"] += rounds
        totals["ae_messages"] += ae.messages
        totals["messages"] += push.messages + ae.messages
        totals["bytes"] += push.bytes + ae.bytes
        totals["fanout_bytes"] += reference.bytes
        totals["fanout_messages"] += reference.messages
        totals["max_upload"] += max(upload.values())
        totals["fanout_max_upload"] += reference.max_upload
        totals["idle_bytes_per_round"] += idle.bytes / max(rounds, 1)
        totals["entry_bytes"] += _client_bytes(document)
    result = {name: value / entries for name, value in totals.items()}
    result["verified"] = net.verified
    result["verify_ms"] = net.verify_seconds / max(net.verified, 1) * 1000
    result["vector_bytes"] = net.vector_bytes()
    return result
