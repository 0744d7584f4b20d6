"""What every admin page shares: the login check, the page renderer (no caching, flash
messages), and reading a POSTed form (url-encoded, bounded in size, CSRF-checked)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..models import User
from ..runtime import node_of
from .csrf import csrf_ok
from .i18n import N_
from .render import render
from .sessions import current_user, take_flashes
from .urls import path_for

Handler = Callable[[Request], Awaitable[Response]]
#: Bound on the number of fields of a submitted form.
MAX_FORM_FIELDS = 500


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            target = path_for(request, "admin.login") + "?" + urlencode({"next": request.url.path})
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


async def read_form(request: Request) -> FormData:
    """The submitted (url-encoded) form, bounded in size, after the CSRF check."""
    limit = node_of(request).settings.max_body_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
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
        raise FormRejected(
            403,
            N_("Form expired"),
            N_(
                "This form is out of date or did not come from this site. "
                "Go back, reload the page and send it again."
            ),
        )
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
