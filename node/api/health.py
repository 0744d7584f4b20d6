"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: the database
takes writes, the disk has room, no write failed for lack of space)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..runtime import Node, node_of
from ..services.health import node_health
from ..store import origins
from .spec import Answer, Operation, describe, obj

_CHECK = obj(("ok",), ok={"type": "boolean"})
_READINESS = obj(
    ("status", "checks"),
    status={"enum": ["ready", "not_ready"]},
    checks=obj(
        ("database", "disk", "clock"), database=_CHECK, disk=_CHECK, clock={"type": "object"}
    ),
)

log = logging.getLogger(__name__)


@describe(
    Operation(
        "The process answers",
        (Answer(200, "Always, while the process runs.", obj(("status",), status={"const": "ok"})),),
        tag="health",
    )
)
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _database_writable(node: Node) -> dict[str, Any]:
    try:
        async with node.db.write_transaction() as conn:  # the write lock (BEGIN IMMEDIATE)
            await origins.write_nothing(conn)  # a read-only file refuses it
    except Exception as exc:
        log.warning("readiness: the database does not take writes: %s", exc)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True}


@describe(
    Operation(
        "The node can do its work: the database takes writes, the disk has room",
        (
            Answer(200, "Ready.", _READINESS),
            Answer(503, "Not ready: 'checks' says what fails.", _READINESS),
        ),
        tag="health",
    )
)
async def readyz(request: Request) -> Response:
    node = node_of(request)
    health = node_health(node)
    storage = health["storage"]
    free, low = storage["free_bytes"], storage["min_free_bytes"]
    checks = {
        "database": await _database_writable(node),
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
