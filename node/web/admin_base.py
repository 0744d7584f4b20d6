"""What every admin page shares: the login check, the page renderer (no caching, flash
messages), and reading a POSTed form (url-encoded, bounded in size, CSRF-checked)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..runtime import node_of
from ..store.accounts import UserRow
from .csrf import csrf_ok
from .i18n import N_
from .render import render
from .sessions import current_user, take_flashes
from .urls import path_for

Handler = Callable[[Request], Awaitable[Response]]
#: Bound on the number of fields of a submitted form.
MAX_FORM_FIELDS = 500


def login_required(handler: Handler) -> Handler:
    """Any account (administrator or animator); without a session, the login form."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            target = path_for(request, "admin.login") + "?" + urlencode({"next": request.url.path})
            return RedirectResponse(target, status_code=303)
        request.state.user = user
        return await handler(request)

    return guarded


def admin_required(handler: Handler) -> Handler:
    """Administrators only (the place, accounts, peers, tokens, mail, sharing): an
    animator gets a French 403 page that says whom to ask."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        user: UserRow = request.state.user
        if user.role != "admin":
            return await error_page(
                request,
                403,
                N_("Reserved for administrators"),
                N_(
                    "Your account is an animator's: it manages the offers (skills, "
                    "equipment, events, resources). The place profile, the accounts, the "
                    "peers and the tokens are managed by the place's administrators: ask "
                    "one of them."
                ),
            )
        return await handler(request)

    return login_required(checked)


async def admin_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    user: UserRow | None = getattr(request.state, "user", None)
    headers = {"cache-control": "no-store", **(headers or {})}
    return await render(
        request,
        template,
        {
            "user": user,
            "flashes": take_flashes(request),
            **context,
        },
        status=status,
        headers=headers,
    )


async def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return await admin_page(
        request, "error.html", {"title": title, "message": message}, status=status
    )


class FormRejected(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


_NOT_UNDERSTOOD = (
    N_("Form not understood"),
    N_("This form must be sent by the page it is on."),
)
_EXPIRED = (
    N_("Form expired"),
    N_(
        "This form is out of date or did not come from this site. "
        "Go back, reload the page and send it again."
    ),
)
#: Room for the texts of a multipart form besides its files.
TEXT_ROOM_BYTES = 2 * 1024 * 1024
#: Files a form of the admin (a photo) may carry, besides the resource editor's.
FORM_FILES = 1


async def read_multipart(request: Request, *, max_files: int, max_part_bytes: int) -> FormData:
    """A multipart form (it carries files): of a declared length within ``max_files``
    files of ``blob_max_bytes`` and its texts, CSRF-checked. Close it when done."""
    node = node_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise FormRejected(415, *_NOT_UNDERSTOOD)
    declared = request.headers.get("content-length", "")
    limit = max_files * node.settings.blob_max_bytes + max_part_bytes
    if not declared.isdigit() or int(declared) > limit:
        raise FormRejected(
            413,
            N_("Form too large"),
            N_("What was sent is too large. Send large files one at a time."),
        )
    try:
        form = await request.form(
            max_files=max_files + 1, max_fields=MAX_FORM_FIELDS, max_part_size=max_part_bytes
        )
    except HTTPException:
        raise FormRejected(400, *_NOT_UNDERSTOOD) from None
    if not csrf_ok(request, form):
        await form.close()
        raise FormRejected(403, *_EXPIRED)
    return form


async def read_form(request: Request) -> FormData:
    """The submitted form, bounded in size, after the CSRF check: url-encoded, or
    multipart with at most ``FORM_FILES`` file (a photo)."""
    limit = node_of(request).settings.max_body_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await read_multipart(request, max_files=FORM_FILES, max_part_bytes=limit)
    if content_type != "application/x-www-form-urlencoded":
        raise FormRejected(
            415, N_("Form not understood"), N_("This form must be sent by the page it is on.")
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise FormRejected(
                413,
                N_("Form too large"),
                N_("What was sent is too large. Shorten the texts and try again."),
            )
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRejected(
            400, N_("Form not understood"), N_("This form must be sent by the page it is on.")
        ) from None
    items: list[tuple[str, str | UploadFile]] = list(pairs)
    form = FormData(items)
    if not csrf_ok(request, form):
        raise FormRejected(403, *_EXPIRED)
    return form


def with_form(handler: Callable[[Request, FormData], Awaitable[Response]]) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormRejected as exc:
            return await error_page(request, exc.status, exc.title, exc.message)
        try:
            return await handler(request, form)
        finally:
            await form.close()  # the files of a multipart form

    return wrapped
