"""The public pages: this place (``/``), network search, the directory of places and one
page per object. Read-only, no login, no cookie needed."""

from __future__ import annotations

from math import ceil
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.cooperation import Ref

from ..api.errors import ApiError
from ..api.network import search_query
from ..api.params import parse_int
from ..convertors import register_convertors
from ..cooperation import loans
from ..cooperation.registrations import add_seats_left, is_recurring
from ..cooperation.session import place_today
from ..runtime import node_of
from ..services.licences import LICENCES
from ..services.objects import OFFER_KINDS
from ..services.search import (
    MARK_START,
    MAX_COUNT,
    MAX_QUERY_LENGTH,
    day_bound,
    facets,
    search,
)
from . import queries
from .display import shown
from .fields import FieldError
from .i18n import LANGUAGE_COOKIE, LANGUAGES, N_
from .maps import map_context, map_headers
from .render import render
from .routes_listings import directory_listings
from .routes_places import card_context
from .sessions import current_user
from .urls import path_for

PAGE_SIZE = 20
SEARCH_KINDS = OFFER_KINDS
#: Pages of results beyond this are not offered (searches count up to MAX_COUNT anyway).
MAX_PAGE = 10_000
_BAD_DATE = N_("Enter a date, for example 05/12/2026.")


def page_number(request: Request) -> int:
    """The ``page`` query parameter (from 1); the first page when it is not a page number."""
    return parse_int(request.query_params.get("page"), 1, MAX_PAGE) or 1


