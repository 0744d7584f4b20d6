"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: the database
takes writes, the disk has room, no write failed for lack of space)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from ..db import lock_for_write
from ..runtime import node_of
from ..services.health import node_health

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _database_writable() -> dict[str, Any]:
    try:
        async with in_transaction() as conn:
            await lock_for_write(conn)  # takes the write lock, changes nothing
    except Exception as exc:
        log.warning("readiness: the database does not take writes: %s", exc)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True}


async def readyz(request: Request) -> Response:
    node = node_of(request)
    health = node_health(node)
    storage = health["storage"]
    free, low = storage["free_bytes"], storage["min_free_bytes"]
    checks = {
        "database": await _database_writable(),
        "disk": {
            "ok": storage["error"] is None and (free is None or free >= low),
            "free_bytes": free,
            "min_free_bytes": low,
            "error": storage["error"],
        },
        "clock": health["clock"],  # shown, not required: the node serves with a bad clock
    }
    ready = checks["database"]["ok"] and checks["disk"]["ok"]
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/readyz", readyz, methods=["GET"], name="readyz"),
    ]
