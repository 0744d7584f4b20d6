"""``papi backup`` and ``papi restore``: one file holding everything a node needs.

A backup is a gzip-compressed tar (optionally encrypted with a passphrase, see encryption.py)
holding ``papi-backup.json`` (the manifest: format, origin, our log's head, each file's
size and SHA-256), a consistent snapshot of the SQLite database taken with SQLite's
online backup API while the node runs, and every other file of the data directory: the
key, the configuration, the session secret (and whatever else lives there, such as
blobs). Files are written 0600; nothing leaves the data directory unencrypted except the
backup file itself, created 0600.

Restoring never writes over a running node (the serve lock) and leaves the ``restored``
marker before anything else: the restored log may lack entries published after the backup
and already held by peers, so the node refuses local writes until a sync round tells it
how far its own log went (services/bootstrap.py)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from federation.errors import KeyFileError
from federation.keys import NodeKey
from federation.timeutil import format_ts, parse_ts, utc_now

from ..i18n import N_, Phrase, Translatable
from ..migrations import LATEST, SchemaTooNew
from ..services.identity import read_origin
from ..services.round_lease import LEASE_DIR
from ..settings import DATABASE_FILE, KEY_FILE, NEW_LOG_MARKER, RESTORED_MARKER, Settings
from ..store import files as database_files
from . import encryption
from .servelock import LOCK_FILE

MANIFEST = "papi-backup.json"
FORMAT = "papi-backup"
VERSION = 1
#: Temporary directories inside the data directory (same file system: renames are atomic).
STAGING_PREFIX = ".papi-staging-"
#: Never copied: the live database (a snapshot is taken instead), its journals, the lock,
#: the markers (a restore decides them), temporary directories.
SKIPPED = {
    DATABASE_FILE,
    f"{DATABASE_FILE}-wal",
    f"{DATABASE_FILE}-shm",
    f"{DATABASE_FILE}-journal",
    LOCK_FILE,
    NEW_LOG_MARKER,
    RESTORED_MARKER,
}
#: When the last backup was made, and where to (the status page and papi doctor).
LAST_BACKUP_FILE = "last-backup.json"
SKIPPED.update((LAST_BACKUP_FILE, f"{LAST_BACKUP_FILE}.tmp"))
#: Never copied either: folders of files made again from others when missing (the
#: thumbnails of photos, from their blobs), and the sync rounds' lease files (empty: the
#: lease is the lock a running process holds on them).
DERIVED_DIRS = {"thumbs", LEASE_DIR}
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1024 * 1024


class BackupError(Translatable):
    """The backup cannot be made or used; the message says why and what to do."""


@dataclass(frozen=True)
class FileInfo:
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    origin: str
    created: str
    head_seq: int
    files: dict[str, FileInfo]

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "origin": self.origin,
            "created": self.created,
            "head_seq": self.head_seq,
            "files": {
                name: {"size": info.size, "sha256": info.sha256}
                for name, info in sorted(self.files.items())
            },
        }
        return json.dumps(document, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT:
                raise ValueError("not a papi backup manifest")
            if document.get("version") != VERSION:
                raise ValueError(f"backup format version {document.get('version')} unknown")
            files = {
                str(name): FileInfo(int(info["size"]), str(info["sha256"]))
                for name, info in document["files"].items()
            }
            return cls(
                str(document["origin"]), str(document["created"]), int(document["head_seq"]), files
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(
                N_("the backup's manifest is invalid: %(error)s"), error=exc
            ) from None


# -- making a backup --------------------------------------------------------------------


def create_backup(settings: Settings, output: Path, passphrase: str | None = None) -> Manifest:
    """Write a backup of ``settings.data_dir`` to ``output`` (a new file, mode 0600)."""
    data_dir = settings.data_dir
    if output.exists():
        raise BackupError(
            N_("%(path)s already exists; choose another name or remove it"), path=output
        )
    if output.parent.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(
            N_(
                "write the backup outside the data directory %(dir)s (each backup would "
                "carry the previous ones)"
            ),
            dir=data_dir,
        )
    if not output.parent.is_dir():
        raise BackupError(N_("directory %(dir)s does not exist"), dir=output.parent)
    try:
        # The place's origin: its first key's, kept apart after a key rotation.
        origin = read_origin(data_dir) or NodeKey.load(data_dir / KEY_FILE).origin
    except KeyFileError as exc:
        raise BackupError(N_("%(error)s"), error=exc) from None
    database = data_dir / DATABASE_FILE
    if not database.is_file():
        raise BackupError(N_("%(path)s does not exist; nothing to back up yet"), path=database)
    with _staging(data_dir) as staging:
        snapshot = staging / DATABASE_FILE
        snapshot_database(database, snapshot)
        sources = {DATABASE_FILE: snapshot}
        sources.update((name, data_dir / name) for name in _data_files(data_dir))
        manifest = Manifest(
            origin=origin,
            created=format_ts(utc_now()),
            head_seq=_head_seq(snapshot, origin),
            files={name: _file_info(path) for name, path in sources.items()},
        )
        archive = staging / "backup.tar.gz"
        _write_archive(archive, manifest, sources)
        with _new_file(output) as target, archive.open("rb") as plain:
            if passphrase is None:
                shutil.copyfileobj(plain, target, _CHUNK)
            else:
                encryption.encrypt(plain, target, passphrase)
    _record_backup(data_dir, output, manifest, encrypted=passphrase is not None)
    return manifest


@dataclass(frozen=True)
class LastBackup:
    created: datetime
    file: str
    encrypted: bool


def _record_backup(data_dir: Path, output: Path, manifest: Manifest, encrypted: bool) -> None:
    """Note the backup in the data directory. The backup itself is written: a record that
    cannot be (a read-only directory) only leaves the status page warning about backups."""
    record = {"created": manifest.created, "file": str(output.resolve()), "encrypted": encrypted}
    temporary = data_dir / f"{LAST_BACKUP_FILE}.tmp"
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        temporary.replace(data_dir / LAST_BACKUP_FILE)


def last_backup(data_dir: Path) -> LastBackup | None:
    """The last backup ``papi backup`` recorded here (None: none, or unreadable)."""
    try:
        record = json.loads((data_dir / LAST_BACKUP_FILE).read_text(encoding="utf-8"))
        return LastBackup(
            parse_ts(record["created"]), str(record["file"]), bool(record["encrypted"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def backup_overdue(data_dir: Path, max_age_days: int, now: datetime) -> bool:
    """True when backups are watched (``max_age_days`` > 0) and the last one is older,
    or there is none."""
    if max_age_days <= 0:
        return False
    last = last_backup(data_dir)
    return last is None or now - last.created > timedelta(days=max_age_days)


def snapshot_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (one read transaction), checked."""
    try:
        status = database_files.copy_checked(source, target)
    except sqlite3.Error as exc:
        raise BackupError(
            N_("cannot copy the database %(path)s: %(error)s"), path=source, error=exc
        ) from None
    if status != "ok":
        raise BackupError(
            N_("the database %(path)s is damaged (%(status)s); 'papi doctor' says what to do"),
            path=source,
            status=status,
        )
    os.chmod(target, 0o600)


