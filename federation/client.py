"""The peer client: the only code that talks to other nodes.

It takes an ``httpx`` transport so that tests can wire nodes together in-process
(``httpx.ASGITransport``) or over real sockets, and validates every answer against the
message schemas before handing it back.

httpx is imported when the first client is built: a node without peers does without it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from . import schema
from .clockskew import parse_http_date
from .entry import PROTOCOL_VERSION
from .errors import PeerBusy, PeerError, PeerLacksPath, PeerUnreachable, SchemaError
from .netguard import Resolver

if TYPE_CHECKING:
    import ssl

    import httpx


def agent(software: str) -> str:
    """A User-Agent: ``software`` (``name/version``), then the protocol it speaks."""
    return f"{software} (+federation v{PROTOCOL_VERSION})"


#: Sent by a client built without ``user_agent`` (an application passes its own).
DEFAULT_USER_AGENT = agent("papi-federation")
#: Bound on any answer we read from a peer.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Deepest JSON nesting accepted in an answer (entries nest a few levels; a payload is
#: bounded by its schema). Deeper is a hostile answer, refused before anything walks it.
MAX_ANSWER_DEPTH = 64
#: Statuses that mean "come back later" rather than "this peer is broken".
_BUSY = {429, 503, 507}
#: A proxy in front of a peer that is down answers these.
_GATEWAY = {502, 504}


@cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of every request to peers (httpx's defaults: certifi's CAs),
    built once per process: loading the CA bundle takes 50 ms or more, and each
    ``PeerClient`` (each sync round, each command that asks a peer) built its own."""
    import httpx

    return httpx.create_ssl_context()


#: ``on_date(peer base URL, our clock - the peer's clock)``, for each answer with a Date.
DateObserver = Callable[[str, float], None]


class PeerClient:
    """Requests to peers. ``timeout`` bounds each network operation (connect, each read);
    ``deadline`` bounds a whole request, answer included, so a peer that trickles bytes
    cannot hold us. With ``public_only``, the peer's host must resolve to public unicast
    addresses only, and the connection goes to the address that was checked."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        connect_timeout: float | None = None,
        deadline: float | None = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        public_only: bool = False,
        resolver: Resolver | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        on_date: DateObserver | None = None,
        clock: Callable[[], float] = time.time,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        import httpx

        if public_only:
            from .pinned import guarded_transport

            transport = guarded_transport(transport, resolver)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout or timeout),
            transport=transport,
            verify=tls_context(),
            headers={"user-agent": user_agent},
            follow_redirects=False,
        )
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self._on_date = on_date
        self._clock = clock
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
        import httpx  # imported already by __init__: a dictionary look-up

        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"} if content is not None else {}
        self.requests += 1
        self.bytes_sent += len(content or b"")
        try:
            async with asyncio.timeout(self.deadline):
                status, response_headers, raw = await self._exchange(
                    method, url, content, params, headers
                )
        except TimeoutError:
            raise PeerUnreachable(
                f"{url}: no complete answer within the deadline of {self.deadline:g} s"
            ) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise PeerUnreachable(f"{url}: {type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:
            raise PeerError(f"{url}: {type(exc).__name__}: {exc}") from None
        if status >= 400:
            detail = f"{url}: HTTP {status}: {raw[:200]!r}"
            if status in _BUSY:
                raise PeerBusy(detail, _retry_after(response_headers.get("retry-after")))
            if status in _GATEWAY:
                raise PeerUnreachable(detail)
            if status in (404, 405):
                raise PeerLacksPath(detail)
            raise PeerError(detail)
        try:
            document = json.loads(raw)
        except RecursionError:
            raise PeerError(f"{url}: answer nested too deeply") from None
        except ValueError:
            raise PeerError(f"{url}: answer is not JSON") from None
        if _too_deep(document, MAX_ANSWER_DEPTH):
            raise PeerError(f"{url}: answer nested deeper than {MAX_ANSWER_DEPTH} levels")
        return document

    async def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        params: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> tuple[int, httpx.Headers, bytes]:
        async with self._client.stream(
            method, url, content=content, params=params, headers=headers
        ) as response:
            self._observe_date(response)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise PeerError(f"{url}: answer over {self.max_response_bytes} bytes")
                chunks.append(chunk)
        self.bytes_received += size
        return response.status_code, response.headers, b"".join(chunks)

    def _observe_date(self, response: httpx.Response) -> None:
        if self._on_date is None:
            return
        moment = parse_http_date(response.headers.get("date", ""))
        if moment is not None:
            url = response.request.url
            self._on_date(f"{url.scheme}://{url.netloc.decode()}", self._clock() - moment)

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

    async def join(self, base_url: str, request: dict[str, Any]) -> dict[str, Any]:
        """File a join request with an inviting node (docs/protocol.md 16.4)."""
        document = await self._request("POST", f"{base_url}/federation/v1/join", request)
        if not isinstance(document, dict):
            raise PeerError(f"{base_url}: join answer is not an object")
        return document

    async def broadcast(self, base_url: str, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a broadcast frame (protocol 1.1, 12.2); the answer is a frame too."""
        document = await self._request("POST", f"{base_url}/federation/v1/broadcast", frame)
        return _checked(base_url, "urn:papi:broadcast-response", document)

    async def changes(self, base_url: str, request: dict[str, Any]) -> dict[str, Any]:
        """What the peer stored since ``request``'s cursor (protocol 1.1, 13.2)."""
        document = await self._request("POST", f"{base_url}/federation/v1/changes", request)
        return _checked(base_url, "urn:papi:changes-response", document)

    async def fetch_blob(
        self, base_url: str, sha256: str, write: Callable[[bytes], None], *, max_bytes: int
    ) -> bool:
        """Stream the blob ``sha256`` of a peer into ``write``, chunk by chunk; False when
        the peer does not hold it (404). Only the size is bounded here: the caller checks
        the bytes against their hash before keeping them. The client's ``deadline`` bounds
        the whole download (give blob downloads a deadline that fits their size)."""
        import httpx  # imported already by __init__: a dictionary look-up

        url = f"{base_url}/federation/v1/blobs/{sha256}"
        self.requests += 1
        size = 0
        try:
            async with asyncio.timeout(self.deadline):
                async with self._client.stream("GET", url) as response:
                    if response.status_code == 404:
                        return False
                    if response.status_code in _BUSY:
                        retry = _retry_after(response.headers.get("retry-after"))
                        raise PeerBusy(f"{url}: HTTP {response.status_code}", retry)
                    if response.status_code in _GATEWAY:
                        raise PeerUnreachable(f"{url}: HTTP {response.status_code}")
                    if response.status_code != 200:
                        raise PeerError(f"{url}: HTTP {response.status_code}")
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise PeerError(f"{url}: blob over {max_bytes} bytes")
                        write(chunk)
        except TimeoutError:
            raise PeerUnreachable(
                f"{url}: no complete blob within the deadline of {self.deadline:g} s"
            ) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise PeerUnreachable(f"{url}: {type(exc).__name__}: {exc}") from None
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


def _too_deep(document: Any, limit: int) -> bool:
    """True if containers nest more than ``limit`` levels (walked level by level, without
    recursion: a sync page's 1,000 entries cost about a third of the walk with a stack of
    (value, depth) pairs, docs/performance.md 10.2)."""
    level: list[Any] = [document] if type(document) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper: list[Any] = []
        for value in level:
            for child in value.values() if type(value) is dict else value:
                kind = type(child)
                if kind is dict or kind is list:
                    deeper.append(child)
        level = deeper
    return False


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    moment = parse_http_date(text)
    return None if moment is None else max(0.0, moment - time.time())
