"""Per-client request rate limit (token bucket), so that one client cannot monopolise a
small node. In memory: limits are about the last minute, a restart may forget them."""

from __future__ import annotations

import json
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

#: Clients remembered at once; the least recently seen are forgotten first.
MAX_CLIENTS = 10_000


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(max(1, per_minute // 4))
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float) -> bool:
        tokens, last = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        while len(self.buckets) > MAX_CLIENTS:
            self.buckets.popitem(last=False)
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0 or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if self.allow(client, time.monotonic()):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"error": {"code": "rate_limited", "message": "too many requests; slow down"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", b"5"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
