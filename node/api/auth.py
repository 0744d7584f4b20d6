"""API bearer tokens: random, shown once, stored as SHA-256; listed by label and id,
revoked by deleting their row (the next request with it gets 401). The rows are
``store.tokens``, reached through the node's connection (``node.db``)."""

from __future__ import annotations

import hashlib
import secrets

from starlette.requests import Request

from ..db import current_connection
from ..runtime import Node, node_of
from ..store import tokens
from .errors import ApiError

TOKEN_PREFIX = "papi_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: The longest token label (the size of its column, ``models.ApiToken.label``).
MAX_LABEL = 100


async def create_token(label: str, *, node: Node | None = None) -> str:
    """A new token for ``label``, on ``node``'s database (without ``node``: the current
    node's, for bench/propagation.py, which calls it so)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn = node.db.connection() if node is not None else current_connection()
    await tokens.add(conn, label=label, token_hash=hash_token(token))
    return token


#: What the token lists show (never the token nor its hash).
TokenInfo = tokens.TokenRow


async def list_tokens(node: Node) -> list[TokenInfo]:
    return await tokens.all_tokens(node.db.connection())


class TokenNotFound(LookupError):
    """No token, or several, answer to what was given."""

    def __init__(self, given: str, matches: int) -> None:
        super().__init__(given)
        self.given, self.matches = given, matches


async def revoke_token(node: Node, label_or_id: str) -> TokenInfo:
    """Delete the token with this id, else the only one with this label; ``TokenNotFound``
    (``matches`` 0, or 2 and more for a label several tokens share: give the id)."""
    given = label_or_id.strip()
    async with node.db.write_transaction() as conn:
        rows = await tokens.with_id_or_label(
            conn, token_id=int(given) if given.isdigit() else None, label=given
        )
        if len(rows) != 1:
            raise TokenNotFound(given, len(rows))
        await tokens.delete(conn, token_id=rows[0].id)
    return rows[0]


async def require_token(request: Request) -> TokenInfo:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthorized", "missing bearer token; create one with 'papi token create'"
        )
    row = await tokens.use(node_of(request).db.connection(), token_hash=hash_token(token.strip()))
    if row is None:
        raise ApiError(401, "unauthorized", "invalid or revoked token")
    return row
