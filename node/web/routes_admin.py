"""``/admin``: log in, then manage this place's profile and offers, and watch the peers.

Every page needs a session (``login_required`` redirects to the login form); every POST
carries the session's CSRF token; every change is one signed entry through
``services.log.publish``, exactly as through the JSON API.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.errors import FederationError, SchemaError

from ..models import User
from ..runtime import Node
from ..services.log import new_oid, publish
from ..services.objects import COLLECTIONS, SERVER_FIELDS
from ..services.peers import add_peer
from . import queries
from .accounts import WINDOW, LoginAttempt, authenticate, is_rate_limited
from .csrf import csrf_ok
from .forms import (
    Field,
    FieldError,
    FormResult,
    form_values,
    merge_payload,
    object_fields,
    parse_form,
    place_fields,
    schema_error,
)
from .i18n import N_
from .render import render
from .sessions import current_user, flash, log_in, log_out, take_flashes

Handler = Callable[[Request], Awaitable[Response]]
#: Bound on the number of fields of a submitted form.
MAX_FORM_FIELDS = 500


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _user(request: Request) -> User:
    user: User = request.state.user
    return user


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            target = "/admin/login?" + urlencode({"next": request.url.path})
            return RedirectResponse(target, status_code=303)
        request.state.user = user
        return await handler(request)

    return guarded


async def admin_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    user: User | None = getattr(request.state, "user", None)
    headers = {"cache-control": "no-store", **(headers or {})}
    return await render(request, template, {
        "user": user,
        "flashes": take_flashes(request),
        **context,
    }, status=status, headers=headers)  # fmt: skip


async def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return await admin_page(
        request, "error.html", {"title": title, "message": message}, status=status
    )


class FormRejected(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


async def read_form(request: Request) -> FormData:
    """The submitted (url-encoded) form, bounded in size, after the CSRF check."""
    limit = _node(request).settings.max_body_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormRejected(415, N_("Form not understood"),
                           N_("This form must be sent by the page it is on."))  # fmt: skip
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise FormRejected(413, N_("Form too large"),
                               N_("What was sent is too large. Shorten the texts and try again."))  # fmt: skip
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRejected(400, N_("Form not understood"),
                           N_("This form must be sent by the page it is on.")) from None  # fmt: skip
    form = FormData(pairs)
    if not csrf_ok(request, form):
        raise FormRejected(403, N_("Form expired"), N_(
            "This form is out of date or did not come from this site. "
            "Go back, reload the page and send it again."
        ))  # fmt: skip
    return form


def with_form(handler: Callable[[Request, FormData], Awaitable[Response]]) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormRejected as exc:
            return await error_page(request, exc.status, exc.title, exc.message)
        return await handler(request, form)

    return wrapped


# -- login ------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and "//" not in target and "\\" not in target:
        return target
    return "/admin"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_form(request: Request) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return await admin_page(request, "admin/login.html", {
        "email": "", "error": None, "next": _safe_next(request.query_params.get("next")),
    })  # fmt: skip


@with_form
async def login(request: Request, form: FormData) -> Response:
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    context: dict[str, Any] = {"email": email, "next": target}
    attempt = LoginAttempt(email, _client(request))
    if await is_rate_limited(attempt):
        minutes = int(WINDOW.total_seconds() // 60)
        context["error"] = FieldError(
            N_("Too many failed attempts. Wait %(minutes)s minutes before trying again."),
            {"minutes": minutes},
        )
        return await admin_page(
            request, "admin/login.html", context, status=429,
            headers={"retry-after": str(int(WINDOW.total_seconds()))},
        )  # fmt: skip
    if not email or not password:
        context["error"] = FieldError(N_("Enter your e-mail address and your password."))
        return await admin_page(request, "admin/login.html", context, status=400)
    user = await authenticate(attempt, password)
    if user is None:
        context["error"] = FieldError(N_("Wrong e-mail address or password."))
        return await admin_page(request, "admin/login.html", context, status=401)
    log_in(request, user)
    flash(request, N_("Welcome, %(email)s."), email=user.email)
    return RedirectResponse(target, status_code=303)


@with_form
async def logout(request: Request, form: FormData) -> Response:
    log_out(request)
    flash(request, N_("You are logged out."))
    return RedirectResponse("/admin/login", status_code=303)


# -- dashboard and place ----------------------------------------------------------------


@login_required
async def dashboard(request: Request) -> Response:
    node = _node(request)
    objects = {
        collection: await queries.own_objects(node.origin, kind)
        for collection, kind in COLLECTIONS.items()
    }
    return await admin_page(request, "admin/dashboard.html", {
        "place": await queries.place_of(node.origin) or {},
        "objects": objects,
        "collections": COLLECTIONS,
        "origin": node.origin,
    })  # fmt: skip


def _stored_payload(item: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (item or {}).items() if k not in SERVER_FIELDS}


async def _publish_form(
    node: Node, kind: str, oid: str, fields: tuple[Field, ...], result: FormResult,
    current: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Publish the merged payload; returns it, or adds the errors to ``result``."""
    payload = merge_payload(fields, current, result.payload)
    if kind == "place" and "endpoints" not in payload:
        if node.settings.url and not node.settings.pull_only:
            payload["endpoints"] = [node.settings.url]
    try:
        await publish(node, kind, oid, "put", payload)
    except SchemaError as exc:
        name, error = schema_error(fields, exc.field, exc.message)
        result.errors[name] = error
    except FederationError as exc:
        result.errors[""] = FieldError(
            N_("The server refused the form: %(detail)s"), {"detail": str(exc)}
        )
    return payload


