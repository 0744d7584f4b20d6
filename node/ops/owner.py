"""Commands run with sudo on the node's data directory must run as its owner."""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def foreign_owner(data_dir: Path) -> str | None:
    """The owner's name when we run as root on a data directory that someone else owns.

    Files that root would create there (SQLite's ``-wal`` and ``-shm`` files, restored
    files) would belong to root, and the node, running as its own user, could no longer
    open its database."""
    if os.geteuid() != 0 or not data_dir.exists():
        return None
    uid = data_dir.stat().st_uid
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
