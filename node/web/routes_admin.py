"""``/admin``: manage this place's profile and offers, and watch the peers.

Every page needs a session (``login_required`` redirects to the login form); every POST
carries the session's CSRF token; every change is one signed entry through
``services.log.publish``, exactly as through the JSON API.
"""

from __future__ import annotations

import asyncio
from math import ceil
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.errors import FederationError, SchemaError

from ..convertors import register_convertors
from ..runtime import Node, node_of
from ..services.blobs import photos_of
from ..services.bootstrap import writes_waiting
from ..services.export import place_problems
from ..services.log import LogRecovering, new_oid, publish
from ..services.objects import COLLECTIONS, beyond_utc
from ..services.peers import add_peer
from . import queries
from .admin_base import admin_page, admin_required, error_page, login_required, with_form
from .fields import Field, FieldError, FormResult, object_fields, place_fields
from .forms import form_values, merge_payload, parse_form, schema_error
from .hours_form import DAYS, read_hours
from .i18n import N_, request_language
from .maps import map_context, map_headers
from .photo_form import Photos, read_photos
from .place_form import apply_commune, hours_context, load_choices, typology_groups
from .routes_admin_resources import attachments_panel
from .routes_public import page_links, page_number
from .sessions import flash
from .status import node_status
from .urls import path_for

# -- dashboard and place ----------------------------------------------------------------


@login_required
async def dashboard(request: Request) -> Response:
    node = node_of(request)
    objects = {
        collection: await queries.own_objects(node.db.connection(), node.origin, kind)
        for collection, kind in COLLECTIONS.items()
    }
    place = await queries.stored_payload(node.db.connection(), node.origin, "place", "place") or {}
    return await admin_page(
        request,
        "admin/dashboard.html",
        {
            "place": await queries.place_of(node.db.connection(), node.origin) or {},
            "open_data_problems": place_problems(node.origin, place),
            "objects": objects,
            "collections": COLLECTIONS,
            "origin": node.origin,
            "writes_waiting": await writes_waiting(node),
            "attachments": await attachments_panel(request),
            # Problems that stop the node's work are announced here too (/admin/status).
            "status_errors": (await node_status(node, request_language(request))).errors,
        },
    )