@login_required
async def place_form(request: Request) -> Response:
    node = _node(request)
    place = _stored_payload(await queries.place_of(node.origin))
    fields = place_fields()
    return await admin_page(request, "admin/place.html", {
        "fields": fields, "values": form_values(fields, place), "errors": {},
    })  # fmt: skip


@login_required
@with_form
async def place_save(request: Request, form: FormData) -> Response:
    node = _node(request)
    fields = place_fields()
    result = parse_form(fields, form)
    if not result.errors:
        current = _stored_payload(await queries.place_of(node.origin))
        await _publish_form(node, "place", "place", fields, result, current)
    if result.errors:
        return await admin_page(request, "admin/place.html", {
            "fields": fields, "values": result.values, "errors": result.errors,
        }, status=400)  # fmt: skip
    flash(request, N_("The place profile is saved and published."))
    return RedirectResponse("/admin", status_code=303)


# -- skills, equipment, events ----------------------------------------------------------


def _kind(request: Request) -> str | None:
    return COLLECTIONS.get(request.path_params["collection"])


async def _not_found(request: Request) -> Response:
    return await error_page(request, 404, N_("Page not found"),
                            N_("This page does not exist, or what it showed has been deleted."))  # fmt: skip


def _object_context(
    collection: str, kind: str, values: dict[str, Any], errors: dict[str, FieldError],
    oid: str | None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "collection": collection,
        "kind": kind,
        "fields": object_fields(kind),
        "values": values,
        "errors": errors,
        "oid": oid,
        "action": f"/admin/{collection}/{oid}" if oid else f"/admin/{collection}/new",
    }


@login_required
async def object_form(request: Request) -> Response:
    kind = _kind(request)
    if kind is None:
        return await _not_found(request)
    collection = request.path_params["collection"]
    oid = request.path_params.get("oid")
    current: dict[str, Any] = {}
    if oid is not None:
        item = await queries.find_object(_node(request).origin, kind, oid)
        if item is None:
            return await _not_found(request)
        current = _stored_payload(item)
    values = form_values(object_fields(kind), current)
    return await admin_page(
        request, "admin/object_form.html", _object_context(collection, kind, values, {}, oid)
    )


