"""The peer client: the only code that talks to other nodes.

It takes an ``httpx`` transport so that tests can wire nodes together in-process
(``httpx.ASGITransport``) or over real sockets, and validates every answer against the
message schemas before handing it back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from . import schema
from .errors import PeerError, SchemaError

USER_AGENT = "papi-node/0.1 (+federation v1)"
#: Bound on any answer we read from a peer.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class PeerClient:
    def __init__(
        self,
        *,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"user-agent": USER_AGENT},
            follow_redirects=False,
        )
        self.max_response_bytes = max_response_bytes
        #: Bytes sent and received, for progress display and benchmarks.
        self.bytes_sent = 0
        self.bytes_received = 0
        self.requests = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> PeerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _request(
        self, method: str, url: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"} if content is not None else {}
        self.requests += 1
        self.bytes_sent += len(content or b"")
        try:
            async with self._client.stream(
                method, url, content=content, params=params, headers=headers
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise PeerError(f"{url}: answer over {self.max_response_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise PeerError(f"{url}: {type(exc).__name__}: {exc}") from None
        self.bytes_received += size
        raw = b"".join(chunks)
        if response.status_code >= 400:
            raise PeerError(f"{url}: HTTP {response.status_code}: {raw[:200]!r}")
        try:
            return json.loads(raw)
        except ValueError:
            raise PeerError(f"{url}: answer is not JSON") from None

    async def node_info(self, base_url: str) -> dict[str, Any]:
        document = await self._request("GET", f"{base_url}/api/v1/node")
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise PeerError(f"{base_url}: /api/v1/node has no id")
        return document

    async def entries(
        self, base_url: str, origin: str, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        document = await self._request(
            "GET",
            f"{base_url}/federation/v1/entries",
            params={"origin": origin, "after": after, "limit": limit},
        )
        entries = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise PeerError(f"{base_url}: entries answer has no list")
        return entries

    async def sync(self, base_url: str, request: dict[str, Any]) -> dict[str, Any]:
        document = await self._request("POST", f"{base_url}/federation/v1/sync", request)
        return _checked(base_url, "urn:papi:sync-response", document)

    async def push(
        self,
        base_url: str,
        entries: list[dict[str, Any]],
        *,
        ttl: int = 0,
        sender: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"entries": entries, "ttl": ttl}
        if sender:
            body["from"] = sender
        document = await self._request("POST", f"{base_url}/federation/v1/push", body)
        return _checked(base_url, "urn:papi:push-response", document)

    async def fetch_blob(
        self, base_url: str, sha256: str, write: Callable[[bytes], None], *, max_bytes: int
    ) -> bool:
        """Stream the blob ``sha256`` of a peer into ``write``, chunk by chunk; False when
        the peer does not hold it (404). Only the size is bounded here: the caller checks
        the bytes against their hash before keeping them."""
        url = f"{base_url}/federation/v1/blobs/{sha256}"
        self.requests += 1
        size = 0
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code == 404:
                    return False
                if response.status_code != 200:
                    raise PeerError(f"{url}: HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise PeerError(f"{url}: blob over {max_bytes} bytes")
                    write(chunk)
        except httpx.HTTPError as exc:
            raise PeerError(f"{url}: {type(exc).__name__}: {exc}") from None
        finally:
            self.bytes_received += size
        return True


def _checked(base_url: str, schema_id: str, document: Any) -> dict[str, Any]:
    """The answer if it matches its message schema; ``PeerError`` otherwise."""
    try:
        schema.validate(schema_id, document)
    except SchemaError as exc:
        raise PeerError(f"{base_url}: answer does not match {schema_id}: {exc.message}") from None
    result: dict[str, Any] = document
    return result
