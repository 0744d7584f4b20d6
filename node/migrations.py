"""The versioned database schema: numbered migrations of existing tables.

A database records the version of its schema in SQLite's ``PRAGMA user_version`` (0 for
a database written before versions existed, release 0.1.0). Opening a database
(``Database.open``, so ``papi serve`` and every command) first refuses one newer than
this code, then applies, in order and each in its own transaction, the migrations above
its version; only then does ``generate_schemas`` create what is missing (tables and
indexes of the models, "create if not exists"), and the version becomes ``LATEST``.

So a new table needs no migration: declaring its model is enough, on new and old
databases alike. A migration is for a change to a table that already exists (a column
added, renamed or dropped, data rewritten, an index removed). See docs/migrations.md.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient

from .i18n import N_, Translatable
from .version import software

Apply = Callable[[BaseDBAsyncClient], Awaitable[None]]


@dataclass(frozen=True)
class Migration:
    version: int
    #: What it changes: a msgid (``papi migrate`` and the log show it, translated).
    title: str
    apply: Apply


class SchemaTooNew(Translatable):
    """The database was written by a newer papi-node: this code must not touch it.
    ``where``: the database's path, or a phrase (``of this backup``)."""

    def __init__(self, found: int, where: str | Translatable = "") -> None:
        self.found = found
        super().__init__(
            N_(
                "the database%(where)s is at schema version %(found)d, newer than the one "
                "this software knows (%(software)s, schema version %(known)d): a newer "
                "version of papi-node wrote it. Nothing was changed. Reinstall that newer "
                "version (or a later one); to come back to this one, restore a backup made "
                "before the upgrade (papi restore FILE)."
            ),
            where=f" {where}" if isinstance(where, str) and where else where,
            found=found,
            software=software(),
            known=LATEST,
        )


@dataclass
class Upgrade:
    """What opening a database did to its schema."""

    before: int
    after: int
    #: The database had no table: created whole from the models, no migration run.
    created: bool = False
    applied: list[Migration] = field(default_factory=list)


Progress = Callable[[Migration, int, int], None]


# -- helpers for migrations ----------------------------------------------------------------


async def table_exists(conn: BaseDBAsyncClient, table: str) -> bool:
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    )
    return bool(rows)


async def columns(conn: BaseDBAsyncClient, table: str) -> set[str]:
    rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {str(row["name"]) for row in rows}


async def add_column(conn: BaseDBAsyncClient, table: str, column: str, definition: str) -> None:
    """``ALTER TABLE table ADD COLUMN column definition``, unless the table is absent (the
    models will create it whole, with the column) or already has it. A ``NOT NULL``
    column needs a ``DEFAULT`` for the rows already there."""
    if await table_exists(conn, table) and column not in await columns(conn, table):
        await conn.execute_query(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {definition}')


# -- the migrations, in order: never edit one that was released, add the next ------------------


async def _pending_sources(conn: BaseDBAsyncClient) -> None:
    # Entries kept aside remember who brought them and their size (fair eviction under
    # the global caps). Earlier upgrades also made a second index under a hand-made name;
    # the models' index is created after the migrations.
    await add_column(conn, "pending_entries", "source", "VARCHAR(300) NOT NULL DEFAULT ''")
    await add_column(conn, "pending_entries", "size", "INT NOT NULL DEFAULT 0")
    await conn.execute_query("DROP INDEX IF EXISTS idx_pending_en_source_received")
    # The listing index of release 0.1.0's first days, replaced by objects_listing_by_start.
    await conn.execute_query("DROP INDEX IF EXISTS objects_listing")


async def _account_roles(conn: BaseDBAsyncClient) -> None:
    # Accounts made before roles could do everything: they stay administrators.
    await add_column(conn, "users", "role", "VARCHAR(16) NOT NULL DEFAULT 'admin'")
    await add_column(conn, "users", "disabled", "INT NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        N_("pending entries: who brought them and their size (fair eviction)"),
        _pending_sources,
    ),
    Migration(
        2,
        N_("accounts: role (animator or administrator) and disabling"),
        _account_roles,
    ),
)

#: The schema version this code writes.
LATEST = MIGRATIONS[-1].version if MIGRATIONS else 0


# -- applying them -----------------------------------------------------------------------------


async def read_version(conn: BaseDBAsyncClient) -> int:
    rows = await conn.execute_query_dict("PRAGMA user_version")
    return int(rows[0]["user_version"])


async def _has_tables(conn: BaseDBAsyncClient) -> bool:
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1"
    )
    return bool(rows)


async def upgrade(conn: BaseDBAsyncClient, progress: Progress | None = None) -> Upgrade:
    """Refuse a newer database, then apply the pending migrations (before the models'
    "create if not exists"; ``finish`` comes after it)."""
    before = await read_version(conn)
    if before > LATEST:
        raise SchemaTooNew(before)
    if not await _has_tables(conn):
        return Upgrade(before, LATEST, created=True)
    result = Upgrade(before, before)
    pending = [migration for migration in MIGRATIONS if migration.version > before]
    for number, migration in enumerate(pending, start=1):
        if progress is not None:
            progress(migration, number, len(pending))
        # BEGIN IMMEDIATE takes the write lock first (waiting for it): a second process
        # opening the same database waits here, then finds the migration done. Reading
        # first then writing could fail at once when another process wrote in between.
        await conn.execute_query("BEGIN IMMEDIATE")
        try:
            done = await read_version(conn) >= migration.version
            if not done:
                await migration.apply(conn)
                await conn.execute_query(f"PRAGMA user_version = {migration.version}")
        except BaseException:
            await conn.execute_query("ROLLBACK")
            raise
        await conn.execute_query("COMMIT")
        if done:
            continue
        result.applied.append(migration)
        result.after = migration.version
    return result


async def finish(conn: BaseDBAsyncClient, result: Upgrade) -> None:
    """After the models' tables exist: the database is at ``LATEST``."""
    if await read_version(conn) < LATEST:
        await conn.execute_query(f"PRAGMA user_version = {LATEST}")
    result.after = LATEST


def file_version(path: Path) -> int:
    """The schema version of an existing database file, read without Tortoise (``papi
    doctor``, ``papi restore``). Raises ``sqlite3.Error`` on a file that is not a
    database."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as connection:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])
