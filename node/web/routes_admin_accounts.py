"""``/admin/accounts`` and ``/admin/tokens`` (administrators only): the accounts of
/admin (add, role, disable, enable, remove) and the API tokens (create, shown once;
revoke). What takes something away is confirmed on a page of its own; every change
writes an audit line (``node.audit``)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..api.auth import MAX_LABEL, TokenNotFound, create_token, list_tokens, revoke_token
from ..audit import audit
from ..runtime import node_of
from .accounts import (
    ROLES,
    AccountError,
    add_user,
    list_accounts,
    remove_user,
    set_disabled,
    set_role,
)
from .admin_base import admin_page, admin_required, with_form
from .fields import FieldError
from .i18n import N_
from .sessions import flash
from .urls import path_for


def _actor(request: Request) -> str:
    return str(request.state.user.email)


# -- accounts -----------------------------------------------------------------------------


async def _accounts_page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, FieldError] | None = None,
    status: int = 200,
) -> Response:
    return await admin_page(
        request,
        "admin/accounts.html",
        {
            "accounts": await list_accounts(node_of(request).db),
            "roles": ROLES,
            "values": values or {"email": "", "role": "animator"},
            "errors": errors or {},
        },
        status=status,
    )


@admin_required
async def accounts_page(request: Request) -> Response:
    return await _accounts_page(request)


@admin_required
@with_form
async def account_add(request: Request, form: FormData) -> Response:
    email = str(form.get("email") or "").strip()
    role = str(form.get("role") or "")
    password = str(form.get("password") or "")
    values = {"email": email, "role": role}
    errors: dict[str, FieldError] = {}
    if role not in ROLES:
        errors["role"] = FieldError(N_("Choose a value from the list."))
    if any(a.email == email.lower() for a in await list_accounts(node_of(request).db)):
        errors["email"] = FieldError(N_("This address already has an account."))
    if not errors:
        try:
            await add_user(node_of(request).db, email, password, role)
        except AccountError as exc:
            errors[exc.field or "email"] = FieldError(exc.message, exc.values)
    if errors:
        return await _accounts_page(request, values, errors, status=400)
    audit("user.add", email.lower(), _actor(request))
    flash(
        request,
        N_("The account %(email)s is created: give its password to its owner."),
        email=email.lower(),
    )
    return RedirectResponse(path_for(request, "admin.accounts"), status_code=303)


@admin_required
@with_form
async def account_change(request: Request, form: FormData) -> Response:
    """Role, disable, enable: reversible, done at once."""
    email = str(form.get("email") or "")
    action = str(form.get("action") or "")
    try:
        if action in ROLES:
            await set_role(node_of(request).db, email, action)
            message = N_("%(email)s has a new role.")
        elif action in ("disable", "enable"):
            await set_disabled(node_of(request).db, email, action == "disable")
            message = (
                N_("%(email)s is disabled; its sessions are closed.")
                if action == "disable"
                else N_("%(email)s can log in again.")
            )
        else:
            return await _accounts_page(
                request, errors={"": FieldError(N_("Choose a value from the list."))}, status=400
            )
    except AccountError as exc:
        return await _accounts_page(
            request, errors={"": FieldError(exc.message, exc.values)}, status=400
        )
    audit(f"user.{'role=' + action if action in ROLES else action}", email, _actor(request))
    flash(request, message, email=email)
    return RedirectResponse(path_for(request, "admin.accounts"), status_code=303)


def _confirm_context(request: Request, kind: str, key: str, label: str) -> dict[str, Any]:
    if kind == "account":
        return {
            "title": N_("Remove the account %(name)s"),
            "message": N_(
                "This person will no longer be able to log in. What the account "
                "published stays published."
            ),
            "action": path_for(request, "admin.accounts.remove"),
            "back": path_for(request, "admin.accounts"),
            "field": "email",
            "key": key,
            "name": label,
            "button": N_("Remove the account"),
        }
    return {
        "title": N_("Revoke the token %(name)s"),
        "message": N_(
            "The scripts and sites that use this token are refused at once. A new "
            "token can be created for them."
        ),
        "action": path_for(request, "admin.tokens.revoke"),
        "back": path_for(request, "admin.tokens"),
        "field": "token",
        "key": key,
        "name": label,
        "button": N_("Revoke the token"),
    }


@admin_required
async def account_remove_form(request: Request) -> Response:
    email = request.query_params.get("email", "")
    if not any(a.email == email for a in await list_accounts(node_of(request).db)):
        return RedirectResponse(path_for(request, "admin.accounts"), status_code=303)
    context = _confirm_context(request, "account", email, email)
    return await admin_page(request, "admin/confirm.html", context)


@admin_required
@with_form
async def account_remove(request: Request, form: FormData) -> Response:
    email = str(form.get("email") or "")
    try:
        await remove_user(node_of(request).db, email)
    except AccountError as exc:
        return await _accounts_page(
            request, errors={"": FieldError(exc.message, exc.values)}, status=400
        )
    audit("user.remove", email, _actor(request))
    flash(request, N_("The account %(email)s is removed."), email=email)
    return RedirectResponse(path_for(request, "admin.accounts"), status_code=303)


# -- tokens -------------------------------------------------------------------------------


async def _tokens_page(
    request: Request,
    new_token: str = "",
    label: str = "",
    error: FieldError | None = None,
    status: int = 200,
) -> Response:
    tokens = await list_tokens(node_of(request))
    return await admin_page(
        request,
        "admin/tokens.html",
        {"tokens": tokens, "new_token": new_token, "label": label, "error": error},
        status=status,
    )


@admin_required
async def tokens_page(request: Request) -> Response:
    return await _tokens_page(request)


@admin_required
@with_form
async def token_create(request: Request, form: FormData) -> Response:
    label = " ".join(str(form.get("label") or "").split())
    if not label:
        return await _tokens_page(
            request, error=FieldError(N_("Say what the token is for.")), status=400
        )
    if len(label) > MAX_LABEL:
        error = FieldError(N_("At most %(count)s characters."), {"count": MAX_LABEL})
        return await _tokens_page(request, label=label, error=error, status=400)
    token = await create_token(label, node=node_of(request))
    audit("token.create", label, _actor(request))
    # Shown in this answer only (no-store): it is never stored nor shown again.
    return await _tokens_page(request, new_token=token, label=label, status=201)


@admin_required
async def token_revoke_form(request: Request) -> Response:
    key = request.query_params.get("token", "")
    found = [t for t in await list_tokens(node_of(request)) if str(t.id) == key]
    if not found:
        return RedirectResponse(path_for(request, "admin.tokens"), status_code=303)
    context = _confirm_context(request, "token", key, found[0].label or key)
    return await admin_page(request, "admin/confirm.html", context)


@admin_required
@with_form
async def token_revoke(request: Request, form: FormData) -> Response:
    key = str(form.get("token") or "")
    if not key.isdigit():
        return RedirectResponse(path_for(request, "admin.tokens"), status_code=303)
    try:
        revoked = await revoke_token(node_of(request), key)
    except TokenNotFound:
        return RedirectResponse(path_for(request, "admin.tokens"), status_code=303)
    audit("token.revoke", f"{revoked.id} ({revoked.label})", _actor(request))
    flash(request, N_("The token %(label)s is revoked."), label=revoked.label or key)
    return RedirectResponse(path_for(request, "admin.tokens"), status_code=303)


def routes() -> list[Route]:
    return [
        Route("/admin/accounts", accounts_page, methods=["GET"], name="admin.accounts"),
        Route("/admin/accounts", account_add, methods=["POST"], name="admin.accounts"),
        Route(
            "/admin/accounts/change", account_change, methods=["POST"], name="admin.accounts.change"
        ),
        Route(
            "/admin/accounts/remove",
            account_remove_form,
            methods=["GET"],
            name="admin.accounts.remove",
        ),
        Route(
            "/admin/accounts/remove", account_remove, methods=["POST"], name="admin.accounts.remove"
        ),
        Route("/admin/tokens", tokens_page, methods=["GET"], name="admin.tokens"),
        Route("/admin/tokens", token_create, methods=["POST"], name="admin.tokens"),
        Route(
            "/admin/tokens/revoke", token_revoke_form, methods=["GET"], name="admin.tokens.revoke"
        ),
        Route("/admin/tokens/revoke", token_revoke, methods=["POST"], name="admin.tokens.revoke"),
    ]
