"""Benchmark 3, idle round: bytes and round trips of one anti-entropy round between two
nodes that hold the same entries, for 10, 300 and 3,000 origins.

Two full apps in this process; node A runs ``node.services.sync.sync_with`` against B
through ``httpx.ASGITransport`` with a ``PeerClient`` whose counters give the request and
answer bytes (bodies) and the number of requests. For contrast, the same round when B
holds one entry more: no longer idle, it sends vectors (above 256 origins, only those of
the buckets whose digests differ).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from bench.common import asgi_node, preload, record, section, signed_logs, sync_order, workdir


async def one_round(a_app: Any, b_app: Any) -> tuple[int, int, bool]:
    """A syncs with B once: (bytes both ways, requests, in sync at start)."""
    from federation.client import PeerClient
    from node.services.peers import add_peer
    from node.services.sync import sync_with

    node = a_app.state.node
    client = PeerClient(transport=httpx.ASGITransport(app=b_app))
    with node.db.activated():
        peer = await add_peer("http://b.test")
        node.peer_client = lambda *args, **kwargs: client
        result = await sync_with(node, peer)
    if result.error:
        raise RuntimeError(result.error)
    return client.bytes_sent + client.bytes_received, client.requests, result.in_sync_at_start


async def measure(base: Path, origins: int) -> dict[str, float]:
    from node.services.log import publish

    entries = sync_order(signed_logs(origins, 2))
    async with (
        asgi_node(base / "a", name="A", allow_private_peers=True) as (a_app, _),
        asgi_node(base / "b", name="B", allow_private_peers=True) as (b_app, _),
    ):
        a, b = a_app.state.node, b_app.state.node
        for node in (a, b):
            with node.db.activated():
                await preload(node, entries)
        # Each learns the other's own log once: from here on they hold the same entries.
        await one_round(a_app, b_app)
        idle_bytes, idle_requests, in_sync = await one_round(a_app, b_app)
        if not in_sync:
            raise RuntimeError("the nodes are not in sync after a full round")
        with b.db.activated():
            await publish(b, "skill", "new", "put", {"title": "Atelier courriels"})
        busy_bytes, busy_requests, _ = await one_round(a_app, b_app)
    return {
        "idle_bytes": idle_bytes,
        "idle_requests": idle_requests,
        "busy_bytes": busy_bytes,
        "busy_requests": busy_requests,
    }


def main() -> None:
    section("3. idle round")
    results = {}
    with workdir("idle") as base:
        for origins in (10, 300, 3000):
            results[origins] = asyncio.run(measure(base / str(origins), origins))
    for origins, figures in results.items():
        record(
            f"idle_round_bytes_{origins}",
            figures["idle_bytes"],
            "bytes",
            target=1024,
            note=f"{figures['idle_requests']:.0f} round trip(s), {origins} origins",
        )
    worst = max(figures["idle_bytes"] for figures in results.values())
    record(
        "idle_round_bytes",
        worst,
        "bytes",
        target=1024,
        note="largest of the three: flat means it does not grow with origins",
    )
    record("idle_round_trips", max(f["idle_requests"] for f in results.values()), "requests")
    for origins, figures in results.items():
        record(
            f"one_change_round_bytes_{origins}",
            figures["busy_bytes"],
            "bytes",
            note=f"{figures['busy_requests']:.0f} requests: one new entry (digest, bucket digests"
            " above 256 origins, then vectors)",
        )


if __name__ == "__main__":
    main()
