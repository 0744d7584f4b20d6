"""The embeddable widget: ``/widget``, a small page listing this place's next events and
its equipment, made to be shown in an ``<iframe>`` on the place's own site (SPIP,
WordPress...). No script at all, its own small stylesheet; it is the one page that any
site may frame (``frame-ancestors *``): every other page keeps refusing it.

``/admin/share`` gives the animators the snippet to paste and the addresses of the
place's calendar and feed."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.errors import ApiError
from ..runtime import node_of
from ..services import published
from ..services.published import Published
from .admin_base import admin_page, admin_required
from .render import render
from .urls import base_url, public_urls

#: How many events and equipment items the widget lists, by default and at most.
DEFAULT_ITEMS = 5
MAX_ITEMS = 20
WIDGET_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; "
        "frame-ancestors *; base-uri 'none'"
    ),
    "cache-control": "public, max-age=300",
}


def _count(request: Request, name: str) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return DEFAULT_ITEMS
    if not text.isdigit() or int(text) > MAX_ITEMS:
        raise ApiError(
            400, "bad_request", f"{name} must be an integer from 0 to {MAX_ITEMS}", field=name
        )
    return int(text)


def _as_item(item: Published) -> dict[str, Any]:
    return {**item.payload, "id": item.oid, "origin": item.origin, "kind": item.kind}


async def widget(request: Request) -> Response:
    node = node_of(request)
    events_count, equipment_count = _count(request, "events"), _count(request, "equipment")
    events = (
        await published.upcoming_events(node, node.origin, events_count) if events_count else []
    )
    equipment = await published.equipment_of(node, node.origin, equipment_count)
    place = (await published.places_of(node, [node.origin])).get(node.origin, {})
    response = await render(
        request,
        "widget.html",
        {
            "place": place or {"nom": node.settings.name},
            "events": [_as_item(item) for item in events],
            "equipment": [_as_item(item) for item in equipment] if equipment_count else [],
            "show_events": events_count > 0,
            "show_equipment": equipment_count > 0,
            "base": base_url(request),
            "origin": node.origin,
        },
        headers=WIDGET_HEADERS,
    )
    # Framing is what this page is for: the refusal every other page sends goes.
    del response.headers["x-frame-options"]
    return response


def snippet(widget_url: str, place_name: str) -> str:
    """The HTML to paste in a site's page (an iframe, nothing else)."""
    title = place_name.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (
        f'<iframe src="{widget_url}" title="{title}" width="100%" height="520" '
        'style="border:0;max-width:40rem" loading="lazy"></iframe>'
    )


@admin_required
async def share_page(request: Request) -> Response:
    node = node_of(request)
    base = base_url(request)
    place = (await published.places_of(node, [node.origin])).get(node.origin, {})
    name = str(place.get("nom") or node.settings.name or "")
    return await admin_page(
        request,
        "admin/share.html",
        {
            "snippet": snippet(public_urls(request).absolute("widget"), name),
            "base": base,
            "webcal": "webcal://" + base.split("://", 1)[-1],
        },
    )


def routes() -> list[Route]:
    return [
        Route("/widget", widget, methods=["GET"], name="widget"),
        Route("/admin/share", share_page, methods=["GET"], name="admin.share"),
    ]
