"""Admin sessions: a server-side record per login, named by a cookie signed with a
secret kept in the data directory.

The cookie (HttpOnly, SameSite=Lax, ``Secure`` when the node's public URL is https,
signed with ``session.key``) holds the CSRF token, flash messages and, once logged in, a
random session token. Who is logged in is only ever read from the ``AdminSession`` row
named by that token's SHA-256: logging out deletes the row (a copy of the cookie is then
worth nothing), a new password deletes all of the account's rows, and a row is refused
after ``SESSION_MAX_AGE`` whatever the cookie says.

The secret (``session.key``, mode 0600) is generated on first start and kept, so sessions
survive restarts; a secret file that other users can read is refused, like ``node.key``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from federation.timeutil import utc_now

from ..datadir import DataDirError
from ..i18n import N_
from ..runtime import node_of
from ..settings import Settings
from ..store import accounts
from ..store.accounts import UserRow

SESSION_KEY_FILE = "session.key"
SESSION_COOKIE = "papi_session"
#: A session ends this long after login, whatever happens (seconds).
SESSION_MAX_AGE = 12 * 3600
#: ``last_seen`` is written at most this often (a write per page would be wasted).
LAST_SEEN_STEP = timedelta(minutes=1)


class SessionKeyError(DataDirError):
    """``session.key`` cannot be used; the message says what to do."""


def session_secret(data_dir: Path) -> str:
    """The secret of ``data_dir``, created (mode 0600) the first time; refused when
    other users can read it (anyone who has it can forge a session cookie)."""
    path = data_dir / SESSION_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SessionKeyError(
                N_(
                    "session key %(path)s is readable by other users (mode %(mode)s); run "
                    "'chmod 600 %(path)s' and start again"
                ),
                path=path,
                mode=f"{stat.S_IMODE(mode):o}",
            ) from None
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 32:
            return secret
        raise SessionKeyError(
            N_("%(path)s is too short to be a session secret; delete it"), path=path
        ) from None
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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def current_user(request: Request) -> UserRow | None:
    """The logged-in account, or None: no session token, or its row was deleted
    (logout, new password) or has expired. An outdated token leaves the cookie."""
    token = request.session.get("sid")
    if not isinstance(token, str):
        return None
    now = utc_now()
    conn = node_of(request).db.connection()
    row = await accounts.session(conn, session_id=_token_hash(token))
    if row is None or row.expires <= now or row.user.disabled:
        if row is not None:
            await accounts.delete_session(conn, session_id=row.id)
        request.session.pop("sid", None)
        return None
    if now - row.last_seen > LAST_SEEN_STEP:
        await accounts.touch_session(conn, session_id=row.id, last_seen=now)
    return row.user


async def log_in(request: Request, user: UserRow) -> None:
    """A new session (a new token, a new CSRF token: nothing of the anonymous session
    is kept); expired sessions of every account are cleared on the way."""
    now = utc_now()
    conn = node_of(request).db.connection()
    await accounts.delete_expired_sessions(conn, now=now)
    token = secrets.token_urlsafe(32)
    await accounts.add_session(
        conn,
        session_id=_token_hash(token),
        user_id=user.id,
        last_seen=now,
        expires=now + timedelta(seconds=SESSION_MAX_AGE),
    )
    request.session.clear()
    request.session["sid"] = token


async def log_out(request: Request) -> None:
    token = request.session.get("sid")
    if isinstance(token, str):
        await accounts.delete_session(
            node_of(request).db.connection(), session_id=_token_hash(token)
        )
    request.session.clear()


def flash(request: Request, message: str, **values: Any) -> None:
    """Keep a message (a msgid, translated when shown) for the next page."""
    messages = list(request.session.get("flash", []))
    messages.append([message, values])
    request.session["flash"] = messages[-5:]


def take_flashes(request: Request) -> list[tuple[str, dict[str, Any]]]:
    messages = request.session.pop("flash", [])
    return [(str(message), dict(values)) for message, values in messages]
