"""Who is a member place of the network: the one question trainings ask (events of
audience ``animateurs`` take registrations of member places only, docs/protocol.md 9.5).

The single place to change when membership (vouches, issue 13) is wired in: until then a
member is any origin this node holds a place profile of and has not frozen."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from . import reads


async def is_member(conn: BaseDBAsyncClient, origin: str) -> bool:
    """Whether ``origin`` is a member place, as this node knows the network."""
    return await reads.is_live_place(conn, origin)
