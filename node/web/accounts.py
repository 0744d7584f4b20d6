"""Accounts of /admin: argon2 password hashes, roles (``admin``: the place, accounts,
peers, tokens and the offers; ``animator``: the offers), disabling and removing, login
checks and the rate limit of failed logins (``LoginFailure`` rows, so that a restart does
not reset it). Errors are ``AccountError`` with a msgid, shown in the reader's language.

The rows are ``store.accounts``, reached through the node's database (``db``): every
function here takes it.

An attempt is counted before its password is checked (``reserve``), so a burst of
concurrent attempts cannot all pass the limit, and checks run at most
``MAX_CONCURRENT_CHECKS`` at a time (``PasswordChecks``), so a burst cannot take the
node's memory either."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import utc_now

from ..db import Database
from ..i18n import N_
from ..store import accounts as rows
from ..store.accounts import UserRow

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
#: At most ``MAX_FAILURES`` failed logins from one client address in ``WINDOW``.
MAX_FAILURES = 5
#: An account that failed this often in ``WINDOW``, from all addresses together, is under
#: attack: each address then keeps one attempt per window for it. Failures elsewhere
#: never lock an account out of an address that has not failed.
MAX_FAILURES_PER_ACCOUNT = 50
WINDOW = timedelta(minutes=15)
#: Failure rows older than this are deleted when new ones are written.
KEEP_FAILURES = timedelta(days=1)
#: Password checks (argon2, 64 MiB each) running at once, and how long one waits.
MAX_CONCURRENT_CHECKS = 2
CHECK_WAIT = 10.0

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so that an unknown account takes as long to
    refuse as a wrong password."""
    return _hasher.hash("papi-node: no such account")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


#: Roles, with what they may do (msgids).
ROLES = {
    "admin": N_("administrator: the place, accounts, peers and tokens, and the offers"),
    "animator": N_("animator: offers and requests"),
}
ADMIN = "admin"


@dataclass
class AccountError(ValueError):
    """Why an account cannot be changed: a msgid and its values."""

    message: str
    values: dict[str, Any] = field(default_factory=dict)
    #: The form field it is about (``email``, ``password``, ``role``), "" for none.
    field: str = ""

    def __str__(self) -> str:
        return self.message % self.values if self.values else self.message

    def text(self, gettext: Callable[[str], str]) -> str:
        translated = gettext(self.message)
        return translated % self.values if self.values else translated


@dataclass(frozen=True)
class Account:
    """What the account lists show (never the password hash)."""

    email: str
    role: str
    disabled: bool
    created: Any


def _address(email: str) -> str:
    address = normalise_email(email)
    if len(address) > 254 or not _EMAIL.match(address):
        raise AccountError(N_("%(email)s is not an e-mail address"), {"email": email}, "email")
    return address


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            N_("the password must have at least %(count)s characters"),
            {"count": MIN_PASSWORD_LENGTH},
            "password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            N_("the password must have at most %(count)s characters"),
            {"count": MAX_PASSWORD_LENGTH},
            "password",
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(N_("unknown role %(role)s: admin or animator"), {"role": role}, "role")


async def _existing(conn: BaseDBAsyncClient, address: str) -> UserRow:
    user = await rows.user_by_email(conn, email=address)
    if user is None:
        raise AccountError(N_("no account %(email)s"), {"email": address})
    return user


async def add_user(db: Database, email: str, password: str, role: str | None = None) -> bool:
    """Create the account, or set a new password if it exists (and its role when given).
    True when created. The first account of a node is an administrator, the next ones
    animators unless ``role`` says otherwise. ``AccountError`` when something is unfit."""
    address = _address(email)
    _check_password(password)
    if role is not None:
        _check_role(role)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.write_transaction() as conn:  # two first accounts would be two admins
        user = await rows.user_by_email(conn, email=address)
        if user is None:
            first = not await rows.any_user(conn)
            await rows.add_user(
                conn,
                email=address,
                password_hash=password_hash,
                role=role or ("admin" if first else "animator"),
            )
            return True
    if role is not None and role != user.role:
        await set_role(db, address, role)
    await set_password(db, address, password, password_hash=password_hash)
    return False


async def set_password(
    db: Database, email: str, password: str, *, password_hash: str | None = None
) -> None:
    """A new password for an existing account; it ends every session opened with the
    old one."""
    address = _address(email)
    _check_password(password)
    await _existing(db.connection(), address)  # refused before the costly hash
    if password_hash is None:
        password_hash = await asyncio.to_thread(hash_password, password)
    async with db.write_transaction() as conn:
        user = await _existing(conn, address)
        await rows.set_password_hash(conn, user_id=user.id, password_hash=password_hash)
        await rows.delete_sessions_of(conn, user_id=user.id)


async def list_accounts(db: Database) -> list[Account]:
    return [
        Account(user.email, user.role, user.disabled, user.created)
        for user in await rows.all_users(db.connection())
    ]


