"""The public pages of resources: a fiche (``/o/{origin}/resource/{oid}``: rendered body,
attachments, licence, original and adaptations, versions), the differences between two
of its versions, and its attachments for people (``/blobs/{sha256}``), with a "fetch
now" button for those not arrived yet."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from tortoise.backends.base.client import BaseDBAsyncClient

from ..api.blob_response import blob_response
from ..api.blobs import verified_blob
from ..runtime import node_of
from ..services import resources
from ..services.blob_fetch import fetch_now
from ..services.blobs import attachments_of, fetch_states, held_set, references
from ..services.blobstore import is_sha256
from ..services.licences import licence_of
from . import queries
from .documents import render_document
from .i18n import N_, request_language, translations
from .render import render
from .urls import path_for

MEDIA_LABELS = {
    "application/pdf": N_("PDF document"),
    "image/png": N_("PNG image"),
    "image/jpeg": N_("JPEG image"),
    "image/gif": N_("GIF image"),
    "image/webp": N_("WebP image"),
    "application/vnd.oasis.opendocument.text": N_("OpenDocument text"),
    "application/vnd.oasis.opendocument.spreadsheet": N_("OpenDocument spreadsheet"),
    "application/vnd.oasis.opendocument.presentation": N_("OpenDocument presentation"),
    "application/vnd.oasis.opendocument.graphics": N_("OpenDocument drawing"),
    "text/plain": N_("Text file"),
    "text/markdown": N_("Markdown text"),
    "application/zip": N_("Zip archive"),
}
#: Sizes in units of 1,024 (what file managers show: 20 MiB reads "20 Mo").
_SIZE_UNITS = (
    (1024**3, N_("%(num)s GB")),
    (1024**2, N_("%(num)s MB")),
    (1024, N_("%(num)s kB")),
    (1, N_("%(num)s bytes")),
)


def size_label(size: int, language: str) -> str:
    """``4,2 Mo``: a size in words of the visitor's language."""
    for factor, unit in _SIZE_UNITS:
        if size >= factor or factor == 1:
            number = format_decimal(size / factor, format="#,##0.#", locale=language)
            return translations(language).gettext(unit) % {"num": number}
    raise AssertionError("unreachable")


