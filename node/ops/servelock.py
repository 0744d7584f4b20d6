"""``papi serve`` holds an exclusive lock on ``serve.lock`` in its data directory for as
long as it runs. ``papi restore`` takes the same lock, so it never replaces the files of a
running node, and a node cannot start in the middle of a restore. The kernel releases the
lock when the process ends, however it ends (``kill -9`` included): no stale pid file."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "serve.lock"


class NodeRunning(Exception):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, pid: str) -> None:
        self.data_dir = data_dir
        self.pid = pid
        who = f" (pid {pid})" if pid else ""
        super().__init__(f"a node is running on {data_dir}{who}")


class ServeLock:
    """The held lock; ``release`` (or the end of the process) lets it go."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor drops the flock
            self._descriptor = None


def acquire(data_dir: Path) -> ServeLock:
    """Take the lock of ``data_dir`` without waiting; ``NodeRunning`` if it is held."""
    path = data_dir / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
        os.close(descriptor)
        raise NodeRunning(data_dir, pid) from None
    except BaseException:
        os.close(descriptor)
        raise
    # The pid is only informative (messages); the lock is what counts.
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return ServeLock(path, descriptor)


@contextlib.contextmanager
def held(data_dir: Path) -> Iterator[ServeLock]:
    lock = acquire(data_dir)
    try:
        yield lock
    finally:
        lock.release()


def running_pid(data_dir: Path) -> str | None:
    """The pid written by the running node, or None when no node holds the lock."""
    if not (data_dir / LOCK_FILE).exists():
        return None
    try:
        with held(data_dir):
            return None
    except NodeRunning as exc:
        return exc.pid or "?"
