"""Where searches read: read-only connections of their own, and the index's vocabulary.

A search runs on a worker thread, on a read-only SQLite connection to the node's database
file, in one read transaction. With WAL it reads the last committed state, never waits for
the node's writes (Tortoise's single connection) and never holds them up; the whole search
costs one hop to a thread instead of one per statement. Idle connections are kept (two
per database, with their page cache) and closed with the database (``close_readers``).

The vocabulary of the index (``search_words.Vocabulary``) is kept per database and read
again when the index has changed: in the search's own transaction when the index is small
(about 1 ms per 1,000 objects), in the background when it is large (0.5 s at 300,000
objects; meanwhile searches use the previous one, or none right after a start).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..store import search as index
from .search_words import Vocabulary, read_vocabulary

#: Idle connections kept per database, and the page cache of each (KiB): the pages a
#: search reads (index segments, candidate rows) stay in memory from one search to the
#: next (a fifth less time at 30,000 objects, a fourth at 300,000, than with the default
#: 2 MiB), at the cost of that memory once they are read.
MAX_IDLE = 2
CACHE_KIB = 16_000
#: How much of the database file a reader maps into memory (SQLite's memory-mapped I/O):
#: a page outside the page cache is then read in place, not copied in by a system call.
#: The candidates of a word query are scattered over ``objects`` (the events among the
#: matches of a word, a commune's), and the page cache holds a fraction of the file: a
#: fifth less CPU per search at 30,000 and at 300,000 objects (docs/performance.md, 10.4;
#: a map of 256 MiB, a part of the 300,000 objects' file, gained nothing there). The
#: mapped pages are the operating system's file cache, shared by the readers and
#: reclaimable; they count in the process's RSS (``RssFile``: the pages searches read,
#: about 55 MiB at 30,000 objects, 190 MiB at 300,000) while its own memory is less (not
#: copied into the page caches: 43 instead of 60 MiB at 30,000). Less address space on a
#: 32-bit system.
MMAP_BYTES = (1 << 30) if sys.maxsize > 2**32 else (256 << 20)
#: Up to this many objects, a vocabulary older than the index is read again before
#: answering; above, in the background, at most every ``VOCABULARY_PAUSE_S`` seconds (or
#: 10 times the last read's duration).
INLINE_VOCABULARY_OBJECTS = 20_000
VOCABULARY_PAUSE_S = 5.0

_lock = threading.Lock()
_idle: dict[str, list[sqlite3.Connection]] = {}
#: How many times each database was closed: a connection taken before a close is not
#: put back after it.
_closings: dict[str, int] = {}


@contextmanager
def reader(database: str) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``database`` in a read transaction (one snapshot)."""
    with _lock:
        idle = _idle.get(database)
        connection = idle.pop() if idle else None
        closings = _closings.get(database, 0)
    if connection is None:
        connection = index.open_reader(database, cache_kib=CACHE_KIB, mmap_bytes=MMAP_BYTES)
    connection.execute("BEGIN")
    try:
        yield connection
    finally:
        keep = False
        try:
            connection.execute("COMMIT")
        except sqlite3.Error:  # pragma: no cover - a broken connection is not kept
            pass
        else:
            with _lock:
                idle = _idle.setdefault(database, [])
                # Not kept past a close of the database that happened meanwhile.
                keep = len(idle) < MAX_IDLE and _closings.get(database, 0) == closings
                if keep:
                    idle.append(connection)
        if not keep:
            connection.close()


def close_readers(database: str) -> None:
    """Close the idle connections to ``database`` and forget its vocabulary (those in use
    are closed when their search ends)."""
    with _lock:
        connections = _idle.pop(database, [])
        state = _states.pop(database, None)
        _closings[database] = _closings.get(database, 0) + 1
    if state is not None and state.reading is not None:
        state.reading.cancel()
    for connection in connections:
        connection.close()


# -- the vocabulary of each database ----------------------------------------------------


@dataclass
class _State:
    vocabulary: Vocabulary | None = None
    reading: asyncio.Task[None] | None = None
    #: No background read starts before this (monotonic seconds): reads are spaced out.
    next_read: float = 0.0


_states: dict[str, _State] = {}


def _state(database: str) -> _State:
    with _lock:
        state = _states.get(database)
        if state is None:
            state = _states[database] = _State()
        return state


def vocabulary_for(connection: sqlite3.Connection, database: str) -> tuple[Vocabulary | None, bool]:
    """The vocabulary to search ``database`` with (``connection`` is in its read
    transaction), and whether it should be read again in the background."""
    cookie = index.index_cookie(connection)
    state = _state(database)
    current = state.vocabulary
    if current is not None and current.cookie == cookie:
        return current, False
    if index.largest_object_id(connection) <= INLINE_VOCABULARY_OBJECTS:
        state.vocabulary = read_vocabulary(connection)
        return state.vocabulary, False
    return current, True


def build_vocabulary(database: str) -> Vocabulary:
    with reader(database) as connection:
        return read_vocabulary(connection)


def read_later(database: str) -> None:
    """Start reading the vocabulary of ``database`` in the background (on the running
    loop), unless a read is under way or the last one ended too recently."""
    state = _state(database)
    if state.reading is None and time.monotonic() >= state.next_read:
        state.reading = asyncio.get_running_loop().create_task(_read(database, state))


async def _read(database: str, state: _State) -> None:
    started = time.monotonic()
    try:
        state.vocabulary = await asyncio.to_thread(build_vocabulary, database)
    finally:
        elapsed = time.monotonic() - started
        state.next_read = time.monotonic() + max(VOCABULARY_PAUSE_S, 10 * elapsed)
        state.reading = None


async def prepare_vocabulary(database: str) -> Vocabulary:
    """Read the vocabulary of ``database`` now, whatever its size."""
    vocabulary = await asyncio.to_thread(build_vocabulary, database)
    _state(database).vocabulary = vocabulary
    return vocabulary
