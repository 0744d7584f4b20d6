"""Blobs on disk: the bytes of attachments, stored by their SHA-256.

Layout, under the data directory: ``blobs/ab/cdef…`` (the first two hex digits name the
folder, the other 62 the file; files 0600, folders 0700) and ``blobs/tmp/`` for files
being received. A user-given name never reaches the file system.

Receiving hashes while writing, in chunks (memory stays bounded whatever the size), then
fsyncs; only then is the file renamed into place, so a file under its hash is always
complete. Serving verifies first: a file is hashed again before it is served unless it
was verified since it last changed (a marker in memory: inode, size, modification and
change times). Bytes altered on disk change those times, so they are noticed at the next
read, never served, and the caller refetches them. A restart forgets the markers: every
blob is hashed again at its first read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

#: Size of the pieces read from and written to disk.
CHUNK = 256 * 1024
#: How many first bytes of a received blob are kept in memory for its type checks.
HEAD_BYTES = 64 * 1024
#: Files left in ``tmp/`` (a crash while receiving) or not indexed (a crash between the
#: rename and the commit) are removed after this many seconds.
STRAY_AGE_SECONDS = 3600
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


class BlobTooLarge(Exception):
    """More bytes than allowed were sent."""


@dataclass
class Received:
    """A complete, fsynced file in ``tmp/``, with its hash: commit or discard it."""

    path: Path
    sha256: str
    size: int
    head: bytes


class BlobWriter:
    """Receive one blob: ``write`` the chunks, then ``finish``; ``abort`` on any failure."""

    def __init__(self, store: BlobStore, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.path = store.tmp_dir / f"{secrets.token_hex(12)}.part"
        self._file = os.fdopen(
            os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
        )
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise BlobTooLarge(f"over {self.max_bytes} bytes")
        self._hash.update(chunk)
        if len(self._head) < HEAD_BYTES:
            self._head.extend(chunk[: HEAD_BYTES - len(self._head)])
        self._file.write(chunk)

    async def finish(self) -> Received:
        self._file.flush()
        await asyncio.to_thread(os.fsync, self._file.fileno())
        self._file.close()
        return Received(self.path, self._hash.hexdigest(), self.size, bytes(self._head))

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _marker(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        #: Files derived from blobs (photo thumbnails, services/thumbnails.py), beside
        #: ``blobs/`` so that they are never taken for strays; removed with their blob.
        self.thumbs_dir = root.parent / "thumbs"
        #: Thumbnails made at once (each decodes an image in memory).
        self.thumb_slots = asyncio.Semaphore(2)
        #: sha256 -> marker of the file when it was last hashed and found right.
        self._verified: dict[str, tuple[int, int, int, int]] = {}

    def _ensure_dirs(self) -> None:
        for folder in (self.root, self.tmp_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise ValueError(f"{sha256!r} is not a lowercase hex SHA-256")
        return self.root / sha256[:2] / sha256[2:]

    def writer(self, max_bytes: int) -> BlobWriter:
        self._ensure_dirs()
        return BlobWriter(self, max_bytes)

    def commit(self, received: Received) -> Path:
        """Move a received file into place under its hash (atomic rename, then fsync of
        the folder so that the rename survives a power cut)."""
        target = self.path(received.sha256)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(received.path, target)
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        self._verified.pop(received.sha256, None)
        return target

    @staticmethod
    def discard(received: Received) -> None:
        with contextlib.suppress(FileNotFoundError):
            received.path.unlink()

    async def verified_path(self, sha256: str, size: int) -> Path | None:
        """The file of ``sha256`` if its bytes are right (length ``size``, hash); None if
        it is missing or altered, in which case an altered file is removed."""
        path = self.path(sha256)
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._verified.pop(sha256, None)
            return None
        marker = _marker(stat)
        if self._verified.get(sha256) == marker:
            return path
        if stat.st_size == size and await asyncio.to_thread(_hash_file, path) == sha256:
            self._verified[sha256] = marker
            return path
        self.remove(sha256)
        return None

    def remove(self, sha256: str) -> None:
        self._verified.pop(sha256, None)
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()
        if is_sha256(sha256) and self.thumbs_dir.is_dir():
            for derived in self.thumbs_dir.glob(f"{sha256}-*"):
                derived.unlink(missing_ok=True)

    def stray_files(self, indexed: set[str], now: float | None = None) -> list[Path]:
        """Files older than ``STRAY_AGE_SECONDS`` that are in ``tmp/`` or whose hash is not
        in ``indexed``: left by a crash, safe to remove."""
        if not self.root.is_dir():
            return []
        limit = (now if now is not None else time.time()) - STRAY_AGE_SECONDS
        strays: list[Path] = []
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                name = folder.name + path.name
                known = folder != self.tmp_dir and name in indexed
                with contextlib.suppress(FileNotFoundError):
                    if not known and path.stat().st_mtime < limit:
                        strays.append(path)
        return strays
