"""Reading the objects and entries a conversation is made of: the only module of
``node/cooperation`` that reads ``objects`` and ``entries``. Every function runs in the
caller's transaction ``conn`` (``reading()`` opens one for a page or an answer)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.cooperation import Ref

from ..services.objects import load_payload

#: Most conversations one listing reads.
MAX_LIST = 500


@dataclass(frozen=True)
class Stored:
    """The current version of an object: the payload of its highest seq."""

    origin: str
    kind: str
    oid: str
    seq: int
    #: The ``ts`` of that version's header (RFC 3339).
    updated: str
    payload: dict[str, Any]

    @property
    def ref(self) -> Ref:
        return Ref(self.origin, self.oid)


@dataclass(frozen=True)
class Version:
    """One entry of an object: ``payload`` is None for a tombstone, and for every
    version a tombstone erased."""

    origin: str
    kind: str
    oid: str
    seq: int
    ts: str
    op: str
    payload: dict[str, Any] | None


@asynccontextmanager
async def reading() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction to read a consistent state (a page, an API answer)."""
    async with in_transaction() as conn:
        yield conn


def _stored(row: dict[str, Any]) -> Stored:
    return Stored(
        origin=str(row["origin"]),
        kind=str(row["kind"]),
        oid=str(row["oid"]),
        seq=int(row["seq"]),
        updated=str(row["updated"]),
        payload=load_payload(row["payload"]),
    )


_OBJECT_COLUMNS = "origin, kind, oid, seq, updated, payload"


async def current(conn: BaseDBAsyncClient, origin: str, kind: str, oid: str) -> Stored | None:
    """The current version of ``origin``'s object ``kind/oid`` (None: never seen, or
    deleted)."""
    rows = await conn.execute_query_dict(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE origin = ? AND kind = ? AND oid = ?",
        [origin, kind, oid],
    )
    return _stored(rows[0]) if rows else None


def _version(row: dict[str, Any]) -> Version:
    payload = row["payload"]
    return Version(
        origin=str(row["origin"]),
        kind=str(row["kind"]),
        oid=str(row["oid"]),
        seq=int(row["seq"]),
        ts=str(json.loads(row["header"]).get("ts", "")),
        op=str(row["op"]),
        payload=None if payload is None else load_payload(payload),
    )


async def versions(conn: BaseDBAsyncClient, origin: str, kind: str, oid: str) -> list[Version]:
    """Every entry of the object, in seq order."""
    rows = await conn.execute_query_dict(
        "SELECT origin, kind, oid, seq, op, header, payload FROM entries"
        " WHERE origin = ? AND kind = ? AND oid = ? ORDER BY seq",
        [origin, kind, oid],
    )
    return [_version(row) for row in rows]


async def version_at(conn: BaseDBAsyncClient, origin: str, seq: int) -> Version | None:
    """The entry ``seq`` of ``origin``'s log."""
    rows = await conn.execute_query_dict(
        "SELECT origin, kind, oid, seq, op, header, payload FROM entries"
        " WHERE origin = ? AND seq = ?",
        [origin, seq],
    )
    return _version(rows[0]) if rows else None


async def objects_of(
    conn: BaseDBAsyncClient,
    kind: str,
    *,
    origin: str | None = None,
    ref_to: tuple[str, str] | None = None,
    equal: tuple[str, str] | None = None,
    limit: int = MAX_LIST,
    offset: int = 0,
) -> list[Stored]:
    """Current objects of ``kind``, most recently changed first: of ``origin``; whose
    payload member ``ref_to[0]`` is a ref to an object of origin ``ref_to[1]``; whose
    member ``equal[0]`` is the text ``equal[1]``."""
    where: list[str] = ["kind = ?"]
    values: list[Any] = [kind]
    if origin is not None:
        where.append("origin = ?")
        values.append(origin)
    if ref_to is not None:
        name, owner = ref_to
        prefix = owner + "/"
        # A prefix compared as text (LIKE would take the '_' of origin ids as wildcards).
        where.append("substr(json_extract(payload, ?), 1, ?) = ?")
        values += [f"$.{name}", len(prefix), prefix]
    if equal is not None:
        where.append("json_extract(payload, ?) = ?")
        values += [f"$.{equal[0]}", equal[1]]
    rows = await conn.execute_query_dict(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE {' AND '.join(where)}"
        " ORDER BY updated DESC, id DESC LIMIT ? OFFSET ?",
        [*values, min(limit, MAX_LIST), offset],
    )
    return [_stored(row) for row in rows]


async def place_names(conn: BaseDBAsyncClient, origins: Iterable[str]) -> dict[str, str]:
    """The place name of each origin we know one for."""
    wanted = sorted(set(origins))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" for _ in part)
        rows = await conn.execute_query_dict(
            f"SELECT id, name FROM origins WHERE id IN ({marks})", part
        )
        names.update({str(row["id"]): str(row["name"]) for row in rows if row["name"]})
    return names


#: The two kinds of a registration's conversation, as the partial index of ``node/db.py``
#: names them (a query uses the index only with this very list).
_REGISTRATION_KINDS = "kind IN ('registration', 'registration_decision')"


async def event_registrations(conn: BaseDBAsyncClient, events: Iterable[str]) -> list[Stored]:
    """The current ``registration`` and ``registration_decision`` objects whose ``event``
    is one of the refs ``events`` (any origin: the queue is read from both sides), in
    the order of their origin and seq."""
    wanted = sorted(set(events))
    found: list[Stored] = []
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" for _ in part)
        rows = await conn.execute_query_dict(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE {_REGISTRATION_KINDS}"
            f" AND json_extract(payload, '$.event') IN ({marks}) ORDER BY origin, seq",
            part,
        )
        found += [_stored(row) for row in rows]
    return found


async def is_live_place(conn: BaseDBAsyncClient, origin: str) -> bool:
    """Whether ``origin`` has a place profile this node holds and is not frozen (a
    proven fork)."""
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM objects o JOIN origins g ON g.id = o.origin"
        " WHERE o.origin = ? AND o.kind = 'place' AND o.oid = 'place' AND NOT g.frozen",
        [origin],
    )
    return bool(rows)


async def frozen_origins(conn: BaseDBAsyncClient) -> frozenset[str]:
    """The origins frozen after a proven fork (their objects are not shown)."""
    rows = await conn.execute_query_dict("SELECT id FROM origins WHERE frozen")
    return frozenset(str(row["id"]) for row in rows)
