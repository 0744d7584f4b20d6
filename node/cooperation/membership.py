"""Who is a member place of the network: the one question trainings ask (events of
audience ``animateurs`` take registrations of member places only, docs/protocol.md 9.5).

A member is an origin whose place profile this node shows and has not frozen: in a closed
network (``founders``, docs/protocol.md 16) the node stores only members' entries and hides
those of an origin that stops being one (services/membership.py), so that is exactly the
members with a place; in an open network, every place."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from . import reads


async def is_member(conn: BaseDBAsyncClient, origin: str) -> bool:
    """Whether ``origin`` is a member place, as this node knows the network."""
    return await reads.is_live_place(conn, origin)
