"""A database file read while no node runs on it, with plain ``sqlite3``: its integrity
and schema version, a checked copy of it, and the few facts ``papi doctor`` and
``papi restore`` need (docs/operations.md)."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PeerFact:
    url: str
    source: str
    state: str
    last_error: str | None
    last_success: str | None


@dataclass
class OwnLog:
    """What the file holds of the node's own log and of its peers."""

    head_seq: int | None = None
    frozen: bool = False
    #: The recovery key its key chain declares last (None: none, or no key chain yet).
    recovery_key: str | None = None
    #: The header (JSON text) of its last entry.
    last_header: str | None = None
    peers: list[PeerFact] = field(default_factory=list)


@dataclass(frozen=True)
class Inspection:
    """``status``: ``"ok"``, what ``integrity_check`` found, or the error that stopped it."""

    status: str
    schema_version: int
    own: OwnLog | None


def inspect(path: Path, *, origin: str | None, timeout: float = 10) -> Inspection:
    """Check the file's integrity and read its schema version, then (when intact and
    ``origin`` is given) what it holds of that origin's log."""
    schema_version = 0
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=timeout)) as connection:
            status = connection.execute("PRAGMA integrity_check").fetchone()[0]
            schema_version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            own = _own_log(connection, origin) if status == "ok" and origin else None
    except sqlite3.Error as exc:
        return Inspection(str(exc), schema_version, None)
    return Inspection(status, schema_version, own)


def _own_log(connection: sqlite3.Connection, origin: str) -> OwnLog:
    own = OwnLog()
    row = connection.execute(
        "SELECT head_seq, frozen FROM origins WHERE id = ?", (origin,)
    ).fetchone()
    if row:
        own.head_seq, own.frozen = int(row[0]), bool(row[1])
    with contextlib.suppress(sqlite3.OperationalError):  # a database older than key chains
        keys = connection.execute(
            "SELECT recovery_key FROM key_chain WHERE origin = ? ORDER BY seq DESC LIMIT 1",
            (origin,),
        ).fetchone()
        own.recovery_key = keys[0] if keys else None
    last = connection.execute(
        "SELECT header FROM entries WHERE origin = ? ORDER BY seq DESC LIMIT 1", (origin,)
    ).fetchone()
    own.last_header = last[0] if last else None
    own.peers = [
        PeerFact(*row)
        for row in connection.execute(
            "SELECT url, source, state, last_error, last_success FROM peers"
            " ORDER BY source = 'discovered', url"
        )
    ]
    return own


def copy_checked(source: Path, target: Path, *, timeout: float = 30) -> str:
    """Copy a live database (one read transaction) to ``target`` and check the copy's
    integrity: ``"ok"`` or what is wrong. ``sqlite3.Error`` when it cannot be copied."""
    with (
        contextlib.closing(sqlite3.connect(source, timeout=timeout)) as live,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy)
        return str(copy.execute("PRAGMA integrity_check").fetchone()[0])


def head_seq(path: Path, *, origin: str) -> int:
    """The head of ``origin``'s log in the file (0: none, or the file cannot be read)."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            row = connection.execute(
                "SELECT head_seq FROM origins WHERE id = ?", (origin,)
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0
