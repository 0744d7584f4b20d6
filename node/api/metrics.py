"""``GET /metrics``: the node's metrics in Prometheus's text format (node/metrics.py).

Public unless the ``metrics_token`` setting is set: then only a request bearing it
(``Authorization: Bearer …``) is answered. What the series show is no more than
``/api/v1/nodes`` already shows anyone (peers and their failures); see docs/security.md."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..metrics import CONTENT_TYPE, read_state
from ..runtime import Node
from .errors import ApiError


def _check_token(request: Request, expected: str) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected.encode()):
        raise ApiError(
            401, "unauthorized", "this node's metrics need its metrics_token as a bearer token"
        )


async def metrics(request: Request) -> Response:
    node: Node = request.app.state.node
    if node.settings.metrics_token:
        _check_token(request, node.settings.metrics_token)
    state = await read_state(node)
    body = node.metrics.render(state, node.settings.blob_quota_bytes)
    return Response(body, media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})


def routes() -> list[Route]:
    return [Route("/metrics", metrics, methods=["GET"], name="metrics")]
