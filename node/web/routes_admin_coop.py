"""``/admin/inbox`` and ``/admin/outbox``: the conversations of every workflow, with
their state, history and the actions this node may take, as buttons (CSRF-protected
forms, no script needed). The inbox holds what other places ask of this one (and the
steps of cooperation this node could not process, to try again); the outbox what this
place asked. Each workflow gives its rows (``cooperation.workflows.LISTINGS``) and has
its own conversation pages (``routes_admin_loans.py``...)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..cooperation import rows
from ..cooperation.session import place_today
from ..cooperation.workflows import LISTINGS
from ..runtime import node_of
from .admin_base import admin_page, login_required, with_form
from .i18n import N_
from .sessions import flash
from .urls import path_for

#: The two lists: route name -> (role of this node, title).
BOXES = {
    "admin.inbox": ("owner", N_("Requests received")),
    "admin.outbox": ("requester", N_("My requests")),
}


async def _box(request: Request, route: str) -> Response:
    node = node_of(request)
    role, title = BOXES[route]
    sections: list[dict[str, Any]] = []
    async with node.db.transaction() as conn:
        for listing in LISTINGS:
            found = await listing.rows(conn, node, role, place_today())
            sections.append({"name": listing.name, "heading": listing.heading, "rows": found})
    failed = await rows.tasks_to_watch(node.db.connection()) if role == "owner" else []
    return await admin_page(
        request,
        "admin/coop_list.html",
        {
            "title": title,
            "role": role,
            "sections": sections,
            "here": path_for(request, route),
            "failed_tasks": failed,
        },
    )


@login_required
async def inbox(request: Request) -> Response:
    return await _box(request, "admin.inbox")


@login_required
async def outbox(request: Request) -> Response:
    return await _box(request, "admin.outbox")


@login_required
@with_form
async def retry_task(request: Request, form: FormData) -> Response:
    if await rows.requeue_task(node_of(request).db, request.path_params["task"]):
        node_of(request).wake_coop()
        flash(request, N_("The step will be processed again shortly."))
    return RedirectResponse(path_for(request, "admin.inbox"), status_code=303)


def back_to(request: Request, form: FormData, default: str) -> str:
    """Where a form sends back after its action: its ``next`` field when it is a path of
    this site's admin, else ``default``."""
    target = str(form.get("next") or "")
    admin = path_for(request, "admin")
    if target.startswith(admin) and not target.startswith("//") and "\\" not in target:
        return target
    return default


def routes() -> list[Route]:
    return [
        Route("/admin/inbox", inbox, methods=["GET"], name="admin.inbox"),
        Route("/admin/outbox", outbox, methods=["GET"], name="admin.outbox"),
        Route(
            "/admin/inbox/tasks/{task:int}/retry",
            retry_task,
            methods=["POST"],
            name="admin.inbox.retry",
        ),
    ]