def duration_label(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


async def not_found(request: Request, message: str = "") -> Response:
    return await render(
        request,
        "error.html",
        {
            "title": N_("Page not found"),
            "message": message
            or N_("This page does not exist, or what it showed has been deleted."),
        },
        status=404,
    )


def blob_href(request: Request, sha256: str, origin: str, oid: str) -> str:
    path = path_for(request, "blob", sha256=sha256)
    return path + "?" + urlencode({"r": f"{origin}/{oid}"})


async def attachment_views(
    request: Request,
    conn: BaseDBAsyncClient,
    item: dict[str, Any],
    origin: str,
    oid: str,
    language: str,
) -> list[dict[str, Any]]:
    """The attachments of a resource as shown: held or not, and the fetch's state."""
    attachments = attachments_of(item)
    shas = [str(a.get("sha256")) for a in attachments]
    held = await held_set(conn, shas)
    fetches = await fetch_states(conn, shas)
    views = []
    for attachment in attachments:
        sha256 = str(attachment.get("sha256"))
        fetch = fetches.get(sha256)
        views.append(
            {
                "name": attachment.get("name", sha256),
                "media_label": MEDIA_LABELS.get(str(attachment.get("media_type")), ""),
                "size": size_label(int(attachment.get("size") or 0), language),
                "sha256": sha256,
                "held": sha256 in held,
                "href": blob_href(request, sha256, origin, oid),
                "state": fetch.state if fetch else "pending",
                "last_error": fetch.last_error if fetch else None,
            }
        )
    return views


async def original_of(
    request: Request, conn: BaseDBAsyncClient, item: dict[str, Any]
) -> dict[str, Any] | None:
    """What ``based_on`` names: link, title and place when we hold it."""
    reference = resources.parse_reference(str(item.get("based_on") or ""))
    if reference is None:
        return None
    origin, oid = reference
    original = await queries.find_object(conn, origin, "resource", oid)
    row = await queries.origin_row(conn, origin)
    return {
        "href": path_for(request, "resource", origin=origin, oid=oid),
        "title": original.get("title") if original else None,
        "place": (row.name if row else None) or "",
        "commune": (row.commune if row else None) or "",
    }


async def resource_page(request: Request) -> Response:
    node = node_of(request)
    origin, oid = request.path_params["origin"], request.path_params["oid"]
    item = await queries.find_object(node.db.connection(), origin, "resource", oid)
    if item is None:
        return await not_found(request)
    language = request_language(request)
    place = await queries.place_of(node.db.connection(), origin) or {}
    licence = licence_of(item.get("licence"))
    return await render(
        request,
        "resource.html",
        {
            "item": item,
            "body": render_document(str(item.get("body") or "")),
            "place": place,
            "origin": origin,
            "origin_row": await queries.origin_row(node.db.connection(), origin),
            "is_self": origin == node.origin,
            "licence": licence,
            "duration": duration_label(int(item["duration_minutes"]))
            if item.get("duration_minutes")
            else "",
            "attachments": await attachment_views(
                request, node.db.connection(), item, origin, oid, language
            ),
            "original": await original_of(request, node.db.connection(), item),
            "adaptations": await resources.adaptations(node.db, origin, oid),
            "versions": list(reversed(await resources.versions(node_of(request).db, origin, oid))),
            "site_url": (node.settings.url or str(request.base_url)).rstrip("/"),
            "adapt_href": path_for(request, "admin.resources.adapt")
            + "?"
            + urlencode({"from": f"{origin}/{oid}"}),
        },
    )


async def differences_page(request: Request) -> Response:
    origin, oid = request.path_params["origin"], request.path_params["oid"]
    item = await queries.find_object(node_of(request).db.connection(), origin, "resource", oid)
    if item is None:
        return await not_found(request)
    shown = [
        v
        for v in await resources.versions(node_of(request).db, origin, oid)
        if v.payload is not None
    ]
    by_seq = {version.seq: version for version in shown}
    try:
        old_seq = int(request.query_params.get("from") or (shown[-2].seq if len(shown) > 1 else 0))
        new_seq = int(request.query_params.get("to") or shown[-1].seq)
    except ValueError:
        return await not_found(request)
    old, new = by_seq.get(old_seq), by_seq.get(new_seq)
    if old is None or new is None:
        return await not_found(
            request, N_("These versions do not exist, or their content has been erased.")
        )
    assert old.payload is not None and new.payload is not None
    return await render(
        request,
        "resource_diff.html",
        {
            "item": item,
            "origin": origin,
            "old": old,
            "new": new,
            "versions": shown,
            "lines": resources.differences(old.payload, new.payload),
        },
    )


async def blob_for_people(request: Request) -> Response:
    node = node_of(request)
    sha256 = request.path_params["sha256"]
    if not is_sha256(sha256):
        return await not_found(request)
    found = await verified_blob(node, sha256)
    if found is None:
        return await not_found(
            request,
            N_(
                "This attachment has not arrived on this node yet. It is fetched from the "
                "other nodes in the background; come back in a moment."
            ),
        )
    blob, path = found
    refs = await references(node.db.connection(), sha256)
    wanted = request.query_params.get("r", "")
    ref = next((r for r in refs if f"{r.origin}/{r.oid}" == wanted), None)
    ref = ref or (refs[0] if refs else None)
    name = str(ref.name) if ref else sha256
    media_type = str(ref.media_type) if ref else blob.media_type
    return blob_response(request, path, blob.size, sha256, media_type=media_type, name=name)


def _local_target(text: str) -> str:
    """A path of this site to go back to (never another site)."""
    if text.startswith("/o/") and "//" not in text and "\\" not in text:
        return quote(text, safe="/:=?&%-_.~")
    return "/"


async def fetch_blob_now(request: Request) -> Response:
    """The "fetch now" button of an attachment not arrived yet. It only brings the next
    attempt forward (at most every few seconds per blob), hence no login."""
    node = node_of(request)
    sha256 = request.path_params["sha256"]
    if is_sha256(sha256) and await fetch_now(node.db, sha256):
        node.wake_blobs()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > 4096:  # the form has one short field: ignore the rest
            break
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    target = _local_target((fields.get("next") or [""])[0])
    return RedirectResponse(target, status_code=303)


def routes() -> list[Route]:
    page = "/o/{origin:str}/resource/{oid:oid}"
    return [
        Route(page, resource_page, methods=["GET"], name="resource"),
        Route(page + "/versions", differences_page, methods=["GET"], name="resource.versions"),
        Route("/blobs/{sha256:str}", blob_for_people, methods=["GET"], name="blob"),
        Route("/blobs/{sha256:str}/fetch", fetch_blob_now, methods=["POST"], name="blob.fetch"),
    ]
