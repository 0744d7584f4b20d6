"""API bearer tokens (``api_tokens``): stored as the SHA-256 of the token, never the
token itself. Every function takes the connection (``conn``): the node's, or the caller's
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import utc_now

from ..models import ApiToken


@dataclass(frozen=True)
class TokenRow:
    id: int
    label: str
    created: datetime
    last_used: datetime | None


def _row(token: ApiToken) -> TokenRow:
    return TokenRow(token.id, token.label, token.created, token.last_used)


async def add(conn: BaseDBAsyncClient, *, label: str, token_hash: str) -> None:
    await ApiToken.create(label=label, token_hash=token_hash, using_db=conn)


async def all_tokens(conn: BaseDBAsyncClient) -> list[TokenRow]:
    return [_row(token) for token in await ApiToken.all().using_db(conn).order_by("id")]


async def with_id_or_label(
    conn: BaseDBAsyncClient, *, token_id: int | None, label: str
) -> list[TokenRow]:
    """The token with this id, else those with this label."""
    rows = await ApiToken.filter(id=token_id).using_db(conn) if token_id is not None else []
    if not rows:
        rows = await ApiToken.filter(label=label).using_db(conn)
    return [_row(token) for token in rows]


async def delete(conn: BaseDBAsyncClient, *, token_id: int) -> None:
    await ApiToken.filter(id=token_id).using_db(conn).delete()


async def use(conn: BaseDBAsyncClient, *, token_hash: str) -> TokenRow | None:
    """The token with this hash, its ``last_used`` set to now; None when there is none."""
    token = await ApiToken.filter(token_hash=token_hash).using_db(conn).first()
    if token is None:
        return None
    token.last_used = utc_now()
    await token.save(update_fields=["last_used"], using_db=conn)
    return _row(token)
