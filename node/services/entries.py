"""Reading stored entries: the one reader and the one page generator.

Every part of the node that sends or serves entries reads them here: the ``entries``
route (``page_json``), the delivery worker (``by_refs``: the entries a push carries, in
one query; ``pages``: a peer's gap), a sync round (``pages``: the answer to a vector and
the push-back) and the bundle export (``pages``). A page is bounded in entries and, when
asked, in bytes (about: the stored text plus an envelope), with at least one entry, so
that a page of large resources still fits in a peer's request body.

The caller says where to read: its transaction's ``conn`` (a sync answer reads every
page from one snapshot), or its node's ``db.Database`` (each page in a transaction of its
own, ``pages``; ``by_refs`` is one statement, read on the node's connection).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ..db import Database
from ..store import entries as entry_rows
from ..store.entries import StoredEntry as StoredEntry  # re-exported: the rows pages hold

#: Bytes counted for each entry beyond its stored header and payload (the signature, the
#: member names and punctuation of its document).
ENVELOPE_BYTES = 100
#: About the most bytes of entries in one push of a sync round's push-back or of a
#: delivery's gap fill, so that a page of large resources stays within a peer's default
#: request body (256 KiB).
PUSH_PAGE_BYTES = 192 * 1024


@dataclass(frozen=True, slots=True)
class Range:
    """The entries of ``origin`` with ``seq > after``, at most ``limit`` (None: all)."""

    origin: str
    after: int
    limit: int | None = None


async def read_after(
    conn: BaseDBAsyncClient, origin: str, after: int, limit: int, max_bytes: int | None = None
) -> list[StoredEntry]:
    """One page: the entries of ``origin`` with ``seq > after`` in order, at most
    ``limit``; with ``max_bytes``, only as many as fit in about that many bytes (at least
    one), counted before the payloads are read."""
    if max_bytes is not None:
        limit = await _count_within(conn, origin, after, limit, max_bytes)
    return await entry_rows.after(conn, origin=origin, seq=after, limit=limit)


async def _count_within(
    conn: BaseDBAsyncClient, origin: str, after: int, limit: int, max_bytes: int
) -> int:
    count, used = 0, 0
    for size in await entry_rows.sizes_after(conn, origin=origin, seq=after, limit=limit):
        used += size + ENVELOPE_BYTES
        if used > max_bytes and count:
            break
        count += 1
    return max(count, 1)


async def by_refs(refs: Sequence[tuple[str, int]], conn: BaseDBAsyncClient) -> list[StoredEntry]:
    """The stored entries among ``refs`` (origin, seq), by origin then seq, in one query
    on ``conn``; a ref that is not stored (truncated by a recovery since) is left out."""
    if not refs:
        return []
    return await entry_rows.at_refs(conn, refs=refs)


async def pages(
    source: BaseDBAsyncClient | Database,
    ranges: Iterable[Range],
    *,
    page_size: int,
    max_bytes: int | None = None,
) -> AsyncIterator[list[StoredEntry]]:
    """The entries of ``ranges``, range after range, in pages of at most ``page_size``
    entries (and about ``max_bytes``), read from ``source``: a transaction's connection,
    or a node's database (each page in a transaction of its own). The consumer may stop
    at any page."""
    for wanted in ranges:
        after_seq, left = wanted.after, wanted.limit
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            if isinstance(source, Database):
                async with source.transaction() as own:
                    page = await read_after(own, wanted.origin, after_seq, size, max_bytes)
            else:
                page = await read_after(source, wanted.origin, after_seq, size, max_bytes)
            if not page:
                break
            yield page
            if max_bytes is None and len(page) < size:
                break  # the range is exhausted (a page cut at max_bytes may be short)
            after_seq = page[-1].seq
            if left is not None:
                left -= len(page)


async def page_json(db: Database, origin: str, after_seq: int, limit: int) -> bytes:
    """``{"entries": [...]}`` of one page, as served by ``GET /federation/v1/entries``."""
    page = await read_after(db.connection(), origin, after_seq, limit)
    return ('{"entries":[' + ",".join(entry.json() for entry in page) + "]}").encode()


def documents(page: Iterable[StoredEntry]) -> list[dict[str, Any]]:
    return [entry.document() for entry in page]
