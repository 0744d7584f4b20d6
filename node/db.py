"""Database lifecycle: one Tortoise context per node, activated per request and per job.

Several nodes can then live in one process (the in-process federation tests). The node
opens its SQLite file with its own pragmas (``PRAGMAS``: WAL, durability, foreign keys,
erasure, how long to wait for another writer), through Tortoise's single connection,
which serialises the writers of one process; ``write_transaction`` takes the file's
write lock with ``BEGIN IMMEDIATE`` at its start, so that a writer in another process
(``papi sync`` next to ``papi serve``) is waited for instead of failing the first write
of a transaction that read first with "database is locked".
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.context import TortoiseContext, _current_context, get_current_context
from tortoise.transactions import in_transaction

from . import migrations
from .datadir import make_private
from .store.invitations import DDL as INVITATIONS_DDL
from .store.keychain import DDL as KEYCHAIN_DDL
from .store.membership import DDL as MEMBERSHIP_DDL

log = logging.getLogger(__name__)

MODELS_MODULE = "node.models"
#: The name of a node's one connection in its Tortoise context.
CONNECTION = "default"

#: Every connection to a node's database starts with these, in this order: set here, not
#: left to a library's defaults.
PRAGMAS: tuple[tuple[str, str | int], ...] = (
    # Readers (searches, pages) never wait for the writer, nor the writer for them.
    ("journal_mode", "WAL"),
    # With WAL: a commit is durable from the next checkpoint, the file is never corrupt.
    ("synchronous", "NORMAL"),
    # A peer's deliveries go with it (ON DELETE CASCADE).
    ("foreign_keys", "ON"),
    # Tombstones promise real erasure: freed pages are overwritten with zeros.
    ("secure_delete", "ON"),
    # How long (ms) a writer waits for another process's write lock before giving up.
    ("busy_timeout", 5000),
    # The WAL file is truncated to this many bytes after a checkpoint.
    ("journal_size_limit", 16384),
)

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


def _log_migration(migration: migrations.Migration, number: int, total: int) -> None:
    log.info("schema migration %d (%d of %d): %s", migration.version, number, total,
             migration.title)  # fmt: skip


class NodeSqliteClient(SqliteClient):
    """Tortoise's SQLite client with the node's pragmas, and write transactions that
    begin with ``BEGIN IMMEDIATE`` (``write_transaction``)."""

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        self.pragmas = dict(PRAGMAS)  # instead of the library's defaults

    async def create_connection(self, with_db: bool) -> None:
        await super().create_connection(with_db)  # runs ``PRAGMA name=value`` for each
        if self._connection is not None and self.filename != ":memory:":
            async with self._connection.execute("PRAGMA journal_mode") as cursor:
                row = await cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                # A file system without shared memory (NFS): readers then wait for writers.
                log.warning("%s is not in WAL mode (%s)", self.filename, row and row[0])

    def in_write_transaction(self) -> SqliteTransactionContext:
        return _ImmediateContext(_ImmediateTransaction(self), self._lock)


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        await self._connection.commit()  # as Tortoise's: nothing left open before it
        await self._connection.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout


class _ImmediateContext(SqliteTransactionContext):
    """Tortoise's context, but one whose start may fail ("database is locked" after
    ``busy_timeout``) without keeping the connection's lock, which would stop the node."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        client: TransactionalDBClient = self.connection
        return client


#: Tortoise finds the client class of an engine module in ``client_class``: this module
#: is the node's engine (``Database.open``).
client_class = NodeSqliteClient


def current_connection() -> BaseDBAsyncClient:
    """The current node's connection (the transaction's, inside one): for a read of one
    statement, which sees one committed state by itself, where a transaction of its own
    would cost two more round trips to the database's thread (BEGIN, COMMIT)."""
    context = get_current_context()
    if context is None:
        raise RuntimeError("no node's database is the current one")
    return context.db()


