"""Attachments as rows: which blobs we hold (``blobs``), which ones the objects we hold
reference, which ones are still to fetch (``blob_fetches``), uploads, the quota, and
dropping what no live object references any more.

A blob is kept while a live object (the current version, of any origin) lists it: a
resource in its ``attachments``, an equipment item or a place in its ``photos``; or while
a fresh upload waits for the object that will use it (``keep_until``). Fetch rows are
created in the transaction that stores such an object (``note_attachments``, called by
services.store), as deliveries are: store first, fetch later (services/blob_fetch.py).

The lifecycle of a fetch row (``BLOB_FETCH``) is declared here, where rows are created and
marked held, rather than in the worker that moves them most (services/blob_fetch.py
imports this module).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.errors import SchemaError
from federation.statemachine import Lifecycle
from federation.timeutil import utc_now

from ..db import Database
from ..store import blobs as rows
from ..store.blobs import BlobRow, FetchRow, Reference
from .blobstore import BlobStore, BlobTooLarge, Received
from .blobtypes import content_error, media_types

#: How long an upload no resource references yet is kept (the editor's grace).
UPLOAD_GRACE = timedelta(days=1)

#: Kinds whose payloads list blobs, and the member that lists them.
BLOB_MEMBERS = {"resource": "attachments", "equipment": "photos", "place": "photos"}


class FetchState(StrEnum):
    pending = "pending"  # to fetch, at ``next_attempt``
    fetching = "fetching"  # an attempt is running
    done = "done"  # held
    failed = "failed"  # larger than ``blob_max_bytes``: not fetched
    over_quota = "over_quota"  # waits until the quota has room for it


#: Whatever the state, a blob that gets held (fetched, uploaded, brought by a bundle) is
#: done, and one whose copy was damaged is fetched again.
_ANY = {"held": FetchState.done, "refetch": FetchState.pending}
BLOB_FETCH = Lifecycle(
    "blob fetch",
    FetchState,
    {
        FetchState.pending: {
            **_ANY,
            "start": FetchState.fetching,
            "too_large": FetchState.failed,
            "quota_full": FetchState.over_quota,
            # An attempt that failed before it started (every exception counts), or the
            # "fetch now" button.
            "retry": FetchState.pending,
            "fetch_now": FetchState.pending,
        },
        FetchState.fetching: {
            **_ANY,
            "retry": FetchState.pending,  # no peer gave it, or anything raised
            "interrupted": FetchState.pending,  # the node stopped in the middle
        },
        FetchState.over_quota: {
            **_ANY,
            "room": FetchState.pending,
            "fetch_now": FetchState.pending,
        },
        FetchState.failed: dict(_ANY),
        # Held, then dropped and listed again by an object.
        FetchState.done: {**_ANY, "listed_again": FetchState.pending},
    },
    initial=FetchState.pending,
)
#: The states in which a blob is still wanted (a bundle's vector file lists them).
STILL_WANTED = (FetchState.pending, FetchState.fetching, FetchState.over_quota)


def fetch_move(action: str) -> tuple[list[str], FetchState]:
    """The states ``action`` moves a fetch from, and the one state it moves them to: for
    the moves the store makes on rows in any of several states at once."""
    sources = [state for state in FetchState if BLOB_FETCH.allows(state, action)]
    targets = {BLOB_FETCH.next(state, action) for state in sources}
    if len(targets) != 1:
        raise ValueError(f"{BLOB_FETCH.name}: '{action}' must lead to one state")
    return [str(state) for state in sources], targets.pop()


#: The moves of several rows at once, read from the table when the module loads.
_HELD = fetch_move("held")
_LISTED_AGAIN = fetch_move("listed_again")
_REFETCH = fetch_move("refetch")
if _LISTED_AGAIN[1] != BLOB_FETCH.initial:
    raise ValueError("a blob listed again must wait as a new fetch does")


class UploadRefused(Exception):
    """An upload that is not stored: ``status`` and ``code`` for the API's answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Uploaded:
    sha256: str
    size: int
    created: bool


