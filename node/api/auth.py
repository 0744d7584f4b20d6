"""API bearer tokens: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

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
