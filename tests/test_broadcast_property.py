"""Properties of the protocol 1.1 broadcast (docs/protocol.md sections 11 and 12) on an
in-memory network whose transport loses, duplicates and reorders (tests/plumtree_net.py):

- whatever is lost, every node ends with every entry once the transport heals, through
  the changes pulls and grafts alone (full rounds only when a graft gives up);
- once the transport is reliable, duplicates prune the eager links down to a spanning
  tree, which then carries each new entry exactly once to every node, whoever wrote it;
- nodes stopped in the middle of a burst: the live ones get every entry, the stopped ones
  catch up when they start again;
- a node that follows a territory gets the entries of its origins and no other.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.broadcast import Mode
from tests.plumtree_net import Net, random_graph

seeds = st.integers(0, 2**32 - 1)


def _repair(net: Net, entries: list[tuple[str, int]], rounds: int = 40) -> int:
    """Reliable transport from now on: a changes pull of every link and the due grafts
    every interval, until every node holds every entry; how many intervals it took."""
    net.loss = net.duplicate = 0.0
    count = len(net.nodes)
    for interval in range(rounds):
        net.run()
        if all(net.holders(entry) == count for entry in entries):
            return interval
        net.now += 60
        net.pull_round()
        net.run()
        net.tick()
    return rounds


def _connected(nodes: set[str], links: set[frozenset[str]]) -> bool:
    start = min(nodes)
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for link in links:
            if here in link:
                (other,) = link - {here}
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
    return seen == nodes


@settings(max_examples=60, deadline=None)
@given(
    seed=seeds,
    count=st.integers(3, 12),
    authors=st.lists(st.integers(0, 11), min_size=1, max_size=30),
    loss=st.sampled_from([0.0, 0.1, 0.3, 0.6]),
    duplicate=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_every_node_gets_every_entry(
    seed: int, count: int, authors: list[int], loss: float, duplicate: float
) -> None:
    rng = random.Random(seed)
    net = Net(
        random_graph(count, rng),
        rng,
        loss=loss,
        duplicate=duplicate,
        latency=(0.01, 2.0),  # wide: messages overtake each other
        graft_retry=5.0,
    )
    names = sorted(net.nodes)
    entries = []
    for step, author in enumerate(authors):
        entries.append(net.publish(names[author % count]))
        net.run(until=net.now + rng.uniform(0.0, 1.0))  # writes interleave with delivery
        if step % 4 == 3:
            net.pull_round()
            net.tick()
    assert _repair(net, entries) < 40
    for node in net.nodes.values():
        assert node.store.pending == {} or all(not seqs for seqs in node.store.pending.values())
        assert node.store.heads == {
            origin: max(s for o, s in entries if o == origin) for origin, _ in entries
        }


@settings(max_examples=40, deadline=None)
@given(
    seed=seeds,
    count=st.integers(3, 14),
    loss=st.sampled_from([0.0, 0.2, 0.5]),
    one_sided=st.lists(st.integers(0, 2**16), max_size=12),
)
def test_duplicates_prune_the_eager_links_down_to_a_tree(
    seed: int, count: int, loss: float, one_sided: list[int]
) -> None:
    rng = random.Random(seed)
    net = Net(random_graph(count, rng), rng, loss=loss, duplicate=0.2, latency=(0.01, 1.0))
    names = sorted(net.nodes)
    entries = [net.publish(rng.choice(names)) for _ in range(3)]
    net.run(until=net.now + 0.5)
    assert _repair(net, entries) < 40
    # Links made lazy at one end only (as after a failure only that end saw): the other
    # end still pushes along them, and must be told to stop.
    ends = sorted(
        (name, peer) for name, node in net.nodes.items() for peer in node.broadcast.neighbours
    )
    for pick in one_sided:
        name, peer = ends[pick % len(ends)]
        net.nodes[name].broadcast.on_unreachable(peer)
    clean = 0
    for _ in range(6 * count):
        before = (net.counters.gossip_entries, net.counters.duplicates, net.counters.grafts)
        entry = net.publish(rng.choice(names))
        net.run()
        for _ in range(2 * count):  # a broken tree: the pulls and grafts bring it, hop by hop
            if net.holders(entry) == count:
                break
            net.now += 60
            net.pull_round()
            net.run()
            net.tick()
            net.run()
        assert net.holders(entry) == count
        sent = net.counters.gossip_entries - before[0]
        duplicates = net.counters.duplicates - before[1]
        grafts = net.counters.grafts - before[2]
        clean = clean + 1 if (sent, duplicates, grafts) == (count - 1, 0, 0) else 0
        if clean == 3:
            break
    assert clean == 3, "the eager links did not settle into a tree"
    for name, node in net.nodes.items():  # both ends of every link agree on its state
        for peer, mode in node.broadcast.neighbours.items():
            assert net.nodes[peer].broadcast.neighbours[name] is mode, (name, peer)
    links = net.eager_links()
    assert len(links) == count - 1
    assert _connected(set(names), links)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, count=st.integers(2, 30))
def test_one_flood_prunes_a_new_network_to_its_first_arrival_tree(seed: int, count: int) -> None:
    """Every link starts eager; the first entry floods them all, and each link that
    brought it second is pruned on both sides: what is left, on either side, is a
    spanning tree."""
    rng = random.Random(seed)
    net = Net(random_graph(count, rng), rng, latency=(0.01, 1.0))
    entry = net.publish(rng.choice(sorted(net.nodes)))
    net.run()
    assert net.holders(entry) == count
    either = {
        frozenset((name, peer))
        for name, node in net.nodes.items()
        for peer, mode in node.broadcast.neighbours.items()
        if mode is Mode.EAGER
    }
    assert either == net.eager_links()
    assert len(either) == count - 1
    assert _connected(set(net.nodes), either)
    degrees = sum(len(node.broadcast.neighbours) for node in net.nodes.values())
    assert net.counters.gossip_entries == degrees - (count - 1)  # all but back to the sender


@settings(max_examples=30, deadline=None)
@given(seed=seeds, loss=st.sampled_from([0.0, 0.2]))
def test_a_territory_gets_its_origins_and_no_other(seed: int, loss: float) -> None:
    rng = random.Random(seed)
    outside = random_graph(10, rng)
    inside = {f"t{i}": [f"t{(i - 1) % 5}", f"t{(i + 1) % 5}"] for i in range(5)}
    graph = {**outside, **inside}
    # One bridge: a node of the territory peers with one node that follows everything.
    graph["t0"] = [*graph["t0"], "n00000"]
    graph["n00000"] = [*graph["n00000"], "t0"]
    members = set(inside)

    def territory(origin: str) -> bool:
        return origin in members

    net = Net(
        graph,
        rng,
        loss=loss,
        latency=(0.01, 1.0),
        follows=dict.fromkeys(inside, territory),
    )
    names = sorted(graph)
    entries = [net.publish(rng.choice(names)) for _ in range(20)]
    net.run(until=net.now + 1.0)
    ours = [e for e in entries if e[0] in members]
    _repair(net, ours)
    for _ in range(5):  # the full network converges too, through the bridge
        net.now += 60
        net.pull_round()
        net.run()
        net.tick()
    for name, node in net.nodes.items():
        held = {origin for origin, head in node.store.heads.items() if head}
        if name in members:
            assert held == {o for o, _ in ours}
        else:
            assert held == {o for o, _ in entries}
    assert all(
        net.nodes[name].broadcast.neighbours.get("t0") in (Mode.EAGER, Mode.LAZY)
        for name in ["n00000"]
    )


@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_nodes_stopped_in_a_burst_catch_up_when_they_start_again(seed: int) -> None:
    """20 nodes, a burst of 100 entries written on the nodes that stay up; 5 nodes stop
    half-way through (frames to them fail, are sent again, then their links turn lazy)."""
    rng = random.Random(seed)
    net = Net(
        random_graph(20, rng), rng, latency=(0.02, 0.2), settle=1.0, retries=3, retry_delay=2.0
    )
    net.start_cursors()
    names = sorted(net.nodes)
    stopped = set(rng.sample(names, 5))
    writers = [name for name in names if name not in stopped]
    entries = [net.publish(rng.choice(names)) for _ in range(5)]  # before the burst
    for index in range(100):
        if index == 50:
            net.down |= stopped
        entries.append(net.publish(rng.choice(writers)))
        net.run(until=net.now + 0.05)
        if index % 20 == 19:
            net.pull_round()
            net.tick()
    for _ in range(10):  # the live nodes, through pulls and grafts, around the stopped ones
        net.now += 60
        net.replace_failing(degree=3)
        net.pull_round()
        net.run()
        net.tick()
        net.run()
    live_entries = [e for e in entries if e[0] not in stopped or e in entries[:5]]
    for name in writers:
        heads = net.nodes[name].store.heads
        assert all(heads.get(origin, 0) >= seq for origin, seq in live_entries), name
    for name in sorted(stopped):
        net.restart(name)
    assert _repair(net, entries) < 10


@settings(max_examples=30, deadline=None)
@given(seed=seeds, count=st.integers(8, 30))
def test_entries_of_every_author_at_once_leave_a_tree_that_reaches_everyone(
    seed: int, count: int
) -> None:
    """A network starting: every node's first entry spreads at the same time. Each flood's
    duplicates pruned links the others were spreading along, and the eager graph fell in
    pieces (a 50-node run: 5 pieces, and the next entries reached their author's piece
    only, the rest 60 s later by the pulls). A link that brought something new lately is
    not pruned (``prune_guard``): the next entries go along the tree to every node."""
    rng = random.Random(seed)
    net = Net(random_graph(count, rng), rng, latency=(0.01, 1.0))
    names = sorted(net.nodes)
    for name in names:
        net.publish(name)
    net.run()
    assert _connected(set(names), net.eager_links())
    for _ in range(5):
        net.now += 5.0
        entry = net.publish(rng.choice(names))
        net.run()  # no pull: the tree alone
        assert net.holders(entry) == count