async def usage(conn: BaseDBAsyncClient) -> int:
    """Bytes of blobs held."""
    return await rows.bytes_held(conn)


async def held(conn: BaseDBAsyncClient, sha256: str) -> BlobRow | None:
    return await rows.blob(conn, sha256=sha256)


async def upload(
    db: Database,
    store: BlobStore,
    chunks: AsyncIterator[bytes],
    media_type: str,
    *,
    max_bytes: int,
    quota_bytes: int,
    declared: int | None = None,
) -> Uploaded:
    """Receive an upload (bounded, hashed while written), check that its bytes are a
    ``media_type``, store it under its hash. ``UploadRefused`` otherwise: nothing kept."""
    if media_type not in media_types():
        raise UploadRefused(
            415,
            "unsupported_media_type",
            f"{media_type or 'no type'} is not allowed; send one of {', '.join(media_types())}",
        )
    if declared is not None and declared > max_bytes:
        raise UploadRefused(413, "too_large", f"an attachment is at most {max_bytes} bytes")
    used = await usage(db.connection())
    if declared is not None and used + declared > quota_bytes:
        raise _over_quota(quota_bytes)
    writer = store.writer(max_bytes)
    try:
        async for chunk in chunks:
            writer.write(chunk)
        received = await writer.finish()
    except BlobTooLarge:
        writer.abort()
        raise UploadRefused(
            413, "too_large", f"an attachment is at most {max_bytes} bytes"
        ) from None
    except BaseException:
        writer.abort()
        raise
    try:
        if received.size == 0:
            raise UploadRefused(400, "bad_request", "the body is empty; send the file's bytes")
        problem = content_error(media_type, received.head, received.path)
        if problem is not None:
            raise UploadRefused(415, "unsupported_media_type", problem)
        existing = await held(db.connection(), received.sha256)
        if existing is None and used + received.size > quota_bytes:
            raise _over_quota(quota_bytes)
    except BaseException:
        store.discard(received)
        raise
    await keep(db, store, received, media_type=media_type, keep_until=utc_now() + UPLOAD_GRACE)
    return Uploaded(received.sha256, received.size, existing is None)


def _over_quota(quota_bytes: int) -> UploadRefused:
    return UploadRefused(
        507,
        "quota_exceeded",
        f"attachments would take more than this node's quota of {quota_bytes} bytes",
    )


async def keep(
    db: Database,
    store: BlobStore,
    received: Received,
    *,
    media_type: str | None = None,
    keep_until: Any = None,
) -> None:
    """Index a received blob and move it into place, in one transaction: the row is only
    committed once the file is there. A blob held already keeps its file (same bytes)."""
    async with db.write_transaction() as conn:
        held_from, held = _HELD
        new = await rows.index(
            conn,
            sha256=received.sha256,
            size=received.size,
            media_type=media_type,
            keep_until=keep_until,
            now=utc_now(),
            fetch_from=held_from,
            fetch_to=held,
        )
        if new:
            store.commit(received)  # before the row is committed
        else:
            store.discard(received)


def _listed(payload: dict[str, Any], member: str) -> list[dict[str, Any]]:
    items = payload.get(member)
    return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []


def attachments_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return _listed(payload, "attachments")


def photos_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return _listed(payload, "photos")


