from __future__ import annotations

from pathlib import Path

from node.ratelimit import RateLimitMiddleware
from tests.conftest import in_process_node


def test_bucket_refills_with_time() -> None:
    limiter = RateLimitMiddleware(app=None, per_minute=60)  # type: ignore[arg-type]
    allowed = [limiter.allow("10.0.0.1", 0.0) for _ in range(20)]
    assert allowed.count(True) == 15  # the burst
    assert not limiter.allow("10.0.0.1", 0.0)
    assert limiter.allow("10.0.0.2", 0.0)  # per client
    assert limiter.allow("10.0.0.1", 1.0)  # one token per second at 60/min


async def test_too_many_requests_get_429(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "n", rate_limit_per_minute=40) as node:
        statuses = [(await node.client.get("/api/v1/node")).status_code for _ in range(15)]
    assert statuses[:10] == [200] * 10
    assert 429 in statuses
