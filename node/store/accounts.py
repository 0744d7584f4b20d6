"""Accounts of /admin (``users``), their sessions (``admin_sessions``, keyed by the
SHA-256 of the session token) and the failed logins counted for the rate limit
(``login_failures``). The rules (roles, the last administrator, the limits) are the
web layer's (``web.accounts``, ``web.sessions``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import AdminSession, LoginFailure, User


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    password_hash: str
    role: str
    disabled: bool
    created: datetime


def _user(user: User) -> UserRow:
    return UserRow(user.id, user.email, user.password_hash, user.role, user.disabled, user.created)


async def user_by_email(*, email: str, conn: Any = None) -> UserRow | None:
    user = await User.filter(email=email).using_db(conn).first()
    return _user(user) if user else None


async def any_user() -> bool:
    return await User.exists()


async def add_user(*, email: str, password_hash: str, role: str) -> None:
    await User.create(email=email, password_hash=password_hash, role=role)


async def all_users() -> list[UserRow]:
    return [_user(user) for user in await User.all().order_by("email")]


async def active_users_with_role(*, role: str, except_id: int, conn: Any = None) -> int:
    return await User.filter(role=role, disabled=False).exclude(id=except_id).using_db(conn).count()


async def set_password_hash(*, user_id: int, password_hash: str) -> None:
    await User.filter(id=user_id).update(password_hash=password_hash)


async def set_role(*, user_id: int, role: str, conn: Any = None) -> None:
    await User.filter(id=user_id).using_db(conn).update(role=role)


async def set_disabled(*, user_id: int, disabled: bool, conn: Any = None) -> None:
    await User.filter(id=user_id).using_db(conn).update(disabled=disabled)


async def delete_user(*, user_id: int, conn: Any = None) -> None:
    await User.filter(id=user_id).using_db(conn).delete()


# -- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: str
    user: UserRow
    last_seen: datetime
    expires: datetime


async def session(*, session_id: str) -> SessionRow | None:
    """The session with its account."""
    row = await AdminSession.get_or_none(id=session_id).prefetch_related("user")
    if row is None:
        return None
    return SessionRow(row.id, _user(row.user), row.last_seen, row.expires)


async def add_session(
    *, session_id: str, user_id: int, last_seen: datetime, expires: datetime
) -> None:
    await AdminSession.create(id=session_id, user_id=user_id, last_seen=last_seen, expires=expires)


async def touch_session(*, session_id: str, last_seen: datetime) -> None:
    await AdminSession.filter(id=session_id).update(last_seen=last_seen)


async def delete_session(*, session_id: str) -> None:
    await AdminSession.filter(id=session_id).delete()


async def delete_sessions_of(*, user_id: int, conn: Any = None) -> None:
    await AdminSession.filter(user_id=user_id).using_db(conn).delete()


async def delete_expired_sessions(*, now: datetime) -> None:
    await AdminSession.filter(expires__lte=now).delete()


# -- failed logins ----------------------------------------------------------------------


async def delete_failures_before(*, before: datetime, conn: Any = None) -> None:
    await LoginFailure.filter(at__lt=before).using_db(conn).delete()


async def failures_since(*, key: str, since: datetime, conn: Any = None) -> int:
    return await LoginFailure.filter(key=key, at__gte=since).using_db(conn).count()


async def add_failures(*, keys: Sequence[str], at: datetime, conn: Any = None) -> list[int]:
    """One row per key; their ids."""
    return [(await LoginFailure.create(key=key, at=at, using_db=conn)).id for key in keys]


async def delete_failures(*, ids: Sequence[int]) -> None:
    await LoginFailure.filter(id__in=list(ids)).delete()


async def delete_failures_of(*, key: str) -> None:
    await LoginFailure.filter(key=key).delete()
