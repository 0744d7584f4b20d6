"""The broadcast tree after a network's set-up, in simulation (docs/performance.md 4.2).

50 nodes (random graph of degree 3-4, ``tests/plumtree_net.py``), each holding only its
own first entry, written before it had peers, so that the tree brings none of them: they
spread by changes pulls (every 60 s at each node's own phase, settle 10 s) and the grafts
and frames that follow. Then one new entry. Counted over the seeds: networks whose eager
graph (links eager on both sides) is in pieces after the set-up, and first entries that
the tree alone did not bring to every node in 20 s.

    .venv/bin/python -m bench.sim_tree_setup [RUNS] [FIRST_SEED]
"""

from __future__ import annotations

import random
import sys

from tests.plumtree_net import Net, random_graph


def pieces(net: Net) -> int:
    adjacent: dict[str, set[str]] = {name: set() for name in net.nodes}
    for link in net.eager_links():
        one, other = tuple(link)
        adjacent[one].add(other)
        adjacent[other].add(one)
    seen: set[str] = set()
    count = 0
    for name in sorted(adjacent):
        if name in seen:
            continue
        count += 1
        stack = [name]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(adjacent[current] - seen)
    return count


def one_network(seed: int, count: int = 50) -> tuple[bool, bool]:
    """(eager graph in pieces after the set-up, first entry missing nodes by the tree)."""
    rng = random.Random(seed)
    net = Net(random_graph(count, rng), rng, latency=(0.05, 0.4), settle=10.0)
    names = sorted(net.nodes)
    for name in names:
        net.seqs[name] = 1
        net.nodes[name].store.ingest([(name, 1)], 0.0)
    for name in names:  # cursors from before the first entries: the pulls announce them
        for peer in net.nodes[name].cursors:
            net.nodes[name].cursors[peer] = 0
    phase = {name: rng.uniform(0, 60) for name in names}
    for interval in range(4):
        for name in sorted(names, key=phase.__getitem__):
            net.run(until=interval * 60 + phase[name])
            for peer in sorted(net.nodes[name].cursors):
                net.pull(name, peer)
        net.run(until=(interval + 1) * 60)
        net.tick()
    net.run(until=net.now + 30)
    net.tick()
    net.run(until=net.now + 30)
    cut = pieces(net) > 1
    entry = net.publish(rng.choice(names))
    net.run(until=net.now + 20)
    return cut, net.holders(entry) < count


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    results = [one_network(seed) for seed in range(first, first + runs)]
    print(
        f"{runs} networks: eager graph in pieces after the set-up in"
        f" {sum(cut for cut, _ in results)}, first entry missing nodes by the tree in"
        f" {sum(late for _, late in results)}"
    )


if __name__ == "__main__":
    main()
