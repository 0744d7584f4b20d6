"""Misbehaving peers for the network tests: real sockets on 127.0.0.1 that trickle bytes
or never answer, and a transport that mixes in-process nodes, scripted answers and the
real network."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx

from tests.network import RoutingTransport

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class MixedTransport(RoutingTransport):
    """``RoutingTransport`` plus scripted hosts (``handlers``) and, for any other host, the
    real network (misbehaving servers on 127.0.0.1). With ``add_date``, answers carry a
    ``Date`` header from the host's clock (``clocks``), as behind a real HTTP server."""

    def __init__(self, *, add_date: bool = False) -> None:
        super().__init__()
        self.handlers: dict[str, Handler] = {}
        self.add_date = add_date
        #: The clock of each host, for its Date headers (default: the real one).
        self.clocks: dict[str, Callable[[], float]] = {}
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.handlers and host not in self.down:
            self.requests += 1
            answer = self.handlers[host](request)
            response = await answer if inspect.isawaitable(answer) else answer
        elif host in self.apps or host.endswith(".test"):
            response = await super().handle_async_request(request)
        else:
            return await self.real.handle_async_request(request)
        if self.add_date:
            now = self.clocks.get(host, time.time)()
            response.headers["date"] = format_datetime(
                datetime.fromtimestamp(now, UTC), usegmt=True
            )
        return response

    async def aclose(self) -> None:
        pass  # shared by every node of the test; closed by the test


class MisbehavingServer:
    """An HTTP server on 127.0.0.1 that reads a request and then either never answers
    (``mode="silent"``, a black hole) or trickles an endless answer (``"trickle"``, a
    slow loris). Counts connections, and those still open (a silent one closes when the
    client hangs up); ``release()`` closes them all."""

    def __init__(self, mode: str, interval: float = 0.2) -> None:
        self.mode = mode
        self.interval = interval
        self.connections = 0
        self.open = 0
        self.bytes_sent = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._release = asyncio.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self._writers.append(writer)
        try:
            with contextlib.suppress(Exception):
                await reader.readuntil(b"\r\n\r\n")
                if self.mode == "trickle":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        b"content-length: 1000000\r\n\r\n["
                    )
                    while not self._release.is_set():
                        await writer.drain()
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(self.interval):
                                await self._release.wait()
                        writer.write(b" ")
                        self.bytes_sent += 1
                else:  # silent until released or until the client hangs up
                    hangup = asyncio.ensure_future(reader.read())
                    release = asyncio.ensure_future(self._release.wait())
                    await asyncio.wait([hangup, release], return_when=asyncio.FIRST_COMPLETED)
                    hangup.cancel()
                    release.cancel()
        finally:
            self.open -= 1
            writer.close()

    def release(self) -> None:
        """End every connection (the clients see the answer cut short)."""
        self._release.set()

    async def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def misbehaving(mode: str, interval: float = 0.2) -> AsyncIterator[MisbehavingServer]:
    server = MisbehavingServer(mode, interval)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``predicate`` (sync or async) until truthy; condition-based, never timed."""
    async with asyncio.timeout(timeout):
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.05)
