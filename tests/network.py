"""In-process networks: several nodes in one event loop, talking through a transport
that routes each request to the right node's ASGI app by host name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import InProcessNode, in_process_node


class RoutingTransport(httpx.AsyncBaseTransport):
    """Route ``http://<name>.test`` to the app registered as ``name``; others fail."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.down: set[str] = set()
        self.requests = 0
        self.bytes = 0

    def add(self, host: str, app: Any) -> None:
        self.apps[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host not in self.apps or host in self.down:
            raise httpx.ConnectError(f"{host} is unreachable", request=request)
        self.requests += 1
        body = await request.aread()
        self.bytes += len(body)
        return await self.apps[host].handle_async_request(request)


def url_of(name: str) -> str:
    return f"http://{name}.test"


@asynccontextmanager
async def network(
    base: Path,
    names: list[str],
    per_node: dict[str, dict[str, Any]] | None = None,
    transport: RoutingTransport | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[RoutingTransport, dict[str, InProcessNode]]]:
    transport = transport or RoutingTransport()
    async with AsyncExitStack() as stack:
        nodes = {}
        for name in names:
            node = await stack.enter_async_context(
                in_process_node(
                    base / name,
                    transport=transport,
                    name=name,
                    url=url_of(name),
                    **{"allow_private_peers": True, **settings, **(per_node or {}).get(name, {})},
                )
            )
            transport.add(f"{name}.test", node.app)
            nodes[name] = node
        yield transport, nodes
