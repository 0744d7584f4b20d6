"""API bearer tokens (``api_tokens``): stored as the SHA-256 of the token, never the
token itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


async def add(*, label: str, token_hash: str) -> None:
    await ApiToken.create(label=label, token_hash=token_hash)


async def all_tokens() -> list[TokenRow]:
    return [_row(token) for token in await ApiToken.all().order_by("id")]


async def with_id_or_label(*, token_id: int | None, label: str) -> list[TokenRow]:
    """The token with this id, else those with this label."""
    rows = await ApiToken.filter(id=token_id) if token_id is not None else []
    if not rows:
        rows = await ApiToken.filter(label=label)
    return [_row(token) for token in rows]


async def delete(*, token_id: int) -> None:
    await ApiToken.filter(id=token_id).delete()


async def use(*, token_hash: str) -> TokenRow | None:
    """The token with this hash, its ``last_used`` set to now; None when there is none."""
    token = await ApiToken.get_or_none(token_hash=token_hash)
    if token is None:
        return None
    token.last_used = utc_now()
    await token.save(update_fields=["last_used"])
    return _row(token)
