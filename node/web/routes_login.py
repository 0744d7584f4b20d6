"""``/admin/login`` and ``/admin/logout``. Failed logins are rate-limited per client
address (``accounts.reserve``): HTTP 429 with a French message; when every password
check slot stays busy, HTTP 503."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..runtime import node_of
from .accounts import (
    CHECK_WAIT,
    WINDOW,
    LoginAttempt,
    LoginBusy,
    LoginRefused,
    PasswordChecks,
    authenticate,
)
from .admin_base import admin_page, with_form
from .fields import FieldError
from .i18n import N_
from .sessions import current_user, flash, log_in, log_out
from .urls import path_for


def _safe_next(request: Request, target: str | None) -> str:
    """``target`` when it is a page of the admin (never another site), else the admin's."""
    admin = path_for(request, "admin")
    if target and target.startswith(admin) and "//" not in target and "\\" not in target:
        return target
    return admin


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def password_checks(request: Request) -> PasswordChecks:
    """The application's password check slots (made in its event loop on first use)."""
    state = request.app.state
    checks: PasswordChecks | None = getattr(state, "password_checks", None)
    if checks is None:
        checks = state.password_checks = PasswordChecks()
    return checks


async def login_form(request: Request) -> Response:
    if await current_user(request) is not None:
        target = _safe_next(request, request.query_params.get("next"))
        return RedirectResponse(target, status_code=303)
    return await admin_page(
        request,
        "admin/login.html",
        {
            "email": "",
            "error": None,
            "next": _safe_next(request, request.query_params.get("next")),
        },
    )


@with_form
async def login(request: Request, form: FormData) -> Response:
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    target = _safe_next(request, str(form.get("next") or ""))
    context: dict[str, Any] = {"email": email, "next": target}
    if not email or not password:
        context["error"] = FieldError(N_("Enter your e-mail address and your password."))
        return await admin_page(request, "admin/login.html", context, status=400)
    try:
        user = await authenticate(
            node_of(request).db,
            LoginAttempt(email, _client(request)),
            password,
            password_checks(request),
        )
    except LoginRefused:
        minutes = int(WINDOW.total_seconds() // 60)
        context["error"] = FieldError(
            N_("Too many failed attempts. Wait %(minutes)s minutes before trying again."),
            {"minutes": minutes},
        )
        return await admin_page(
            request,
            "admin/login.html",
            context,
            status=429,
            headers={"retry-after": str(int(WINDOW.total_seconds()))},
        )
    except LoginBusy:
        context["error"] = FieldError(
            N_("The server is busy checking other logins. Try again in a few seconds.")
        )
        return await admin_page(
            request,
            "admin/login.html",
            context,
            status=503,
            headers={"retry-after": str(int(CHECK_WAIT))},
        )
    if user is None:
        context["error"] = FieldError(N_("Wrong e-mail address or password."))
        return await admin_page(request, "admin/login.html", context, status=401)
    await log_in(request, user)
    flash(request, N_("Welcome, %(email)s."), email=user.email)
    return RedirectResponse(target, status_code=303)


@with_form
async def logout(request: Request, form: FormData) -> Response:
    await log_out(request)
    flash(request, N_("You are logged out."))
    return RedirectResponse(path_for(request, "admin.login"), status_code=303)


def routes() -> list[Route]:
    return [
        Route("/admin/login", login_form, methods=["GET"], name="admin.login"),
        Route("/admin/login", login, methods=["POST"], name="admin.login"),
        Route("/admin/logout", logout, methods=["POST"], name="admin.logout"),
    ]
