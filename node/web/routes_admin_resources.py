"""``/admin/resources``: the editor of this place's fiches (Markdown with a preview that
needs no script, attachments uploaded with the form, a licence from a short list), and
"adapt this fiche" (an own copy of another place's resource, ``based_on`` set).

The editor's form is multipart (it carries files): it is read here, bounded in size,
CSRF-checked. Deleting a resource goes through the generic admin routes."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.errors import FederationError, SchemaError

from ..convertors import register_convertors
from ..runtime import Node, node_of
from ..services import resources
from ..services.blobs import summary
from ..services.licences import licence_of
from ..services.log import LogRecovering, new_oid, publish
from ..services.objects import SERVER_FIELDS
from . import queries
from .admin_base import (
    TEXT_ROOM_BYTES,
    FormRejected,
    admin_page,
    error_page,
    login_required,
    read_multipart,
    with_form,
)
from .documents import render_document
from .fields import Field, FieldError
from .forms import form_values, merge_payload, parse_form, schema_error
from .i18n import N_, request_language
from .resource_form import MAX_FILES, read_attachments, resource_fields
from .routes_resources import MEDIA_LABELS, size_label
from .sessions import flash
from .urls import path_for


async def _not_found(request: Request) -> Response:
    return await error_page(
        request,
        404,
        N_("Page not found"),
        N_("This page does not exist, or what it showed has been deleted."),
    )


async def _current(request: Request) -> dict[str, Any] | None:
    """The payload of the resource edited ({} for a new one), None if it does not exist."""
    oid = request.path_params.get("oid")
    if oid is None:
        return {}
    item = await queries.find_object(
        node_of(request).db.connection(), node_of(request).origin, "resource", oid
    )
    return None if item is None else {k: v for k, v in item.items() if k not in SERVER_FIELDS}


def _attachment_rows(items: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    return [
        {
            **item,
            "size_label": size_label(int(item["size"]), language),
            "media_label": MEDIA_LABELS.get(item["media_type"], ""),
        }
        for item in items
    ]


async def _editor(
    request: Request,
    fields: tuple[Field, ...],
    values: dict[str, Any],
    attachments: list[dict[str, Any]],
    errors: dict[str, FieldError],
    *,
    preview: bool = False,
    file_errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    oid = request.path_params.get("oid")
    node = node_of(request)
    return await admin_page(
        request,
        "admin/resource_form.html",
        {
            "fields": fields,
            "values": values,
            "errors": errors,
            "file_errors": file_errors or [],
            "attachments": _attachment_rows(attachments, request_language(request)),
            "oid": oid,
            "action": path_for(request, "admin.resources.edit", oid=oid)
            if oid
            else path_for(request, "admin.resources.new"),
            "preview": render_document(str(values.get("body") or "")) if preview else None,
            "max_size": size_label(node.settings.blob_max_bytes, request_language(request)),
            "max_files": MAX_FILES,
        },
        status=status,
    )


@login_required
async def editor_form(request: Request) -> Response:
    current = await _current(request)
    if current is None:
        return await _not_found(request)
    values = {"licence": "CC-BY-SA-4.0", **current}
    fields = resource_fields(values.get("licence"))
    return await _editor(
        request, fields, form_values(fields, values), list(current.get("attachments") or []), {}
    )


async def _read_multipart(request: Request) -> FormData:
    """The editor's form: multipart, of a declared length within bounds, CSRF-checked."""
    return await read_multipart(request, max_files=MAX_FILES, max_part_bytes=TEXT_ROOM_BYTES)


@login_required
async def editor_save(request: Request) -> Response:
    node = node_of(request)
    current = await _current(request)
    if current is None:
        return await _not_found(request)
    try:
        form = await _read_multipart(request)
    except FormRejected as exc:
        return await error_page(request, exc.status, exc.title, exc.message)
    try:
        fields = resource_fields(str(form.get("licence") or current.get("licence") or ""))
        result = parse_form(fields, form)
        attachments = await read_attachments(node, form)
    finally:
        await form.close()
    if form.get("action") == "preview" or attachments.errors:
        status = 400 if result.errors or attachments.errors else 200
        return await _editor(
            request,
            fields,
            result.values,
            attachments.items,
            result.errors,
            preview=True,
            file_errors=attachments.errors,
            status=status,
        )
    payload = merge_payload(fields, current, result.payload)
    payload.pop("attachments", None)
    if attachments.items:
        payload["attachments"] = attachments.items
    oid = request.path_params.get("oid") or new_oid()
    if not result.errors:
        await _publish(node, oid, fields, payload, result.errors)
    if result.errors:
        return await _editor(
            request, fields, result.values, attachments.items, result.errors, status=400
        )
    message = (
        N_("“%(title)s” is saved.")
        if "oid" in request.path_params
        else N_("“%(title)s” is published.")
    )
    flash(request, message, title=payload.get("title", ""))
    return RedirectResponse("/admin#resources", status_code=303)


