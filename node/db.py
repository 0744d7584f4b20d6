"""Database lifecycle: one Tortoise context per node, activated per request and per job.

Several nodes can then live in one process (the in-process federation tests). SQLite runs
in WAL mode through Tortoise's single connection, which serialises writers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext, _current_context

from .datadir import make_private

MODELS_MODULE = "node.models"

# Full-text index over every current object (see node/services/search.py).
# An external-content FTS5 table over ``objects``: the triggers keep it in the very
# transaction that changes an object, whoever changes it (publish or ingest).
SEARCH_DDL = """
CREATE VIRTUAL TABLE IF NOT EXISTS search_index USING fts5(
    title, body, theme, place, commune,
    content = 'objects', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
-- Browsing without words: upcoming events first, then the rest by title. Walking this
-- index in order stops after one page instead of sorting every object; with ends_at and
-- kind in it, past events and other kinds are skipped without reading their rows.
DROP INDEX IF EXISTS objects_listing;
CREATE INDEX IF NOT EXISTS objects_listing_by_start
    ON objects (starts_at IS NULL, starts_at, title COLLATE NOCASE, id, ends_at, kind);
-- The themes offered as search filters, read from this index instead of every object.
CREATE INDEX IF NOT EXISTS objects_theme ON objects (theme, kind);
-- The network directory, a page at a time (node/services/directory.py): origins in the
-- order of their place names, and the peers that serve a page's origins.
CREATE INDEX IF NOT EXISTS origins_by_name ON origins (name COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS peers_by_origin ON peers (origin);
-- The registrations of a page of events and their organisers' decisions, in one look-up
-- (seats left, waiting lists: node/cooperation/reads.py event_registrations). Partial:
-- only these two kinds pay for the expression; queries repeat its IN list as written.
CREATE INDEX IF NOT EXISTS objects_registrations_by_event
    ON objects (json_extract(payload, '$.event'))
    WHERE kind IN ('registration', 'registration_decision');
CREATE TRIGGER IF NOT EXISTS objects_search_insert AFTER INSERT ON objects BEGIN
    INSERT INTO search_index(rowid, title, body, theme, place, commune)
    VALUES (new.id, new.title, new.body, new.theme, new.place, new.commune);
END;
CREATE TRIGGER IF NOT EXISTS objects_search_delete AFTER DELETE ON objects BEGIN
    INSERT INTO search_index(search_index, rowid, title, body, theme, place, commune)
    VALUES ('delete', old.id, old.title, old.body, old.theme, old.place, old.commune);
END;
CREATE TRIGGER IF NOT EXISTS objects_search_update AFTER UPDATE ON objects BEGIN
    INSERT INTO search_index(search_index, rowid, title, body, theme, place, commune)
    VALUES ('delete', old.id, old.title, old.body, old.theme, old.place, old.commune);
    INSERT INTO search_index(rowid, title, body, theme, place, commune)
    VALUES (new.id, new.title, new.body, new.theme, new.place, new.commune);
END;
"""


#: Columns added to tables of earlier releases (``generate_schemas`` only creates missing
#: tables): table, column, definition, and the indexes that use them.
ADDED_COLUMNS = (
    ("pending_entries", "source", "VARCHAR(300) NOT NULL DEFAULT ''"),
    ("pending_entries", "size", "INT NOT NULL DEFAULT 0"),
)
ADDED_INDEXES = """
CREATE INDEX IF NOT EXISTS idx_pending_en_source_received
    ON pending_entries (source, received_at);
"""


async def _add_missing_columns(conn: BaseDBAsyncClient) -> None:
    added = False
    for table, column, definition in ADDED_COLUMNS:
        rows = await conn.execute_query_dict(f"PRAGMA table_info({table})")
        if column not in {row["name"] for row in rows}:
            await conn.execute_script(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            added = True
    if added:  # a new database has them from its models already
        await conn.execute_script(ADDED_INDEXES)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.context = TortoiseContext()
        self.is_sqlite = url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file (None for another database or an in-memory one)."""
        if not self.is_sqlite:
            return None
        path = self.url.removeprefix("sqlite://").split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)

    def make_files_private(self) -> None:
        """The database file is created 0600 before SQLite opens it, so its ``-wal`` and
        ``-shm`` files (which SQLite creates with the database's mode) are too; files
        left 0644 by an older version are made 0600."""
        path = self.sqlite_path()
        if path is None:
            return
        if not path.exists() and path.parent.is_dir():
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            make_private(path.with_name(name))

    async def open(self) -> None:
        self.make_files_private()
        with self.activated():
            await self.context.init(db_url=self.url, modules={"models": [MODELS_MODULE]})
            await self.context.generate_schemas(safe=True)
            if self.is_sqlite:
                conn = self.connection()
                await _add_missing_columns(conn)
                await conn.execute_script(SEARCH_DDL)
                # Tombstones promise real erasure: overwrite freed pages with zeros.
                await conn.execute_script("PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;")

    async def close(self) -> None:
        if self.is_sqlite:
            from .services.search_readers import close_readers

            filename = getattr(self.connection(), "filename", None)
            if isinstance(filename, str):
                close_readers(filename)  # searches read on connections of their own
        await self.context.close_connections()

    async def checkpoint(self) -> None:
        """Make erasure real after tombstones: merge the full-text index (its old segments
        still hold the words of deleted objects), then fold the WAL into the database file
        and empty it (``secure_delete`` zeroes freed pages of the main file)."""
        if self.is_sqlite:
            await self.connection().execute_script(
                "INSERT INTO search_index(search_index) VALUES ('optimize');"
                "PRAGMA wal_checkpoint(TRUNCATE);"
            )

    def connection(self) -> BaseDBAsyncClient:
        return self.context.db()

    @contextmanager
    def activated(self) -> Iterator[TortoiseContext]:
        """Make this node's database the current one for the code inside."""
        token = _current_context.set(self.context)
        try:
            yield self.context
        finally:
            _current_context.reset(token)


async def lock_for_write(conn: BaseDBAsyncClient) -> None:
    """Take the database's write lock at the start of a transaction that reads first.

    Tortoise opens transactions with a deferred ``BEGIN``; when another process (``papi
    sync`` next to ``papi serve``) writes meanwhile, upgrading a read to a write fails at
    once with "database is locked". A first statement that writes (here one that changes
    nothing) waits for the lock instead, like ``BEGIN IMMEDIATE``."""
    await conn.execute_query("UPDATE origins SET head_seq = head_seq WHERE 0")


async def fetch_all(conn: BaseDBAsyncClient, sql: str, *values: Any) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(sql, list(values))
