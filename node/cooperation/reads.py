"""Reading the objects and entries a conversation is made of (through
``store.cooperation``): the only module of ``node/cooperation`` that reads ``objects``
and ``entries``; payloads come out decoded, never trusted. Every function runs in the
caller's transaction ``conn`` (its node's ``db.Database.transaction()`` for a page or an
answer, its connection for a read of one statement)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.cooperation import Ref

from ..services.objects import load_payload
from ..store import cooperation as store
from ..store import entries as entry_rows
from ..store.entries import EntryText
from ..store.objects import ObjectText

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


def _stored(row: ObjectText) -> Stored:
    return Stored(
        origin=row.origin,
        kind=row.kind,
        oid=row.oid,
        seq=row.seq,
        updated=row.updated,
        payload=load_payload(row.payload),
    )


async def current(conn: BaseDBAsyncClient, origin: str, kind: str, oid: str) -> Stored | None:
    """The current version of ``origin``'s object ``kind/oid`` (None: never seen, or
    deleted)."""
    row = await store.current(conn, origin=origin, kind=kind, oid=oid)
    return _stored(row) if row else None


def _version(row: EntryText) -> Version:
    return Version(
        origin=row.origin,
        kind=row.kind,
        oid=row.oid,
        seq=row.seq,
        ts=str(json.loads(row.header).get("ts", "")),
        op=row.op,
        payload=None if row.payload is None else load_payload(row.payload),
    )


async def versions(conn: BaseDBAsyncClient, origin: str, kind: str, oid: str) -> list[Version]:
    """Every entry of the object, in seq order."""
    return [
        _version(row)
        for row in await entry_rows.entries_of(conn, origin=origin, kind=kind, oid=oid)
    ]


async def version_at(conn: BaseDBAsyncClient, origin: str, seq: int) -> Version | None:
    """The entry ``seq`` of ``origin``'s log."""
    row = await entry_rows.entry_at(conn, origin=origin, seq=seq)
    return _version(row) if row else None


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
    rows = await store.objects_of(
        conn,
        kind=kind,
        origin=origin,
        ref_prefix=None if ref_to is None else (ref_to[0], ref_to[1] + "/"),
        equal=equal,
        limit=min(limit, MAX_LIST),
        offset=offset,
    )
    return [_stored(row) for row in rows]


async def place_names(conn: BaseDBAsyncClient, origins: Iterable[str]) -> dict[str, str]:
    """The place name of each origin we know one for."""
    return await store.place_names(conn, origins=origins)


async def event_registrations(conn: store.DictReads, events: Iterable[str]) -> list[Stored]:
    """The current ``registration`` and ``registration_decision`` objects whose ``event``
    is one of the refs ``events`` (any origin: the queue is read from both sides), in
    the order of their origin and seq."""
    return [_stored(row) for row in await store.event_registrations(conn, events=events)]


async def is_live_place(conn: BaseDBAsyncClient, origin: str) -> bool:
    """Whether ``origin`` has a place profile this node holds and is not frozen (a
    proven fork)."""
    return await store.is_live_place(conn, origin=origin)


async def frozen_origins(conn: BaseDBAsyncClient) -> frozenset[str]:
    """The origins frozen after a proven fork (their objects are not shown)."""
    return await store.frozen_origins(conn)
