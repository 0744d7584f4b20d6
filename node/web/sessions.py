"""Admin sessions: a cookie signed with a secret kept in the data directory.

The secret (``session.key``, mode 0600) is generated on first start and kept, so sessions
survive restarts. The cookie is HttpOnly, SameSite=Lax, ``Secure`` when the node's public
URL is https, and expires after ``SESSION_MAX_AGE``. It holds the account id, a stamp of
the password hash (a new password ends old sessions), the CSRF token and flash messages.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from ..models import User
from ..settings import Settings
from .accounts import session_stamp

SESSION_KEY_FILE = "session.key"
SESSION_COOKIE = "papi_session"
SESSION_MAX_AGE = 12 * 3600


def session_secret(data_dir: Path) -> str:
    """The secret of ``data_dir``, created (mode 0600) the first time."""
    path = data_dir / SESSION_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 32:
            return secret
        raise ValueError(f"{path} is too short to be a session secret; delete it") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    return secret


def session_middleware(settings: Settings) -> Middleware:
    return Middleware(
        SessionMiddleware,
        secret_key=session_secret(settings.data_dir),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.url.startswith("https://"),
    )


async def current_user(request: Request) -> User | None:
    """The logged-in account, or None (an outdated session is cleared)."""
    session = request.session
    user_id = session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = await User.get_or_none(id=user_id)
    if user is None or session.get("stamp") != session_stamp(user):
        session.clear()
        return None
    return user


def log_in(request: Request, user: User) -> None:
    request.session.clear()
    request.session.update({"uid": user.id, "stamp": session_stamp(user)})


def log_out(request: Request) -> None:
    request.session.clear()


def flash(request: Request, message: str, **values: Any) -> None:
    """Keep a message (a msgid, translated when shown) for the next page."""
    messages = list(request.session.get("flash", []))
    messages.append([message, values])
    request.session["flash"] = messages[-5:]


def take_flashes(request: Request) -> list[tuple[str, dict[str, Any]]]:
    messages = request.session.pop("flash", [])
    return [(str(message), dict(values)) for message, values in messages]
