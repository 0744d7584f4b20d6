"""CSRF protection of every form: a random token kept in the session, sent back in a
hidden field, compared in constant time before any POST is acted upon."""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """This session's token (created when first needed)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    sent = form.get(FIELD)
    if not isinstance(expected, str) or not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())