@login_required
@with_form
async def object_save(request: Request, form: FormData) -> Response:
    node = _node(request)
    kind = _kind(request)
    if kind is None:
        return await _not_found(request)
    collection = request.path_params["collection"]
    oid = request.path_params.get("oid")
    current: dict[str, Any] = {}
    if oid is not None:
        item = await queries.find_object(node.origin, kind, oid)
        if item is None:
            return await _not_found(request)
        current = _stored_payload(item)
    fields = object_fields(kind)
    result = parse_form(fields, form)
    if not result.errors:
        await _publish_form(node, kind, oid or new_oid(), fields, result, current)
    if result.errors:
        context = _object_context(collection, kind, result.values, result.errors, oid)
        return await admin_page(request, "admin/object_form.html", context, status=400)
    message = N_("“%(title)s” is published.") if oid is None else N_("“%(title)s” is saved.")
    flash(request, message, title=result.payload.get("title", ""))
    return RedirectResponse(f"/admin#{collection}", status_code=303)


@login_required
async def delete_form(request: Request) -> Response:
    kind = _kind(request)
    oid = request.path_params["oid"]
    item = await queries.find_object(_node(request).origin, kind, oid) if kind else None
    if kind is None or item is None:
        return await _not_found(request)
    return await admin_page(request, "admin/delete.html", {
        "item": item, "collection": request.path_params["collection"], "kind": kind,
    })  # fmt: skip


@login_required
@with_form
async def delete(request: Request, form: FormData) -> Response:
    node = _node(request)
    kind = _kind(request)
    oid = request.path_params["oid"]
    item = await queries.find_object(node.origin, kind, oid) if kind else None
    if kind is None or item is None:
        return await _not_found(request)
    await publish(node, kind, oid, "delete", None)
    flash(request, N_("“%(title)s” is deleted, on this node and soon on its peers."),
          title=item.get("title", ""))  # fmt: skip
    return RedirectResponse(f"/admin#{request.path_params['collection']}", status_code=303)


# -- peers ------------------------------------------------------------------------------


async def _peers_page(
    request: Request, peer_url: str = "", error: FieldError | None = None, status: int = 200
) -> Response:
    node = _node(request)
    return await admin_page(request, "admin/peers.html", {
        "peers": await queries.peers(),
        "places": await queries.directory(node.origin),
        "peer_url": peer_url,
        "error": error,
    }, status=status)  # fmt: skip


@login_required
async def peers_page(request: Request) -> Response:
    return await _peers_page(request)


@login_required
@with_form
async def peer_add(request: Request, form: FormData) -> Response:
    url = str(form.get("url") or "").strip()
    try:
        peer = await add_peer(url)
    except ValueError:
        error = FieldError(N_("Give the base address of a node, for example https://papi.exemple.fr."))
        return await _peers_page(request, url, error, status=400)
    flash(request, N_("Peer %(url)s added; it will be contacted at the next sync."), url=peer.url)
    return RedirectResponse("/admin/peers", status_code=303)


def routes() -> list[Route]:
    item = "/admin/{collection:str}/{oid:str}"
    return [
        Route("/admin", dashboard, methods=["GET"]),
        Route("/admin/login", login_form, methods=["GET"]),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        Route("/admin/place", place_form, methods=["GET"]),
        Route("/admin/place", place_save, methods=["POST"]),
        Route("/admin/peers", peers_page, methods=["GET"]),
        Route("/admin/peers", peer_add, methods=["POST"]),
        Route("/admin/{collection:str}/new", object_form, methods=["GET"]),
        Route("/admin/{collection:str}/new", object_save, methods=["POST"]),
        Route(item, object_form, methods=["GET"]),
        Route(item, object_save, methods=["POST"]),
        Route(item + "/delete", delete_form, methods=["GET"]),
        Route(item + "/delete", delete, methods=["POST"]),
    ]
