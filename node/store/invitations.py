"""Invitations to join the network and the join requests they bring (docs/protocol.md
16.4): ``invitations`` (the SHA-256 of each nonce, its expiry, who used it) and
``join_requests``. The rules are ``services.invitations``'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

DDL = """
CREATE TABLE IF NOT EXISTS invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nonce_hash VARCHAR(64) NOT NULL UNIQUE,
    created TIMESTAMP NOT NULL,
    expires TIMESTAMP NOT NULL,
    used_by VARCHAR(60)
);
CREATE TABLE IF NOT EXISTS join_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin VARCHAR(60) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL,
    commune VARCHAR(100) NOT NULL DEFAULT '',
    url VARCHAR(300),
    created TIMESTAMP NOT NULL,
    state VARCHAR(12) NOT NULL DEFAULT 'pending'
);
"""


async def add_invitation(
    conn: BaseDBAsyncClient,
    *,
    nonce_hash: str,
    created: datetime,
    expires: datetime,
    keep_open: int,
) -> None:
    """Record an invitation; only the ``keep_open`` newest unused ones stay (in the
    caller's write transaction)."""
    await conn.execute_query(
        "INSERT INTO invitations (nonce_hash, created, expires) VALUES (?, ?, ?)",
        [nonce_hash, created, expires],
    )
    await conn.execute_query(
        "DELETE FROM invitations WHERE id IN (SELECT id FROM invitations WHERE used_by IS"
        " NULL ORDER BY created DESC LIMIT -1 OFFSET ?)",
        [keep_open],
    )


@dataclass(frozen=True)
class OpenInvitation:
    id: int
    used_by: str | None


async def valid_invitation(
    conn: BaseDBAsyncClient, *, nonce_hash: str, now: datetime
) -> OpenInvitation | None:
    """The invitation of this nonce if it has not expired (used or not)."""
    rows = await conn.execute_query_dict(
        "SELECT id, used_by FROM invitations WHERE nonce_hash = ? AND expires > ?",
        [nonce_hash, now],
    )
    return OpenInvitation(rows[0]["id"], rows[0]["used_by"]) if rows else None


async def use_invitation(conn: BaseDBAsyncClient, *, invitation_id: int, origin: str) -> None:
    await conn.execute_query(
        "UPDATE invitations SET used_by = ? WHERE id = ?", [origin, invitation_id]
    )


async def file_request(
    conn: BaseDBAsyncClient,
    *,
    origin: str,
    name: str,
    commune: str,
    url: str | None,
    now: datetime,
    keep: int,
) -> None:
    """Keep a join request (pending again if the origin had one); only the ``keep``
    newest requests stay."""
    await conn.execute_query(
        "INSERT INTO join_requests (origin, name, commune, url, created) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (origin) DO UPDATE SET name = excluded.name, commune = excluded.commune,"
        " url = excluded.url, state = 'pending'",
        [origin, name, commune, url, now],
    )
    await conn.execute_query(
        "DELETE FROM join_requests WHERE id IN (SELECT id FROM join_requests"
        " ORDER BY created DESC LIMIT -1 OFFSET ?)",
        [keep],
    )


@dataclass(frozen=True)
class JoinRequest:
    origin: str
    name: str
    commune: str
    url: str | None
    #: As stored (SQLite gives the text of the timestamp).
    created: object
    state: str


async def requests(conn: BaseDBAsyncClient) -> list[JoinRequest]:
    """The join requests, pending ones first, then the newest."""
    rows = await conn.execute_query_dict(
        "SELECT origin, name, commune, url, created, state FROM join_requests"
        " ORDER BY state = 'pending' DESC, created DESC"
    )
    return [
        JoinRequest(r["origin"], r["name"], r["commune"], r["url"], r["created"], r["state"])
        for r in rows
    ]


async def set_request_state(conn: BaseDBAsyncClient, *, origin: str, state: str) -> None:
    await conn.execute_query("UPDATE join_requests SET state = ? WHERE origin = ?", [state, origin])
