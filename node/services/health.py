"""What an operator must know about the node itself: a full disk, a clock that is off.

``node_health(node)`` is the one summary read by ``/readyz``, ``/api/v1/nodes`` and the
admin pages."""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from federation.timeutil import format_ts, utc_now

if TYPE_CHECKING:
    from ..runtime import Node


def is_disk_full(exc: BaseException) -> bool:
    """True if ``exc`` (or what it wraps) is SQLite's SQLITE_FULL or ``ENOSPC``."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
                return True
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        # Tortoise wraps sqlite3 errors as OperationalError(original).
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


@dataclass
class StorageStatus:
    """The last time the database could not take a write for lack of space."""

    error: str | None = None
    since: datetime | None = None
    last: datetime | None = None

    def record_full(self, context: str) -> None:
        now = utc_now()
        if self.error is None:
            self.since = now
        self.last = now
        self.error = f"disk full: {context}"

    def clear(self) -> None:
        self.error = self.since = self.last = None

    def to_json(self) -> dict[str, Any] | None:
        if self.error is None:
            return None
        return {
            "code": "disk_full",
            "message": self.error,
            "since": format_ts(self.since) if self.since else None,
            "last": format_ts(self.last) if self.last else None,
        }


def free_disk_bytes(path: Path) -> int | None:
    """Bytes available to us on the file system of ``path``, if it can be known."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def node_health(node: Node) -> dict[str, Any]:
    """Storage and clock, as shown to operators (no I/O but one ``statvfs``)."""
    estimate = node.clock_skew()
    problem = node.clock_problem()
    return {
        "storage": {
            "error": node.storage.to_json(),
            "free_bytes": free_disk_bytes(node.settings.data_dir),
            "min_free_bytes": node.settings.min_free_disk_bytes,
        },
        "clock": {
            "skew_seconds": None if estimate is None else round(estimate.seconds, 1),
            "peers": 0 if estimate is None else estimate.peers,
            "ok": problem is None,
            "problem": problem,
        },
    }