async def _publish_form(
    node: Node,
    kind: str,
    oid: str,
    fields: tuple[Field, ...],
    result: FormResult,
    current: dict[str, Any],
    photos: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Publish the merged payload (with ``photos`` when the form has them); returns it,
    or adds the errors to ``result``."""
    payload = merge_payload(fields, current, result.payload)
    if photos is not None:
        payload.pop("photos", None)
        if photos:
            payload["photos"] = photos
    advertised = node.settings.advertised_url
    if kind == "place" and "endpoints" not in payload and advertised:
        payload["endpoints"] = [advertised]
    try:
        await publish(node, kind, oid, "put", payload)
    except SchemaError as exc:
        name, error = schema_error(fields, exc)
        result.errors[name] = error
    except OverflowError:
        # A date typed near year 9999 (or 1): beyond the calendar once in UTC.
        name = beyond_utc(payload) or ""
        result.errors[name] = FieldError(N_("This date is out of the range this site can show."))
    except LogRecovering:
        result.errors[""] = FieldError(
            N_(
                "This node is recovering its own publications from its peers: add a peer "
                "in the Peers page and wait for the synchronisation, then try again."
            )
        )
    except FederationError as exc:
        result.errors[""] = FieldError(
            N_("The server refused the form: %(detail)s"), {"detail": str(exc)}
        )
    return payload


async def _place_page(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, FieldError],
    stored: dict[str, Any],
    hours: dict[str, Any],
    status: int = 200,
    photos: list[dict[str, Any]] | None = None,
    photo_errors: dict[str, FieldError] | None = None,
    new_photo_alt: str = "",
) -> Response:
    node = node_of(request)
    fields = place_fields()
    typologie = next(spec for spec in fields if spec.name == "typologie")
    return await admin_page(
        request,
        "admin/place.html",
        {
            "fields": fields,
            "values": values,
            "errors": errors,
            "open_data_problems": [] if errors else place_problems(node.origin, stored),
            "commune_choices": await load_choices(stored, node.settings.commune),
            "typologies": typology_groups(typologie, values.get("typologie") or []),
            "days": DAYS,
            "photos": photos if photos is not None else photos_of(stored),
            "photo_errors": photo_errors or {},
            "new_photo_alt": new_photo_alt,
            **hours,
            **map_context(node.settings),
        },
        status=status,
        headers=map_headers(node.settings),
    )


@admin_required
async def place_form(request: Request) -> Response:
    node = node_of(request)
    place = await queries.stored_payload(node.db.connection(), node.origin, "place", "place") or {}
    text = place.get("horaires") if isinstance(place.get("horaires"), str) else ""
    hours = hours_context(text or "", request_language(request))
    return await _place_page(request, form_values(place_fields(), place), {}, place, hours)


@admin_required
@with_form
async def place_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    fields = place_fields()
    result = parse_form(fields, form)
    current = (
        await queries.stored_payload(node.db.connection(), node.origin, "place", "place") or {}
    )
    hours = read_hours(form)
    result.errors.update(hours.errors)
    if hours.text:
        result.payload["horaires"] = hours.text
    else:
        result.payload.pop("horaires", None)
    result.values["horaires"] = hours.text
    if "commune" not in result.errors:
        await asyncio.to_thread(apply_commune, result, current)
    photos = await read_photos(node, form, current)
    if not result.errors and not photos.errors:
        await _publish_form(node, "place", "place", fields, result, current, photos.items)
    if result.errors or photos.errors:
        shown = {
            "hours_values": hours.values,
            "hours_in_grid": True,
            "hours_words": None,
            "hours_shown": str(form.get("horaires_shown") or ""),
        }
        return await _place_page(
            request,
            result.values,
            result.errors,
            current,
            shown,
            400,
            photos.items,
            photos.errors,
            photos.new_alt,
        )
    flash(request, N_("The place profile is saved and published."))
    return RedirectResponse(path_for(request, "admin"), status_code=303)


# -- skills, equipment, events ----------------------------------------------------------

#: Kinds whose form carries photos.
PHOTO_KINDS = frozenset({"equipment"})


def _kind(request: Request) -> str | None:
    return COLLECTIONS.get(request.path_params["collection"])


async def _not_found(request: Request) -> Response:
    return await error_page(
        request,
        404,
        N_("Page not found"),
        N_("This page does not exist, or what it showed has been deleted."),
    )


def _object_context(
    request: Request,
    collection: str,
    kind: str,
    values: dict[str, Any],
    errors: dict[str, FieldError],
    oid: str | None,
    photos: Photos | None = None,
) -> dict[str, Any]:
    return {
        "photos": photos.items if photos else [],
        "photo_errors": photos.errors if photos else {},
        "new_photo_alt": photos.new_alt if photos else "",
        "collection": collection,
        "kind": kind,
        "fields": object_fields(kind),
        "values": values,
        "errors": errors,
        "oid": oid,
        "action": (
            path_for(request, "admin.edit", collection=collection, oid=oid)
            if oid
            else path_for(request, "admin.new", collection=collection)
        ),
    }


async def _editing(request: Request) -> tuple[str, dict[str, Any]] | None:
    """The kind and current payload of the object a form edits ({} for a new one), or
    None when the collection or the object does not exist."""
    kind = _kind(request)
    if kind is None:
        return None
    oid = request.path_params.get("oid")
    if oid is None:
        return kind, {}
    current = await queries.stored_payload(
        node_of(request).db.connection(), node_of(request).origin, kind, oid
    )
    return None if current is None else (kind, current)


@login_required
async def object_form(request: Request) -> Response:
    editing = await _editing(request)
    if editing is None:
        return await _not_found(request)
    kind, current = editing
    collection = request.path_params["collection"]
    oid = request.path_params.get("oid")
    values = form_values(object_fields(kind), current)
    photos = Photos(items=photos_of(current))
    return await admin_page(
        request,
        "admin/object_form.html",
        _object_context(request, collection, kind, values, {}, oid, photos),
    )


@login_required
@with_form
async def object_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    editing = await _editing(request)
    if editing is None:
        return await _not_found(request)
    kind, current = editing
    collection = request.path_params["collection"]
    oid = request.path_params.get("oid")
    fields = object_fields(kind)
    result = parse_form(fields, form)
    photos = await read_photos(node, form, current) if kind in PHOTO_KINDS else None
    if not result.errors and not (photos and photos.errors):
        await _publish_form(
            node, kind, oid or new_oid(), fields, result, current, photos.items if photos else None
        )
    if result.errors or (photos and photos.errors):
        context = _object_context(
            request, collection, kind, result.values, result.errors, oid, photos
        )
        return await admin_page(request, "admin/object_form.html", context, status=400)
    message = N_("“%(title)s” is published.") if oid is None else N_("“%(title)s” is saved.")
    flash(request, message, title=result.payload.get("title", ""))
    return RedirectResponse(f"{path_for(request, 'admin')}#{collection}", status_code=303)


@login_required
async def delete_form(request: Request) -> Response:
    kind = _kind(request)
    oid = request.path_params["oid"]
    item = (
        await queries.find_object(
            node_of(request).db.connection(), node_of(request).origin, kind, oid
        )
        if kind
        else None
    )
    if kind is None or item is None:
        return await _not_found(request)
    return await admin_page(
        request,
        "admin/delete.html",
        {
            "item": item,
            "collection": request.path_params["collection"],
            "kind": kind,
        },
    )


@login_required
@with_form
async def delete(request: Request, form: FormData) -> Response:
    node = node_of(request)
    kind = _kind(request)
    oid = request.path_params["oid"]
    item = await queries.find_object(node.db.connection(), node.origin, kind, oid) if kind else None
    if kind is None or item is None:
        return await _not_found(request)
    await publish(node, kind, oid, "delete", None)
    flash(
        request,
        N_("“%(title)s” is deleted, on this node and soon on its peers."),
        title=item.get("title", ""),
    )
    target = f"{path_for(request, 'admin')}#{request.path_params['collection']}"
    return RedirectResponse(target, status_code=303)


# -- peers ------------------------------------------------------------------------------


async def _peers_page(
    request: Request, peer_url: str = "", error: FieldError | None = None, status: int = 200
) -> Response:
    """Peers and places, a page of each (the same ``page`` walks both lists)."""
    node = node_of(request)
    page = page_number(request)
    peers, peers_total = await queries.peers(node.db.connection(), page)
    places = await queries.directory_page(node.db, node.origin, page)
    pages = max(1, ceil(max(peers_total, places.total) / places.limit))
    return await admin_page(
        request,
        "admin/peers.html",
        {
            "peers": peers,
            "peers_total": peers_total,
            "places": places.items,
            "places_total": places.total,
            "page": page,
            "pages": pages,
            **page_links(request, page, pages),
            "peer_url": peer_url,
            "error": error,
        },
        status=status,
    )


@admin_required
async def peers_page(request: Request) -> Response:
    return await _peers_page(request)


@admin_required
@with_form
async def peer_add(request: Request, form: FormData) -> Response:
    url = str(form.get("url") or "").strip()
    try:
        peer = await add_peer(url, conn=node_of(request).db.connection())
    except ValueError:
        error = FieldError(
            N_("Give the base address of a node, for example https://papi.exemple.fr.")
        )
        return await _peers_page(request, url, error, status=400)
    flash(request, N_("Peer %(url)s added; it will be contacted at the next sync."), url=peer.url)
    return RedirectResponse(path_for(request, "admin.peers"), status_code=303)


def routes() -> list[Route]:
    register_convertors()
    new = "/admin/{collection:admin_collection}/new"
    item = "/admin/{collection:admin_collection}/{oid:admin_oid}"
    return [
        Route("/admin", dashboard, methods=["GET"], name="admin"),
        Route("/admin/place", place_form, methods=["GET"], name="admin.place"),
        Route("/admin/place", place_save, methods=["POST"], name="admin.place"),
        Route("/admin/peers", peers_page, methods=["GET"], name="admin.peers"),
        Route("/admin/peers", peer_add, methods=["POST"], name="admin.peers"),
        Route(new, object_form, methods=["GET"], name="admin.new"),
        Route(new, object_save, methods=["POST"], name="admin.new"),
        Route(item, object_form, methods=["GET"], name="admin.edit"),
        Route(item, object_save, methods=["POST"], name="admin.edit"),
        Route(item + "/delete", delete_form, methods=["GET"], name="admin.delete"),
        Route(item + "/delete", delete, methods=["POST"], name="admin.delete"),
    ]