async def _publish(
    node: Node,
    oid: str,
    fields: tuple[Field, ...],
    payload: dict[str, Any],
    errors: dict[str, FieldError],
) -> None:
    try:
        await publish(node, "resource", oid, "put", payload)
    except SchemaError as exc:
        name, error = schema_error(fields, exc)
        errors[name] = error
    except LogRecovering:
        errors[""] = FieldError(
            N_(
                "This node is recovering its own publications from its peers: add a peer "
                "in the Peers page and wait for the synchronisation, then try again."
            )
        )
    except FederationError as exc:
        errors[""] = FieldError(N_("The server refused the form: %(detail)s"), {"detail": str(exc)})


async def attachments_panel(request: Request) -> dict[str, Any]:
    """What the dashboard says of attachments: space used, fetches waiting or stopped."""
    node = node_of(request)
    language = request_language(request)
    counts = await summary(node.db.connection(), node.settings.blob_quota_bytes)
    return {
        **counts,
        "used_label": size_label(counts["used"], language),
        "quota_label": size_label(counts["quota"], language),
    }


# -- adapt ------------------------------------------------------------------------------


async def _original(request: Request, reference: str) -> tuple[str, str, dict[str, Any]] | None:
    parsed = resources.parse_reference(reference)
    if parsed is None:
        return None
    item = await queries.find_object(
        node_of(request).db.connection(), parsed[0], "resource", parsed[1]
    )
    return None if item is None else (parsed[0], parsed[1], item)


@login_required
async def adapt_form(request: Request) -> Response:
    found = await _original(request, request.query_params.get("from", ""))
    if found is None:
        return await _not_found(request)
    origin, oid, item = found
    return await admin_page(
        request,
        "admin/resource_adapt.html",
        {
            "item": item,
            "reference": f"{origin}/{oid}",
            "original_href": path_for(request, "resource", origin=origin, oid=oid),
            "place": await queries.place_of(node_of(request).db.connection(), origin) or {},
            "licence": licence_of(item.get("licence")),
        },
    )


@login_required
@with_form
async def adapt(request: Request, form: FormData) -> Response:
    node = node_of(request)
    found = await _original(request, str(form.get("from") or ""))
    if found is None:
        return await _not_found(request)
    origin, oid, item = found
    try:
        own = await resources.adapt(node, origin, oid)
    except resources.AdaptationRefused:
        return await error_page(
            request,
            409,
            N_("This resource cannot be adapted"),
            N_("Its licence forbids modifications: it can be shared as it is, not adapted."),
        )
    except LogRecovering:
        return await error_page(
            request,
            409,
            N_("This resource cannot be adapted"),
            N_(
                "This node is recovering its own publications from its peers: add a peer "
                "in the Peers page and wait for the synchronisation, then try again."
            ),
        )
    flash(
        request,
        N_("Your copy of “%(title)s” is created: adapt it, then save."),
        title=item["title"],
    )
    return RedirectResponse(path_for(request, "admin.resources.edit", oid=own), status_code=303)


def routes() -> list[Route]:
    register_convertors()
    return [
        Route("/admin/resources/new", editor_form, methods=["GET"], name="admin.resources.new"),
        Route("/admin/resources/new", editor_save, methods=["POST"], name="admin.resources.new"),
        Route("/admin/resources/adapt", adapt_form, methods=["GET"], name="admin.resources.adapt"),
        Route("/admin/resources/adapt", adapt, methods=["POST"], name="admin.resources.adapt"),
        Route(
            "/admin/resources/{oid:admin_oid}",
            editor_form,
            methods=["GET"],
            name="admin.resources.edit",
        ),
        Route(
            "/admin/resources/{oid:admin_oid}",
            editor_save,
            methods=["POST"],
            name="admin.resources.edit",
        ),
    ]
