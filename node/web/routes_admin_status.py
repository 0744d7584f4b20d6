"""``/admin/status``: the node's state in plain words, each problem with what to do
(node/web/status.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..runtime import node_of
from .admin_base import admin_page, login_required
from .i18n import request_language
from .status import node_status


@login_required
async def status_page(request: Request) -> Response:
    status = await node_status(node_of(request), request_language(request))
    return await admin_page(request, "admin/status.html", {"status": status})


def routes() -> list[Route]:
    return [Route("/admin/status", status_page, methods=["GET"], name="admin.status")]
