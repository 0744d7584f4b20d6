"""``papi vector``, ``papi bundle export`` and ``papi bundle import``: entries and blobs
carried by hand (a USB stick to Ouessant or Molène), docs/protocol.md section 15.

Export writes what a vector file's node lacks, chosen as a sync answer chooses it (the
missing ranges of the version vectors; frozen origins left out, their fork evidence sent
instead), then the blobs those entries list and the blobs the vector file asks for.

Import reads the bundle as a stream and hands the entries, a batch at a time, to the
node's ``Ingestor`` as a sync round does (``sender=None``: the operator brought them,
as for a peer added by hand): each one is verified on its own, and what is refused costs
only itself (and what follows it in its log, kept aside beyond the gap). A blob is kept
only if an object this node holds lists it (a resource's attachment, a photo) with that size
and its bytes hash to its name.

These run in the ``papi`` command's process, not in the server's: file I/O is plain, and
the operator's messages speak the command line's language (``locale_text``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from federation import bundle
from federation.bundle import BundleError, Member, TooLong, TruncatedArchive, UnsupportedVersion
from federation.errors import EntryRejected, EntryTooLarge, MalformedEntry
from federation.timeutil import format_ts, utc_now
from federation.vector import Vector, missing_ranges, vector_digest

from ..i18n import locale_text as _
from ..store import blobs as blob_rows
from .blobs import (
    BLOB_MEMBERS,
    STILL_WANTED,
    blobs_of,
    forget_corrupt,
    held,
    keep,
    references,
    usage,
)
from .entries import Range, pages
from .ingest import IngestReport
from .receive import DiskFull, receive
from .sync import FROZEN_SEQ, current_vector, fork_evidence, frozen_origins

if TYPE_CHECKING:
    from ..runtime import Node

#: Entries handed to the ingestor at once, and about how many of their bytes.
BATCH_ENTRIES = 500
BATCH_BYTES = 8 * 1024 * 1024
#: Entries read from the database per page while exporting.
EXPORT_PAGE = 500


class BundleRefused(Exception):
    """The bundle cannot be used at all (or the export cannot be written); nothing
    was stored. The message is for the operator."""


# -- vector file --------------------------------------------------------------------------


async def vector_document(node: Node) -> dict[str, Any]:
    """This node's vector file: its vector as it asks a peer in a sync round (frozen
    origins claimed complete), and the blobs it still wants."""
    vector = await current_vector(node.db)
    vector.update((origin, FROZEN_SEQ) for origin in await frozen_origins(node.db))
    wanted = await blob_rows.wanted_shas(node.db.connection(), states=STILL_WANTED, limit=10_000)
    document: dict[str, Any] = {
        "format": bundle.VECTOR_FORMAT,
        "version": bundle.VERSION,
        "origin": node.origin,
        "created": format_ts(utc_now()),
        "vector": dict(sorted(vector.items())),
    }
    if wanted:
        document["wants"] = wanted
    return document


def read_vector_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = handle.read(bundle.MAX_VECTOR_FILE_BYTES + 1)
    except OSError as exc:
        raise BundleRefused(
            _("cannot read %(file)s: %(error)s", file=path, error=exc.strerror or exc)
        ) from None
    try:
        return bundle.parse_vector_file(data)
    except BundleError as exc:
        raise BundleRefused(_unreadable(path, _("vector file"), exc)) from None


def _unreadable(path: Path, what: str, exc: BundleError) -> str:
    if isinstance(exc, UnsupportedVersion):
        return _(
            "%(file)s is a %(what)s in format version %(version)s, which this "
            "version of papi-node cannot read (it reads version %(known)d): "
            "upgrade papi-node on this node",
            file=path,
            what=what,
            version=exc.version,
            known=bundle.VERSION,
        )
    return _("%(file)s is not a readable %(what)s: %(error)s", file=path, what=what, error=exc)


# -- export -------------------------------------------------------------------------------


@dataclass
class ExportReport:
    entries: int = 0
    origins: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    #: Blobs the entries list (or the vector file wants) that this node does not hold.
    blobs_missing: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)


#: ``progress(step, done, total)``: step is "entries" or "blobs".
ExportProgress = Callable[[str, int, int], None]


async def export_bundle(
    node: Node,
    output: Path,
    theirs: dict[str, Any] | None = None,
    progress: ExportProgress | None = None,
) -> ExportReport:
    """Write the bundle of what the node of vector file ``theirs`` lacks (everything
    when None) to ``output``, which must not exist; written aside, then renamed."""
    if output.exists():
        raise BundleRefused(
            _("%(file)s already exists: choose another name or delete it first", file=output)
        )
    report = ExportReport()
    their_vector: Vector = dict(theirs["vector"]) if theirs else {}
    with _aside(output) as (entries_file, archive_file):
        wanted = await _write_entries(node, entries_file, their_vector, report, progress)
        for sha256 in theirs.get("wants", []) if theirs else []:
            wanted.setdefault(sha256, 0)
        blobs = await _held_blobs(node, wanted, report)
        report.manifest = _manifest(node, theirs, report.entries, blobs)
        _write_archive(archive_file, report.manifest, entries_file, blobs, report, progress)
    return report


@contextlib.contextmanager
def _aside(output: Path) -> Iterator[tuple[IO[bytes], BinaryIO]]:
    """A temporary file for ``entries.jsonl`` and the archive being written next to
    ``output`` (renamed to it at the end, so that a half-written bundle never exists)."""
    folder = output.parent
    if not folder.is_dir():
        raise BundleRefused(_("the folder %(folder)s does not exist", folder=folder))
    partial = output.with_name(f".{output.name}.part")
    with tempfile.TemporaryFile(dir=folder) as entries, partial.open("wb") as archive:
        try:
            yield entries, archive
            archive.flush()
            os.fsync(archive.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, output)


async def _write_entries(
    node: Node,
    out: IO[bytes],
    theirs: Vector,
    report: ExportReport,
    progress: ExportProgress | None,
) -> dict[str, int]:
    """Write the entries ``theirs`` lacks as JSON lines; return the blobs they list."""
    mine = await current_vector(node.db)
    frozen = await frozen_origins(node.db)
    async with node.db.transaction() as conn:
        evidence = await fork_evidence(conn, frozen, theirs)
    ranges = {o: after for o, after in missing_ranges(mine, theirs).items() if o not in frozen}
    total = len(evidence) + sum(mine[o] - after for o, after in ranges.items())
    blobs: dict[str, int] = {}

    def write(document: dict[str, Any]) -> None:
        out.write(bundle.dump_json(document) + b"\n")
        report.entries += 1
        kind = document["header"]["kind"]
        if kind in BLOB_MEMBERS and isinstance(document["payload"], dict):
            # Attachments of resources, photos of equipment and places.
            for attachment in blobs_of(kind, document["payload"]):
                blobs.setdefault(str(attachment["sha256"]), int(attachment["size"]))

    for document in evidence:
        write(document)
    for origin, after in sorted(ranges.items()):
        report.origins += 1
        wanted = [Range(origin, after, mine[origin] - after)]
        async for page in pages(node.db, wanted, page_size=EXPORT_PAGE):
            for entry in page:
                write(entry.document())
            if progress:
                progress("entries", report.entries, total)
    return blobs


async def _held_blobs(node: Node, wanted: dict[str, int], report: ExportReport) -> list[Any]:
    """(sha256, size, path) of the blobs of ``wanted`` this node holds, bytes verified.
    A size 0 (a blob the vector file wants) is taken from the resources that list it."""
    held: list[tuple[str, int, Path]] = []
    conn = node.db.connection()
    for sha256, size in sorted(wanted.items()):
        if not size:
            sizes = {ref.size for ref in await references(conn, sha256)}
            size = sizes.pop() if len(sizes) == 1 else 0
        path = await node.blobs.verified_path(sha256, size) if size else None
        if path is None:
            report.blobs_missing += 1
            continue
        held.append((sha256, size, path))
    return held


def _manifest(
    node: Node, theirs: dict[str, Any] | None, entries: int, blobs: list[Any]
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "format": bundle.FORMAT,
        "version": bundle.VERSION,
        "created": format_ts(utc_now()),
        "origin": node.origin,
    }
    if theirs is not None:
        manifest["for"] = {"origin": theirs["origin"], "digest": vector_digest(theirs["vector"])}
    manifest["entries"] = entries
    manifest["blobs"] = [{"sha256": sha256, "size": size} for sha256, size, _size in blobs]
    return manifest


def _write_archive(
    out: BinaryIO,
    manifest: dict[str, Any],
    entries: IO[bytes],
    blobs: list[Any],
    report: ExportReport,
    progress: ExportProgress | None,
) -> None:
    now = int(time.time())
    document = bundle.dump_json(manifest)
    bundle.write_member(out, bundle.MANIFEST, len(document), io.BytesIO(document), now)
    size = entries.tell()
    entries.seek(0)
    bundle.write_member(out, bundle.ENTRIES, size, entries, now)
    for index, (sha256, blob_size, path) in enumerate(blobs, 1):
        # A blob is never changed in place (a new file is renamed over it): the open file
        # keeps the verified bytes even if it is replaced or dropped meanwhile.
        with path.open("rb") as source:
            bundle.write_member(out, bundle.blob_member(sha256), blob_size, source, now)
        report.blobs += 1
        report.blob_bytes += blob_size
        if progress:
            progress("blobs", index, len(blobs))
    out.write(bundle.END_OF_ARCHIVE)


# -- import -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRejection:
    """An entry of the bundle that was not stored: its line in ``entries.jsonl``."""

    line: int
    origin: str | None
    seq: int | None
    code: str
    reason: str


@dataclass(frozen=True)
class BlobRejection:
    name: str
    reason: str


@dataclass
class ImportReport:
    manifest: dict[str, Any] = field(default_factory=dict)
    lines: int = 0
    accepted: int = 0
    duplicate: int = 0
    pending: int = 0
    rejected: list[LineRejection] = field(default_factory=list)
    blobs_kept: int = 0
    blobs_held: int = 0
    blobs_rejected: list[BlobRejection] = field(default_factory=list)
    #: What is wrong with the archive itself (truncated, unexpected member...).
    problems: list[str] = field(default_factory=list)
    #: Worth knowing, nothing wrong (a bundle written for another node).
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.rejected or self.blobs_rejected or self.problems)


#: ``progress(report)`` after each batch of entries and each blob.
ImportProgress = Callable[[ImportReport], None]


async def import_bundle(
    node: Node, path: Path, progress: ImportProgress | None = None
) -> ImportReport:
    """Verify and store what the bundle at ``path`` holds, entry by entry and blob by
    blob. ``BundleRefused`` when it is not a bundle this node can read (nothing stored);
    otherwise the report says what became of each part."""
    report = ImportReport()
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BundleRefused(
            _("cannot read %(file)s: %(error)s", file=path, error=exc.strerror or exc)
        ) from None
    with source:
        await _read_bundle(node, path, source, report, progress)
    return report


async def _read_bundle(
    node: Node,
    path: Path,
    source: BinaryIO,
    report: ImportReport,
    progress: ImportProgress | None,
) -> None:
    members = bundle.members(source)
    try:
        first = next(members, None)
        if first is None or first.name != bundle.MANIFEST:
            raise BundleError(f"its first member is not {bundle.MANIFEST}")
        if first.size > bundle.MAX_MANIFEST_BYTES:
            raise BundleError(f"its manifest is larger than {bundle.MAX_MANIFEST_BYTES} bytes")
        report.manifest = bundle.parse_manifest(_read_all(first))
    except BundleError as exc:
        message = _unreadable(path, _("bundle"), exc)
        raise BundleRefused(_("%(why)s; nothing was imported", why=message)) from None
    meant = report.manifest.get("for", {}).get("origin", node.origin)
    if meant != node.origin:
        report.notes.append(
            _(
                "this bundle was prepared for node %(other)s, not for this one: "
                "entries may be missing from it (they will stay waiting)",
                other=meant,
            )
        )
    listed = {blob["sha256"]: int(blob["size"]) for blob in report.manifest["blobs"]}
    seen_entries = False
    try:
        for member in members:
            if member.name == bundle.ENTRIES and not seen_entries:
                seen_entries = True
                await _import_entries(node, member, report, progress)
                continue
            sha256 = bundle.blob_of(member.name)
            if sha256 is None or not seen_entries:
                where = _("before entries.jsonl") if sha256 is not None else _("unexpected")
                report.problems.append(
                    _("item %(name)r ignored (%(where)s)", name=member.name, where=where)
                )
                continue
            await _import_blob(node, member, sha256, listed.pop(sha256, None), report)
            if progress:
                progress(report)
    except TruncatedArchive as exc:
        report.problems.append(
            _(
                "the bundle is truncated (%(error)s): only what comes before was "
                "read; copy it again from the original",
                error=exc,
            )
        )
    except BundleError as exc:
        report.problems.append(
            _("the bundle is damaged (%(error)s): only what comes before was read", error=exc)
        )
    if not seen_entries and not report.problems:
        report.problems.append(_("the bundle has no entries.jsonl file"))
    if report.lines != report.manifest["entries"] and seen_entries:
        report.problems.append(
            _(
                "the manifest announces %(announced)d entries, %(found)d were found",
                announced=report.manifest["entries"],
                found=report.lines,
            )
        )
    for sha256 in sorted(listed):
        report.blobs_rejected.append(
            BlobRejection(sha256, _("announced by the manifest, missing from the bundle"))
        )


def _read_all(member: Member) -> bytes:
    parts: list[bytes] = []
    while chunk := member.read():
        parts.append(chunk)
    return b"".join(parts)


async def _import_entries(
    node: Node, member: Member, report: ImportReport, progress: ImportProgress | None
) -> None:
    batch: list[tuple[int, Any]] = []
    try:
        await _read_entries(node, member, report, progress, batch)
    finally:
        # The whole lines read before the archive ended (or broke) are stored all the same.
        if batch:
            await _ingest(node, batch, report)
    if progress:
        progress(report)


async def _read_entries(
    node: Node,
    member: Member,
    report: ImportReport,
    progress: ImportProgress | None,
    batch: list[tuple[int, Any]],
) -> None:
    size = 0
    for line in bundle.lines(member):
        report.lines += 1
        number = report.lines
        if isinstance(line, TooLong):
            _reject(report, number, None, EntryTooLarge(f"line of {line.size} bytes"))
            continue
        try:
            document = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            _reject(report, number, None, MalformedEntry(f"the line is not JSON: {exc}"))
            continue
        batch.append((number, document))
        size += len(line)
        if len(batch) >= BATCH_ENTRIES or size >= BATCH_BYTES:
            await _ingest(node, batch, report)
            batch.clear()
            size = 0
            if progress:
                progress(report)


def _reject(report: ImportReport, line: int, document: Any, exc: EntryRejected) -> None:
    header = document.get("header") if isinstance(document, dict) else None
    origin = header.get("origin") if isinstance(header, dict) else None
    seq = header.get("seq") if isinstance(header, dict) else None
    report.rejected.append(
        LineRejection(
            line,
            origin if isinstance(origin, str) else None,
            seq if isinstance(seq, int) else None,
            exc.code,
            exc.message,
        )
    )


async def _ingest(node: Node, batch: list[tuple[int, Any]], report: ImportReport) -> None:
    """The receive path of pushes and sync rounds (services/receive.py). A full disk stops
    the import (what was stored stays)."""
    documents = [document for _number, document in batch]
    try:
        result: IngestReport = await receive(node, documents, sender=None, source="bundle import")
    except DiskFull:
        raise BundleRefused(
            _(
                "the disk is full after %(n)d entries stored: free some space, then "
                "import the same bundle again (what is already stored is "
                "recognised)",
                n=report.accepted,
            )
        ) from None
    report.accepted += len(result.accepted)
    report.duplicate += len(result.duplicate)
    report.pending += len(result.pending)
    for rejection in result.rejected:
        report.rejected.append(
            LineRejection(
                batch[rejection.index][0],
                rejection.origin,
                rejection.seq,
                rejection.code,
                rejection.reason,
            )
        )


async def _import_blob(
    node: Node, member: Member, sha256: str, listed: int | None, report: ImportReport
) -> None:
    """Keep one blob if this node wants it and its bytes are right; else say why not."""
    settings = node.settings
    conn = node.db.connection()

    def refuse(reason: str) -> None:
        report.blobs_rejected.append(BlobRejection(sha256, reason))

    if listed is None:
        return refuse(_("missing from the manifest"))
    if member.size != listed:
        return refuse(
            _(
                "%(size)d bytes, the manifest announces %(listed)d",
                size=member.size,
                listed=listed,
            )
        )
    sizes = {ref.size for ref in await references(conn, sha256)}
    if member.size not in sizes:
        return refuse(
            _("no resource of this node cites this attachment")
            if not sizes
            else _(
                "the resources that cite it give another size (%(size)d bytes)",
                size=sorted(sizes)[0],
            )
        )
    if await held(conn, sha256) is not None:
        if await node.blobs.verified_path(sha256, member.size) is not None:
            report.blobs_held += 1
            return None
        # Its file was damaged: this copy replaces it.
        await forget_corrupt(node.db, node.blobs, sha256)
    if member.size > settings.blob_max_bytes:
        return refuse(_("larger than blob_max_bytes (%(max)d bytes)", max=settings.blob_max_bytes))
    if await usage(conn) + member.size > settings.blob_quota_bytes:
        return refuse(
            _(
                "the attachments' quota (blob_quota_bytes, %(quota)d bytes) is full",
                quota=settings.blob_quota_bytes,
            )
        )
    writer = node.blobs.writer(member.size)
    try:
        while chunk := member.read():
            writer.write(chunk)
        received = await writer.finish()
    except BaseException:
        writer.abort()
        raise
    if received.sha256 != sha256 or received.size != member.size:
        node.blobs.discard(received)
        return refuse(_("its content does not match its SHA-256 fingerprint (damaged or modified)"))
    await keep(node.db, node.blobs, received)
    report.blobs_kept += 1
    return None
