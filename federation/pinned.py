"""The httpx transports of ``netguard``: connections that reach checked public addresses
only. Imported by ``PeerClient`` when it is built with ``public_only``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from .client import tls_context
from .errors import AddressRefused
from .netguard import Resolver, resolve_public


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves once, checks, and connects to a checked
    address. httpcore still does TLS with the URL's host name (SNI and certificate)."""

    def __init__(
        self, resolver: Resolver | None = None, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_public(host, port, self._resolver)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout} s") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not peers")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connections go through a ``PinnedBackend``."""

    def __init__(self, backend: PinnedBackend) -> None:
        super().__init__(verify=tls_context())  # its own pool, replaced just below
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(), network_backend=backend
        )


class CheckedTransport(httpx.AsyncBaseTransport):
    """For an injected transport (tests, in-process networks) that does its own routing:
    check the host's addresses before handing the request over. Real sockets use
    ``PinnedTransport``, which also pins the connection to the checked address."""

    def __init__(self, inner: httpx.AsyncBaseTransport, resolver: Resolver | None = None) -> None:
        self._inner = inner
        self._resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        await resolve_public(request.url.host, port, self._resolver)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_transport(
    inner: httpx.AsyncBaseTransport | None = None, resolver: Resolver | None = None
) -> httpx.AsyncBaseTransport:
    """The transport for requests that must only reach public addresses."""
    if inner is None:
        return PinnedTransport(PinnedBackend(resolver))
    return CheckedTransport(inner, resolver)