def write_transaction() -> SqliteTransactionContext:
    """A transaction of the current node's database that holds the write lock from its
    start (``BEGIN IMMEDIATE``): for every transaction that writes, above all those that
    read first. Inside another transaction: a savepoint of it (the outer one decides)."""
    connection = get_connections().get(CONNECTION)
    if isinstance(connection, NodeSqliteClient):
        return connection.in_write_transaction()
    return connection._in_transaction()  # type: ignore[return-value]


class Database:
    def __init__(self, url: str) -> None:
        if not url.startswith("sqlite://"):
            raise ValueError(f"a node's database is a SQLite file, not {url!r}")
        self.url = url
        self.context = TortoiseContext()
        #: What ``open`` did to the schema.
        self.upgrade = migrations.Upgrade(0, 0)

    def sqlite_path(self) -> Path | None:
        """The database file (None for an in-memory one)."""
        path = self.url.removeprefix("sqlite://").split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)

    def tortoise_config(self) -> dict[str, Any]:
        """One connection, on this module's client (``client_class``)."""
        path = self.url.removeprefix("sqlite://").split("?", 1)[0] or ":memory:"
        return {
            "connections": {CONNECTION: {"engine": __name__, "credentials": {"file_path": path}}},
            "apps": {"models": {"models": [MODELS_MODULE], "default_connection": CONNECTION}},
        }

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

    async def open(self, progress: migrations.Progress | None = None) -> migrations.Upgrade:
        """Open the database and bring its schema to this code's version: refuse a newer
        one (``SchemaTooNew``, nothing written), apply the pending migrations (telling
        ``progress``), then create the tables and indexes that are missing."""
        self.make_files_private()
        with self.activated():
            await self.context.init(config=self.tortoise_config())
            conn = self.connection()
            try:
                result = await migrations.upgrade(conn, progress or _log_migration)
            except migrations.SchemaTooNew as exc:
                raise migrations.SchemaTooNew(exc.found, str(self.sqlite_path() or "")) from None
            await self.context.generate_schemas(safe=True)
            await conn.execute_script(SEARCH_DDL)
            await conn.execute_script(MEMBERSHIP_DDL + KEYCHAIN_DDL + INVITATIONS_DDL)
            await migrations.finish(conn, result)
            self.upgrade = result
            return result

    async def close(self) -> None:
        from .services.search_readers import close_readers

        filename = getattr(self.connection(), "filename", None)
        if isinstance(filename, str):
            close_readers(filename)  # searches read on connections of their own
        await self.context.close_connections()

    async def checkpoint(self) -> None:
        """Make erasure real after tombstones: merge the full-text index (its old segments
        still hold the words of deleted objects), then fold the WAL into the database file
        and empty it (``secure_delete`` zeroes freed pages of the main file)."""
        await self.connection().execute_script(
            "INSERT INTO search_index(search_index) VALUES ('optimize');"
            "PRAGMA wal_checkpoint(TRUNCATE);"
        )

    def connection(self) -> BaseDBAsyncClient:
        return self.context.db()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[BaseDBAsyncClient]:
        """A transaction of this node's database, whichever node's is current: its
        connection is given to the code inside, which passes it on (for reads that must
        see one state; a transaction that writes is a ``write_transaction``). Tortoise's
        transactions register themselves in the current context: this node's is made the
        current one for the code inside, so code not moved yet sees the transaction too."""
        with self.activated():
            async with in_transaction(CONNECTION) as conn:
                yield conn

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[BaseDBAsyncClient]:
        """``write_transaction`` (``BEGIN IMMEDIATE``) of this node's database, whichever
        node's is current, its connection given to the code inside."""
        with self.activated():
            async with write_transaction() as conn:
                yield conn

    @contextmanager
    def activated(self) -> Iterator[TortoiseContext]:
        """Make this node's database the current one for the code inside."""
        token = _current_context.set(self.context)
        try:
            yield self.context
        finally:
            _current_context.reset(token)
