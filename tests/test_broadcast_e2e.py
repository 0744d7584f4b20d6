"""Protocol 1.1 between real ``papi serve`` processes: 20 nodes, 5 of them stopped in the
middle of a burst of 100 entries. Every node that stays up ends with every entry (the
broadcast tree routes around the stopped ones: frames to them fail, changes pulls of the
lazy links announce, grafts fetch), and the stopped ones catch up when they start again.

Kept light for a 2-core machine: the data directories are prepared in this process (keys,
tokens, peers, every place already held, as after a first round) instead of by 80 CLI
commands; sync interval 3 s, settle 1 s, warnings-only logs, polling every 0.5 s at most;
every wait is on a condition."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import NodeProcess, free_port_block, wait_until

pytestmark = pytest.mark.e2e

COUNT, STOPPED, BURST = 20, 5, 100


async def _prepare(base: Path, links: set[tuple[int, int]]) -> list[NodeProcess]:
    """Data directories of ``COUNT`` nodes: key, place, token, peers added by hand along
    ``links`` (both ways), and every other node's place entry."""
    from node.api.auth import create_token
    from node.datadir import init_data_dir, load_key
    from node.runtime import Node
    from node.services.bootstrap import ensure_place
    from node.services.entries import by_refs
    from node.services.peers import add_peer
    from node.settings import load_settings

    port = free_port_block(COUNT)
    nodes = []
    for i in range(COUNT):
        data_dir = base / f"n{i:02d}"
        env = {
            "PAPI_SYNC_INTERVAL_SECONDS": "3",
            "PAPI_CHANGES_SETTLE_SECONDS": "1",
            "PAPI_LOG_LEVEL": "warning",
        }
        nodes.append(NodeProcess(data_dir, port + i, base / f"n{i:02d}.log", env))

    async def opened(proc: NodeProcess) -> Node:
        init_data_dir(proc.data_dir, {"name": proc.data_dir.name, "url": proc.url})
        settings = load_settings(proc.data_dir, {"scheduler": False}, environ={})
        node = Node(settings, load_key(proc.data_dir))
        await node.db.open()
        return node

    places: list[dict[str, Any]] = []
    for proc in nodes:
        node = await opened(proc)
        with node.db.activated():
            await ensure_place(node)
            proc.token = await create_token("tests", node=node)
            places.extend(
                entry.document()
                for entry in await by_refs([(node.origin, 1)], node.db.connection())
            )
        await node.db.close()
    for i, proc in enumerate(nodes):
        node = await opened(proc)
        with node.db.activated():
            for a, b in sorted(links):
                if i in (a, b):
                    await add_peer(nodes[b if i == a else a].url)
            report = await node.ingestor.ingest(
                [p for p in places if p["header"]["origin"] != node.origin]
            )
            assert not report.rejected
        await node.db.close()
    return nodes


def heads(node: NodeProcess) -> dict[str, int]:
    try:
        rows = httpx.get(node.url + "/api/v1/nodes", timeout=10).json()["origins"]
    except httpx.HTTPError:
        return {}
    return {row["id"]: int(row["seq"]) for row in rows}


def holds_all(node: NodeProcess, expected: dict[str, int]) -> bool:
    mine = heads(node)
    return all(mine.get(origin, 0) >= seq for origin, seq in expected.items())


def _count(node: NodeProcess, sql: str) -> int:
    with sqlite3.connect(f"file:{node.data_dir / 'papi.sqlite3'}?mode=ro", uri=True) as db:
        return int(db.execute(sql).fetchone()[0])


def test_live_nodes_get_every_entry_and_stopped_ones_catch_up(tmp_path: Path) -> None:
    rng = random.Random(15)
    # A ring and one random chord per node: degree 3 to 5.
    links = {(i, (i + 1) % COUNT) for i in range(COUNT)}
    for i in range(COUNT):
        j = rng.choice([j for j in range(COUNT) if j not in (i, (i + 1) % COUNT, (i - 1) % COUNT)])
        links.add((min(i, j), max(i, j)))
    nodes = asyncio.run(_prepare(tmp_path, links))
    try:
        for node in nodes:
            node.start(timeout=120)
        # The first rounds read each peer's features; the next tick makes neighbours.
        neighbours = "SELECT count(*) FROM peer_links WHERE neighbour"
        wait_until(lambda: all(_count(node, neighbours) >= 2 for node in nodes), 180, 0.5)
        stopped = rng.sample(nodes, STOPPED)
        live = [node for node in nodes if node not in stopped]
        expected: dict[str, int] = {}
        for index in range(BURST):
            if index == BURST // 2:
                for k, node in enumerate(stopped):  # some killed, some stopped cleanly
                    node.kill() if k % 2 else node.stop()
            author = rng.choice(live)
            r = httpx.post(
                author.url + "/api/v1/skills",
                json={"title": f"Atelier {index}"},
                headers=author.auth,
                timeout=120,  # a node of 20 on a loaded 2-core machine may take a while
            )
            assert r.status_code == 201, r.text
            created = r.json()
            expected[created["origin"]] = max(expected.get(created["origin"], 0), created["seq"])
        wait_until(lambda: all(holds_all(node, expected) for node in live), 300, 0.5)
        for node in stopped:
            node.start(timeout=120)
        wait_until(lambda: all(holds_all(node, expected) for node in stopped), 300, 0.5)
        # The tree did the work: frames were sent and taken.
        done = "SELECT count(*) FROM frames WHERE state = 'done'"
        assert sum(_count(node, done) for node in live) > 0
    finally:
        for node in nodes:
            node.stop()