def blobs_of(kind: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The blobs an object of ``kind`` lists (attachments or photos), as in its payload."""
    member = BLOB_MEMBERS.get(kind)
    return _listed(payload, member) if member else []


async def note_attachments(
    conn: BaseDBAsyncClient, objects: Iterable[tuple[str, dict[str, Any]]]
) -> int:
    """In the transaction that stores objects (kind, payload): the blobs they list that
    are held become kept by reference (no more upload grace), the others get a fetch
    row. Returns how many."""
    wanted: dict[str, int] = {}
    for kind, payload in objects:
        for attachment in blobs_of(kind, payload):
            wanted.setdefault(str(attachment["sha256"]), int(attachment["size"]))
    if not wanted:
        return 0
    return await rows.note_listed(
        conn, sizes=wanted, now=utc_now(), state=BLOB_FETCH.initial, again_from=_LISTED_AGAIN[0]
    )


async def references(conn: BaseDBAsyncClient, sha256: str) -> list[Reference]:
    """The live attachments and photos that are ``sha256``."""
    return await rows.references(conn, sha256=sha256)


async def fetch_states(conn: BaseDBAsyncClient, shas: Iterable[str]) -> dict[str, FetchRow]:
    return await rows.fetches(conn, shas=shas)


async def held_set(conn: BaseDBAsyncClient, shas: Iterable[str]) -> set[str]:
    return await rows.held_among(conn, shas=shas)


async def forget_corrupt(db: Database, store: BlobStore, sha256: str) -> None:
    """A blob whose bytes on disk are missing or wrong: drop it and fetch it again if a
    live resource still references it."""
    store.remove(sha256)
    again_from, again = _REFETCH
    async with db.write_transaction() as conn:
        await rows.drop_and_refetch(
            conn,
            sha256=sha256,
            error="the copy on disk was damaged",
            now=utc_now(),
            state=again,
            again_from=again_from,
        )


async def collect_garbage(db: Database, store: BlobStore) -> int:
    """Drop the blobs and fetch rows no live resource references (uploads within their
    grace excepted). Returns how many blobs were dropped."""
    async with db.write_transaction() as conn:
        dropped = await rows.drop_unlisted(conn, now=utc_now())
    for sha256 in dropped:
        store.remove(sha256)
    return len(dropped)


async def drop_strays(conn: BaseDBAsyncClient, store: BlobStore) -> int:
    """Remove the files a crash left (half-received, or never indexed); hourly."""
    indexed = await rows.all_held(conn)
    strays = store.stray_files(indexed)
    for path in strays:
        path.unlink(missing_ok=True)
    return len(strays)


async def summary(conn: BaseDBAsyncClient, quota_bytes: int) -> dict[str, int]:
    """Bytes held and the fetches by state, for the dashboard."""
    counts = await rows.fetches_by_state(conn)
    return {
        "used": await usage(conn),
        "quota": quota_bytes,
        "waiting": counts.get(FetchState.pending, 0) + counts.get(FetchState.fetching, 0),
        "over_quota": counts.get(FetchState.over_quota, 0),
        "too_large": counts.get(FetchState.failed, 0),
    }


def tried_list(row: FetchRow) -> list[dict[str, str]]:
    try:
        value = json.loads(row.tried or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


async def check_attachments(
    payload: dict[str, Any], kind: str = "resource", *, conn: BaseDBAsyncClient
) -> None:
    """Before we publish an object: each blob it lists must be one this node holds (an
    upload), or one that an object it holds lists already (an adaptation whose blobs
    are still being fetched), with the same size. ``SchemaError`` names the first other."""
    member = BLOB_MEMBERS.get(kind, "attachments")
    for index, attachment in enumerate(blobs_of(kind, payload)):
        sha256, size = attachment.get("sha256"), attachment.get("size")
        if not isinstance(sha256, str) or not isinstance(size, int):
            continue  # the schema says what is wrong
        blob = await held(conn, sha256)
        if blob is not None:
            if blob.size != size:
                raise SchemaError(
                    f"'{member}.{index}.size': the blob is {blob.size} bytes, not {size}",
                    f"{member}.{index}.size",
                )
            continue
        if not any(ref.size == size for ref in await references(conn, sha256)):
            raise SchemaError(
                f"'{member}.{index}.sha256': this node has no blob {sha256}; upload the"
                " file first (POST /api/v1/blobs)",
                f"{member}.{index}.sha256",
            )