async def _keeps_an_admin(conn: BaseDBAsyncClient, user: UserRow) -> None:
    """Refuse a change that would leave the node without an active administrator."""
    if user.role != ADMIN or user.disabled:
        return
    if not await rows.active_users_with_role(conn, role=ADMIN, except_id=user.id):
        raise AccountError(
            N_("%(email)s is the last administrator: make another account administrator first"),
            {"email": user.email},
        )


async def set_role(db: Database, email: str, role: str) -> None:
    _check_role(role)
    async with db.write_transaction() as conn:
        user = await _existing(conn, normalise_email(email))
        if role != ADMIN:
            await _keeps_an_admin(conn, user)
        await rows.set_role(conn, user_id=user.id, role=role)


async def set_disabled(db: Database, email: str, disabled: bool) -> None:
    """Disable (its sessions end at once) or enable an account."""
    async with db.write_transaction() as conn:
        user = await _existing(conn, normalise_email(email))
        if disabled:
            await _keeps_an_admin(conn, user)
        await rows.set_disabled(conn, user_id=user.id, disabled=disabled)
        if disabled:
            await rows.delete_sessions_of(conn, user_id=user.id)


async def remove_user(db: Database, email: str) -> None:
    """Delete the account and its sessions."""
    async with db.write_transaction() as conn:
        user = await _existing(conn, normalise_email(email))
        await _keeps_an_admin(conn, user)
        await rows.delete_sessions_of(conn, user_id=user.id)
        await rows.delete_user(conn, user_id=user.id)


# -- failed logins ----------------------------------------------------------------------


def address_key(host: str) -> str:
    """The client address a limit is kept for: an IPv6 client's /64 (one subscriber gets
    a whole /64 and could otherwise change address at each attempt)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class LoginAttempt:
    email: str
    client: str

    @property
    def account_key(self) -> str:
        return f"email:{normalise_email(self.email)}"[:300]

    @property
    def address_key(self) -> str:
        return f"ip:{address_key(self.client)}"[:300]

    @property
    def pair_key(self) -> str:
        return f"pair:{address_key(self.client)} {normalise_email(self.email)}"[:300]

    @property
    def keys(self) -> tuple[str, str, str]:
        return (self.account_key, self.address_key, self.pair_key)


class LoginRefused(Exception):
    """Too many failures: from this address, or from this address for an account that
    is under attack from many addresses."""


class LoginBusy(Exception):
    """Every password check slot stayed taken for ``CHECK_WAIT``: try again shortly."""


async def reserve(db: Database, attempt: LoginAttempt) -> list[int]:
    """Count the attempt as a failure *before* its password is checked, or raise
    ``LoginRefused``. The check and the reservation are one write transaction, so
    concurrent attempts are counted one after the other. Returns the rows to release
    when the password turns out right (or was not checked)."""
    now = utc_now()
    since = now - WINDOW
    async with db.write_transaction() as conn:
        await rows.delete_failures_before(conn, before=now - KEEP_FAILURES)

        async def failures(key: str) -> int:
            return await rows.failures_since(conn, key=key, since=since)

        if await failures(attempt.address_key) >= MAX_FAILURES:
            raise LoginRefused(attempt.client)
        under_attack = await failures(attempt.account_key) >= MAX_FAILURES_PER_ACCOUNT
        if under_attack and await failures(attempt.pair_key) >= 1:
            raise LoginRefused(attempt.email)
        return await rows.add_failures(conn, keys=attempt.keys, at=now)


async def release(db: Database, reserved: list[int]) -> None:
    await rows.delete_failures(db.connection(), ids=reserved)


def _check(password_hash: str | None, password: str) -> bool:
    return check_password(password_hash or _dummy_hash(), password)


class PasswordChecks:
    """At most ``MAX_CONCURRENT_CHECKS`` argon2 verifications at once (each takes
    64 MiB); a check waits at most ``CHECK_WAIT`` seconds for its turn."""

    def __init__(self, slots: int = MAX_CONCURRENT_CHECKS, wait: float = CHECK_WAIT) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.wait = wait

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash`` (None: an unknown account,
        checked against a dummy hash all the same, in the same slot)."""
        try:
            await asyncio.wait_for(self.slots.acquire(), self.wait)
        except TimeoutError:
            raise LoginBusy() from None
        try:
            return await asyncio.to_thread(_check, password_hash, password)
        finally:
            self.slots.release()


async def authenticate(
    db: Database, attempt: LoginAttempt, password: str, checks: PasswordChecks
) -> UserRow | None:
    """The account if the password is right, None otherwise; ``LoginRefused`` (nothing
    checked) when this address has failed too often, ``LoginBusy`` when no check slot
    freed in time (the attempt is then not counted)."""
    reserved = await reserve(db, attempt)
    user = await rows.user_by_email(db.connection(), email=normalise_email(attempt.email))
    candidate = user.password_hash if user else None
    try:
        ok = len(password) <= MAX_PASSWORD_LENGTH and await checks.verify(candidate, password)
    except LoginBusy:
        await release(db, reserved)
        raise
    if user is None or not ok or user.disabled:
        return None  # the reservation stays: it is the failure
    await release(db, reserved)
    await rows.delete_failures_of(db.connection(), key=attempt.pair_key)
    return user
