"""One sync round per peer at a time across the processes of a node.

``papi sync`` (or ``papi peer add --sync``) runs next to ``papi serve`` on the same data
directory. Without a lease, the serving node's tick could start its own round with the
peer the command is syncing with: two processes fetching, checking and storing the same
entries at once on the same cores, each waiting for the other's write lock.

The lease is an advisory lock (``flock``) on one file per peer in the data directory.
The kernel releases it when the holder's file is closed or its process ends, so the
lease of a crashed or killed process never outlives it (a lease row in the database
would need an expiry and a clock). A second open of the file in the same process
conflicts too (``flock`` locks belong to the open file), so it also holds between two
nodes of one test process on the same directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

log = logging.getLogger(__name__)

#: Seconds between two attempts while waiting for another process's round.
POLL_SECONDS = 0.2
#: The directory of the lease files, in the data directory.
LEASE_DIR = "round-leases"


def lease_path(data_dir: Path, peer_id: int) -> Path:
    return data_dir / LEASE_DIR / f"peer-{peer_id}.lock"


def _open(path: Path) -> int:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def round_lease(
    data_dir: Path, peer_id: int, *, waiting: Callable[[], None] | None = None
) -> AsyncIterator[bool]:
    """Hold the lease of the rounds with peer ``peer_id`` (yields ``True``). Held by
    another process: yields ``False`` at once when ``waiting`` is ``None``; otherwise
    calls ``waiting()`` once and waits for it (cancellable). A lease file that cannot be
    opened (a full disk, a read-only directory) does not stop the round: it runs without
    the lease, as before there was one."""
    try:
        fd = _open(lease_path(data_dir, peer_id))
    except OSError as exc:
        log.warning("round with peer %s without its lease: %s", peer_id, exc)
        yield True
        return
    try:
        held = _try_lock(fd)
        if not held and waiting is not None:
            waiting()
            while not held:
                await asyncio.sleep(POLL_SECONDS)
                held = _try_lock(fd)
        yield held
    finally:
        os.close(fd)  # releases the lock
