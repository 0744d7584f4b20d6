"""Accounts of /admin (``users``), their sessions (``admin_sessions``, keyed by the
SHA-256 of the session token) and the failed logins counted for the rate limit
(``login_failures``). The rules (roles, the last administrator, the limits) are the
web layer's (``web.accounts``, ``web.sessions``). Every function takes the connection
(``conn``): the node's, or the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

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


async def user_by_email(conn: BaseDBAsyncClient, *, email: str) -> UserRow | None:
    user = await User.filter(email=email).using_db(conn).first()
    return _user(user) if user else None


async def any_user(conn: BaseDBAsyncClient) -> bool:
    return await User.all().using_db(conn).exists()


async def add_user(conn: BaseDBAsyncClient, *, email: str, password_hash: str, role: str) -> None:
    await User.create(email=email, password_hash=password_hash, role=role, using_db=conn)


async def all_users(conn: BaseDBAsyncClient) -> list[UserRow]:
    return [_user(user) for user in await User.all().using_db(conn).order_by("email")]


async def active_users_with_role(conn: BaseDBAsyncClient, *, role: str, except_id: int) -> int:
    return await User.filter(role=role, disabled=False).exclude(id=except_id).using_db(conn).count()


async def set_password_hash(conn: BaseDBAsyncClient, *, user_id: int, password_hash: str) -> None:
    await User.filter(id=user_id).using_db(conn).update(password_hash=password_hash)


async def set_role(conn: BaseDBAsyncClient, *, user_id: int, role: str) -> None:
    await User.filter(id=user_id).using_db(conn).update(role=role)


async def set_disabled(conn: BaseDBAsyncClient, *, user_id: int, disabled: bool) -> None:
    await User.filter(id=user_id).using_db(conn).update(disabled=disabled)


async def delete_user(conn: BaseDBAsyncClient, *, user_id: int) -> None:
    await User.filter(id=user_id).using_db(conn).delete()


# -- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: str
    user: UserRow
    last_seen: datetime
    expires: datetime


async def session(conn: BaseDBAsyncClient, *, session_id: str) -> SessionRow | None:
    """The session with its account."""
    row = await AdminSession.filter(id=session_id).using_db(conn).prefetch_related("user").first()
    if row is None:
        return None
    return SessionRow(row.id, _user(row.user), row.last_seen, row.expires)


async def add_session(
    conn: BaseDBAsyncClient,
    *,
    session_id: str,
    user_id: int,
    last_seen: datetime,
    expires: datetime,
) -> None:
    await AdminSession.create(
        id=session_id, user_id=user_id, last_seen=last_seen, expires=expires, using_db=conn
    )


async def touch_session(conn: BaseDBAsyncClient, *, session_id: str, last_seen: datetime) -> None:
    await AdminSession.filter(id=session_id).using_db(conn).update(last_seen=last_seen)


async def delete_session(conn: BaseDBAsyncClient, *, session_id: str) -> None:
    await AdminSession.filter(id=session_id).using_db(conn).delete()


async def delete_sessions_of(conn: BaseDBAsyncClient, *, user_id: int) -> None:
    await AdminSession.filter(user_id=user_id).using_db(conn).delete()


async def delete_expired_sessions(conn: BaseDBAsyncClient, *, now: datetime) -> None:
    await AdminSession.filter(expires__lte=now).using_db(conn).delete()


# -- failed logins ----------------------------------------------------------------------


async def delete_failures_before(conn: BaseDBAsyncClient, *, before: datetime) -> None:
    await LoginFailure.filter(at__lt=before).using_db(conn).delete()


async def failures_since(conn: BaseDBAsyncClient, *, key: str, since: datetime) -> int:
    return await LoginFailure.filter(key=key, at__gte=since).using_db(conn).count()


async def add_failures(conn: BaseDBAsyncClient, *, keys: Sequence[str], at: datetime) -> list[int]:
    """One row per key; their ids."""
    return [(await LoginFailure.create(key=key, at=at, using_db=conn)).id for key in keys]


async def delete_failures(conn: BaseDBAsyncClient, *, ids: Sequence[int]) -> None:
    await LoginFailure.filter(id__in=list(ids)).using_db(conn).delete()


async def delete_failures_of(conn: BaseDBAsyncClient, *, key: str) -> None:
    await LoginFailure.filter(key=key).using_db(conn).delete()