def _data_files(data_dir: Path) -> list[str]:
    """Every regular file of the data directory that a backup carries, as relative paths."""
    names = []
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if relative.parts[0].startswith(STAGING_PREFIX) or str(relative) in SKIPPED:
            continue
        if relative.parts[0] in DERIVED_DIRS:
            continue
        if path.is_file() and not path.is_symlink():
            names.append(relative.as_posix())
    return names


def _head_seq(database: Path, origin: str) -> int:
    return database_files.head_seq(database, origin=origin)


def _file_info(path: Path) -> FileInfo:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileInfo(size, digest.hexdigest())


def _write_archive(archive: Path, manifest: Manifest, sources: dict[str, Path]) -> None:
    def member(name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, int(utc_now().timestamp())
        return info

    document = manifest.to_json()
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(member(MANIFEST, len(document)), io.BytesIO(document))
        for name, path in sorted(sources.items()):
            with path.open("rb") as handle:
                tar.addfile(member(name, manifest.files[name].size), handle)


@contextlib.contextmanager
def _new_file(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file in the same directory (mode 0600): the
    final name appears only complete, and a failure leaves nothing behind."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.link(temporary, path)  # fails if ``path`` appeared meanwhile: never overwrite
    except FileExistsError:
        raise BackupError(
            N_("%(path)s already exists; choose another name or remove it"), path=path
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


@contextlib.contextmanager
def _staging(data_dir: Path) -> Iterator[Path]:
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# -- restoring --------------------------------------------------------------------------


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(len(encryption.MAGIC))
    if encryption.is_encrypted(head):
        return True
    if head.startswith(GZIP_MAGIC):
        return False
    raise BackupError(
        N_("%(path)s is not a papi backup (neither a .tar.gz nor an encrypted one)"), path=path
    )


@dataclass
class StagedBackup:
    """A backup unpacked and verified in a temporary directory of the data directory."""

    manifest: Manifest
    directory: Path


@contextlib.contextmanager
def staged_backup(
    path: Path, data_dir: Path, passphrase: Callable[[], str] | None
) -> Iterator[StagedBackup]:
    """Unpack (and decrypt) ``path`` next to the data, check every file against the
    manifest, the key against the origin and the database's integrity."""
    try:
        sealed = is_encrypted(path)
    except OSError as exc:
        raise BackupError(
            N_("cannot read %(path)s: %(error)s"), path=path, error=exc.strerror
        ) from None
    if sealed and passphrase is None:
        raise BackupError(
            N_("%(path)s is encrypted: give its passphrase (--passphrase-file)"), path=path
        )
    with _staging(data_dir) as staging:
        archive = path
        if sealed:
            assert passphrase is not None
            archive = staging / "backup.tar.gz"
            with path.open("rb") as source, archive.open("wb") as target:
                try:
                    encryption.decrypt(source, target, passphrase())
                except encryption.EncryptionError as exc:
                    raise BackupError(N_("%(path)s: %(error)s"), path=path, error=exc) from None
        files = staging / "files"
        files.mkdir(mode=0o700)
        manifest = _unpack(archive, files)
        _verify(manifest, files)
        yield StagedBackup(manifest, files)


def _unpack(archive: Path, target: Path) -> Manifest:
    manifest: Manifest | None = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = _safe_name(member)
                source = tar.extractfile(member)
                assert source is not None  # _safe_name accepts regular files only
                if name == MANIFEST:
                    manifest = Manifest.from_json(source.read(1024 * 1024))
                    continue
                destination = target / name
                destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "wb") as handle:
                    shutil.copyfileobj(source, handle, _CHUNK)
    except FileExistsError:
        raise BackupError(N_("the backup holds the same file twice; refused")) from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(N_("the backup is damaged or truncated (%(error)s)"), error=exc) from None
    if manifest is None:
        raise BackupError(N_("the backup has no %(file)s: not a papi backup"), file=MANIFEST)
    return manifest


def _safe_name(member: tarfile.TarInfo) -> str:
    """A member's name when it is a plain file inside the data directory."""
    path = PurePosixPath(member.name)
    if (
        not member.isreg()
        or path.is_absolute()
        or not path.parts
        or any(part in ("", ".", "..") for part in path.parts)
        or str(path) in SKIPPED - {DATABASE_FILE}
        or path.parts[0].startswith(STAGING_PREFIX)
    ):
        raise BackupError(
            N_("the backup holds an unexpected entry %(name)s; refused"), name=repr(member.name)
        )
    return str(path)


def _verify(manifest: Manifest, files: Path) -> None:
    present = {path.relative_to(files).as_posix() for path in files.rglob("*") if path.is_file()}
    if present != set(manifest.files):
        raise BackupError(
            N_(
                "the backup's files do not match its manifest (missing: %(missing)s, "
                "unexpected: %(unexpected)s)"
            ),
            missing=sorted(set(manifest.files) - present),
            unexpected=sorted(present - set(manifest.files)),
        )
    for name, expected in manifest.files.items():
        if _file_info(files / name) != expected:
            raise BackupError(
                N_("%(file)s in the backup is damaged (size or SHA-256 differs)"), file=name
            )
    for required in (KEY_FILE, DATABASE_FILE):
        if required not in present:
            raise BackupError(N_("the backup has no %(file)s"), file=required)
    try:
        origin = read_origin(files) or NodeKey.load(files / KEY_FILE).origin
    except KeyFileError as exc:
        raise BackupError(N_("the backup's key cannot be used: %(error)s"), error=exc) from None
    if origin != manifest.origin:
        raise BackupError(N_("the backup's key does not match its manifest"))
    inspection = database_files.inspect(files / DATABASE_FILE, origin=None, timeout=5)
    status, schema = inspection.status, inspection.schema_version
    if status != "ok":
        raise BackupError(N_("the backup's database is damaged (%(status)s)"), status=status)
    if schema > LATEST:
        # Restoring it would leave a node that refuses to start.
        raise BackupError(
            N_("%(error)s"), error=SchemaTooNew(schema, Phrase(N_(" of this backup")))
        )


def install(staged: StagedBackup, data_dir: Path) -> None:
    """Put the staged files in place. The ``restored`` marker comes first: if this stops
    half-way, the node still refuses to write until it has caught up (or a new restore)."""
    marker = data_dir / RESTORED_MARKER
    descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        # For people and 'papi doctor': which backup, and how far its log went.
        manifest = staged.manifest
        handle.write(f"restored {manifest.origin} seq {manifest.head_seq} of {manifest.created}\n")
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_directory(data_dir)
    (data_dir / NEW_LOG_MARKER).unlink(missing_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        # A journal of the replaced database must never be applied to the restored one.
        (data_dir / f"{DATABASE_FILE}{suffix}").unlink(missing_ok=True)
    for name in sorted(staged.manifest.files):
        destination = data_dir / name
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(staged.directory / name, destination)
    _fsync_directory(data_dir)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def describe(data_dir: Path) -> tuple[str | None, int]:
    """What a data directory holds now (for the confirmation): origin and log head."""
    try:
        origin = read_origin(data_dir) or NodeKey.load(data_dir / KEY_FILE).origin
    except KeyFileError:
        return None, 0
    database = data_dir / DATABASE_FILE
    return origin, _head_seq(database, origin) if database.is_file() else 0
