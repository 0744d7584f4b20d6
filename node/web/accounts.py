"""Animators' accounts: argon2 password hashes, login checks and the rate limit of failed
logins (``LoginFailure`` rows, so that a restart does not reset it)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from federation.timeutil import utc_now

from ..models import LoginFailure, User

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
#: At most ``MAX_FAILURES`` failed logins per e-mail and per client address in ``WINDOW``.
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
#: Failure rows older than this are deleted when new ones are written.
KEEP_FAILURES = timedelta(days=1)

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


async def add_user(email: str, password: str) -> bool:
    """Create the account, or set a new password if it exists. True when created.
    ``ValueError`` (English, for the command line) when the e-mail or password is unfit."""
    address = normalise_email(email)
    if len(address) > 254 or not _EMAIL.match(address):
        raise ValueError(f"{email!r} is not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    password_hash = await asyncio.to_thread(hash_password, password)
    user = await User.get_or_none(email=address)
    if user is None:
        await User.create(email=address, password_hash=password_hash)
        return True
    user.password_hash = password_hash
    await user.save(update_fields=["password_hash"])
    return False


def session_stamp(user: User) -> str:
    """A fingerprint of the password hash kept in the session: changing the password
    (``papi user add`` again) ends every session of that account."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


# -- failed logins ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    email: str
    client: str

    @property
    def keys(self) -> tuple[str, str]:
        return (f"email:{normalise_email(self.email)}"[:300], f"ip:{self.client}"[:300])


async def is_rate_limited(attempt: LoginAttempt) -> bool:
    since = utc_now() - WINDOW
    for key in attempt.keys:
        if await LoginFailure.filter(key=key, at__gte=since).count() >= MAX_FAILURES:
            return True
    return False


async def record_failure(attempt: LoginAttempt) -> None:
    await LoginFailure.filter(at__lt=utc_now() - KEEP_FAILURES).delete()
    for key in attempt.keys:
        await LoginFailure.create(key=key)


async def authenticate(attempt: LoginAttempt, password: str) -> User | None:
    """The account if the password is right; a failure is recorded otherwise.
    The caller checks ``is_rate_limited`` first."""
    user = await User.get_or_none(email=normalise_email(attempt.email))
    candidate = user.password_hash if user else _dummy_hash()
    ok = len(password) <= MAX_PASSWORD_LENGTH and await asyncio.to_thread(
        check_password, candidate, password
    )
    if user is None or not ok:
        await record_failure(attempt)
        return None
    await LoginFailure.filter(key=attempt.keys[0]).delete()
    return user