def page_links(request: Request, page: int, pages: int) -> dict[str, str]:
    """Links to the previous and next pages of the same listing ("" when there is none)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def url(number: int) -> str:
        return request.url.path + "?" + urlencode([*params, ("page", str(number))])

    return {
        "previous_url": url(page - 1) if page > 1 else "",
        "next_url": url(page + 1) if page < pages else "",
    }


async def not_found(request: Request) -> Response:
    return await render(
        request,
        "error.html",
        {
            "title": N_("Page not found"),
            "message": N_("This page does not exist, or what it showed has been deleted."),
        },
        status=404,
    )


async def home(request: Request) -> Response:
    node = node_of(request)
    place = await queries.place_of(node.db.connection(), node.origin)
    offers = await queries.offers_of(node.db.connection(), node.origin)
    place = place or {"nom": node.settings.name}
    return await render(
        request,
        "home.html",
        {
            "place": place,
            "offers": offers,
            "origin": node.origin,
            "contact": contact_links(place, ""),
        },
    )


# -- search -----------------------------------------------------------------------------


def _search_form(request: Request) -> tuple[dict[str, str], dict[str, FieldError], int]:
    params = request.query_params
    form = {
        name: (params.get(name) or "").strip()
        for name in ("q", "kind", "commune", "theme", "licence", "from", "to", "past")
    }
    errors: dict[str, FieldError] = {}
    if len(form["q"]) > MAX_QUERY_LENGTH:
        errors["q"] = FieldError(N_("At most %(count)s characters."), {"count": MAX_QUERY_LENGTH})
    if form["kind"] and form["kind"] not in SEARCH_KINDS:
        errors["kind"] = FieldError(N_("Choose a value from the list."))
    if form["licence"] and form["licence"] not in {licence.spdx for licence in LICENCES}:
        errors["licence"] = FieldError(N_("Choose a value from the list."))
    for name in ("from", "to"):
        if form[name] and day_bound(form[name], name == "to") is None:
            errors[name] = FieldError(_BAD_DATE)
    return form, errors, page_number(request)


async def search_page(request: Request) -> Response:
    form, errors, page = _search_form(request)
    results: list[dict[str, Any]] = []
    total = 0
    suggestion = None
    searched = any(
        form[name] for name in ("q", "kind", "commune", "theme", "licence", "from", "to")
    )
    if not errors:
        api_params = {
            "q": form["q"],
            "kind": form["kind"],
            "commune": form["commune"],
            "theme": form["theme"],
            "licence": form["licence"],
            "from": day_bound(form["from"], False) if form["from"] else "",
            "to": day_bound(form["to"], True) if form["to"] else "",
            "past": "1" if form["past"] else "",
            "limit": str(PAGE_SIZE),
            "offset": str((page - 1) * PAGE_SIZE),
        }
        try:
            answer = await search(
                node_of(request).db.connection(), search_query(api_params), snippets=True
            )
            results = [shown(result["kind"], result) for result in answer.results]
            total, suggestion = answer.total, answer.suggestion
            for result in results:
                # Words found in the title only: the description's first words say more.
                if MARK_START not in result["snippet"]:
                    result["snippet"] = ""
                if MARK_START not in result.get("title_marked", ""):
                    result.pop("title_marked", None)
        except ApiError as exc:
            # A date the form accepted but the calendar cannot hold once in UTC.
            name = str(exc.extra.get("field") or "q")
            errors[name] = (
                FieldError(_BAD_DATE)
                if name in ("from", "to")
                else FieldError(
                    N_("This value is not accepted: %(detail)s"), {"detail": exc.message}
                )
            )
    total_capped = total > MAX_COUNT
    total = min(total, MAX_COUNT)
    pages = max(1, ceil(total / PAGE_SIZE))
    base = {k: v for k, v in form.items() if v}

    def page_url(number: int) -> str:
        return path_for(request, "search") + "?" + urlencode({**base, "page": str(number)})

    return await render(
        request,
        "search.html",
        {
            "form": form,
            "errors": errors,
            "results": results,
            "total": total,
            "total_capped": total_capped,
            "searched": searched,
            "page": page,
            "pages": pages,
            "suggestion": suggestion,
            "suggestion_url": (
                path_for(request, "search") + "?" + urlencode({**base, "q": suggestion})
                if suggestion
                else ""
            ),
            "previous_url": page_url(page - 1) if page > 1 else "",
            "next_url": page_url(page + 1) if page < pages else "",
            "facets": await facets(node_of(request).db.connection()),
            "kinds": SEARCH_KINDS,
            "licences": LICENCES,
            "filters_open": any(
                form[n] for n in ("kind", "commune", "theme", "licence", "from", "to", "past")
            ),
        },
        status=400 if errors else 200,
    )


# -- directory and object pages ---------------------------------------------------------


async def nodes_page(request: Request) -> Response:
    node = node_of(request)
    page = page_number(request)
    places = await queries.directory_page(node.db, node.origin, page, shown_only=True)
    pages = max(1, ceil(places.total / places.limit))
    return await render(
        request,
        "nodes.html",
        {
            "places": places.items,
            "total": places.total,
            "page": page,
            "pages": pages,
            **page_links(request, page, pages),
            **await directory_listings(node.db),
            **map_context(node.settings),
        },
        headers=map_headers(node.settings),
    )


def contact_links(place: dict[str, Any], subject: str) -> dict[str, list[dict[str, str]]]:
    """How to reach a place: mailto (with a subject), tel and web links."""
    emails = [
        {"label": address, "href": f"mailto:{quote(address, safe='@')}?subject={quote(subject)}"}
        for address in place.get("courriels") or []
    ]
    phone = place.get("telephone")
    phones = (
        [{"label": _phone_label(phone), "href": f"tel:{quote(phone, safe='+')}"}] if phone else []
    )
    sites = [
        {"label": url, "href": url}
        for url in place.get("site_web") or []
        if url.startswith(("https://", "http://"))
    ]
    return {"emails": emails, "phones": phones, "sites": sites}


def _phone_label(phone: str) -> str:
    if phone.startswith("+33") and len(phone) == 12:
        digits = "0" + phone[3:]
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    return phone


async def object_page(request: Request) -> Response:
    node = node_of(request)
    origin = request.path_params["origin"]
    kind = request.path_params["kind"]
    oid = request.path_params["oid"]
    place = await queries.place_of(node_of(request).db.connection(), origin)
    origin_row = await queries.origin_row(node_of(request).db.connection(), origin)
    if kind == "place":
        if place is None or oid != "place":
            return await not_found(request)
        return await render(
            request,
            "place.html",
            {
                "place": place,
                "offers": await queries.offers_of(node_of(request).db.connection(), origin),
                "origin": origin,
                "origin_row": origin_row,
                "is_self": origin == node.origin,
                "contact": contact_links(place, ""),
                **await card_context(request, origin, place),
            },
            headers=map_headers(node.settings),
        )
    item = await queries.find_object(node_of(request).db.connection(), origin, kind, oid)
    if item is None:
        return await not_found(request)
    context = {
        "item": item,
        "place": place or {},
        "origin": origin,
        "origin_row": origin_row,
        "is_self": origin == node.origin,
        "contact": contact_links(place or {}, item.get("title", "")),
    }
    headers: dict[str, str] = {}
    if kind == "equipment":
        context.update(await lending_context(request, origin, oid))
        if context["user"] is not None:  # the page holds a form of this session
            headers["cache-control"] = "no-store"
    if kind == "event":
        context.update(await registration_context(request, item))
        if context["user"] is not None:  # the page holds a form of this session
            headers["cache-control"] = "no-store"
    return await render(request, "object.html", context, headers=headers)


async def registration_context(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    """An event's seats left (``item["seats_left"]``) and, for an animator of this node
    logged in, the form that registers participants (on this node: the registrant's)."""
    await add_seats_left([item], node_of(request).db.connection())
    return {
        "user": await current_user(request),
        "event_ref": f"{item.get('origin')}/{item.get('id')}",
        "recurring": is_recurring(item),
        "values": {"seats": "1"},
        "errors": {},
    }


async def lending_context(request: Request, origin: str, oid: str) -> dict[str, Any]:
    """An equipment item's availability (its owner's bookings known here) and, for an
    animator of this node logged in, the form that asks for a loan (on this node: the
    borrower's)."""
    async with node_of(request).db.transaction() as conn:
        busy = await loans.bookings_of(conn, Ref(origin, oid))
    today = place_today()
    return {
        "busy": [period for period in busy if period.end >= today],
        "user": await current_user(request),
        "item_ref": f"{origin}/{oid}",
        "values": {"quantity": "1"},
        "errors": {},
    }


async def choose_language(request: Request) -> Response:
    language = request.path_params["language"]
    home = path_for(request, "home")
    target = request.query_params.get("next") or home
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = home
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def routes() -> list[Route]:
    register_convertors()
    return [
        Route("/", home, methods=["GET"], name="home"),
        Route("/search", search_page, methods=["GET"], name="search"),
        Route("/nodes", nodes_page, methods=["GET"], name="nodes"),
        Route(
            "/o/{origin:str}/{kind:object_kind}/{oid:oid}",
            object_page,
            methods=["GET"],
            name="object",
        ),
        Route("/lang/{language:str}", choose_language, methods=["GET"], name="language"),
    ]
