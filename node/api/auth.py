"""API bearer tokens: random, shown once, stored as SHA-256; listed by label and id,
revoked by deleting their row (the next request with it gets 401). The database is
touched only by the functions of this module (a narrow API for the store)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from federation.timeutil import utc_now

from ..models import ApiToken
from .errors import ApiError

TOKEN_PREFIX = "papi_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(label: str) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(label=label, token_hash=hash_token(token))
    return token


@dataclass(frozen=True)
class TokenInfo:
    """What the token lists show (never the token nor its hash)."""

    id: int
    label: str
    created: datetime
    last_used: datetime | None


async def list_tokens() -> list[TokenInfo]:
    return [
        TokenInfo(row.id, row.label, row.created, row.last_used)
        for row in await ApiToken.all().order_by("id")
    ]


class TokenNotFound(LookupError):
    """No token, or several, answer to what was given."""

    def __init__(self, given: str, matches: int) -> None:
        super().__init__(given)
        self.given, self.matches = given, matches


async def revoke_token(label_or_id: str) -> TokenInfo:
    """Delete the token with this id, else the only one with this label; ``TokenNotFound``
    (``matches`` 0, or 2 and more for a label several tokens share: give the id)."""
    given = label_or_id.strip()
    rows = []
    if given.isdigit():
        rows = await ApiToken.filter(id=int(given))
    if not rows:
        rows = await ApiToken.filter(label=given)
    if len(rows) != 1:
        raise TokenNotFound(given, len(rows))
    row = rows[0]
    await row.delete()
    return TokenInfo(row.id, row.label, row.created, row.last_used)


async def require_token(request: Request) -> ApiToken:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthorized", "missing bearer token; create one with 'papi token create'"
        )
    row = await ApiToken.get_or_none(token_hash=hash_token(token.strip()))
    if row is None:
        raise ApiError(401, "unauthorized", "invalid or revoked token")
    row.last_used = utc_now()
    await row.save(update_fields=["last_used"])
    return row
