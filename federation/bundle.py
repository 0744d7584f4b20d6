"""Sneakernet bundles and vector files (docs/protocol.md section 15): the file format.

A bundle is an uncompressed POSIX ustar archive whose members come in this order:
``papi-bundle.json`` (the manifest), ``entries.jsonl`` (one signed entry per line, as on
the wire) and ``blobs/<sha256>`` (the bytes of attachments, named by their hash). Nothing
in it is trusted: every entry carries its own signature and every blob its name, so a
bundle needs no signature of its own, and a damaged one costs only what is damaged.

Uncompressed on purpose: the file is as large as what it holds, so no small file can
expand into a huge one (no "zip bomb"), and every size the reader meets is bounded by the
file's own. The reader below reads the archive as a stream (nothing is seeked, nothing
held whole in memory) and accepts only what the format allows: regular files, no pax or
GNU extensions, checksums right, sizes in octal.

A vector file (``papi vector``) tells the exporting node what the importing one holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from .errors import FederationError, SchemaError
from .schema import validate

FORMAT = "papi-bundle"
VECTOR_FORMAT = "papi-vector"
#: The only version of both formats this implementation reads and writes.
VERSION = 1
MANIFEST = "papi-bundle.json"
ENTRIES = "entries.jsonl"
BLOBS = "blobs/"
#: Bounds a reader applies before parsing anything (the manifest lists up to 50,000
#: blobs of about 100 bytes each; a vector holds up to 100,000 origins of about 60).
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_VECTOR_FILE_BYTES = 16 * 1024 * 1024
#: Longest line of ``entries.jsonl``, newline excluded: a resource's payload may be 1 MiB
#: of canonical JSON, up to three times that with ``\\uXXXX`` escapes.
MAX_LINE_BYTES = 4 * 1024 * 1024

BLOCK = 512
_CHUNK = 256 * 1024
_BLOB_NAME = re.compile(r"blobs/([0-9a-f]{64})")


class BundleError(FederationError):
    """The file is not a bundle (or vector file) this implementation can read at all."""


class UnsupportedVersion(BundleError):
    """A bundle or vector file of a format version this implementation does not read."""

    def __init__(self, message: str, version: Any) -> None:
        super().__init__(message)
        self.version = version


class TruncatedArchive(BundleError):
    """The archive ends in the middle of a member or before its end-of-archive blocks."""


# -- manifest and vector file -----------------------------------------------------------


def _check_format(document: Any, expected: str, what: str) -> dict[str, Any]:
    """The format and version first, so that a newer file says so rather than failing
    the schema on its first unknown member."""
    if not isinstance(document, dict) or document.get("format") != expected:
        raise BundleError(f"this is not a {what} (its format is not {expected!r})")
    version = document.get("version")
    if version != VERSION:
        raise UnsupportedVersion(
            f"{what} format version {version!r}: this software reads version {VERSION} only",
            version,
        )
    return document


def parse_manifest(data: bytes) -> dict[str, Any]:
    """The manifest in ``data``, checked against ``urn:papi:bundle-manifest``."""
    document = _check_format(_json(data, "the manifest"), FORMAT, "papi bundle")
    try:
        validate("urn:papi:bundle-manifest", document)
    except SchemaError as exc:
        raise BundleError(f"the manifest is invalid: {exc.message}") from None
    return document


def parse_vector_file(data: bytes) -> dict[str, Any]:
    """A vector file, checked against ``urn:papi:vector-file``."""
    if len(data) > MAX_VECTOR_FILE_BYTES:
        raise BundleError(f"a vector file is at most {MAX_VECTOR_FILE_BYTES} bytes")
    document = _check_format(_json(data, "the vector file"), VECTOR_FORMAT, "papi vector file")
    try:
        validate("urn:papi:vector-file", document)
    except SchemaError as exc:
        raise BundleError(f"the vector file is invalid: {exc.message}") from None
    return document


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BundleError(f"{what} is not JSON: {exc}") from None


def dump_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, as every JSON member of a bundle is written."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def blob_member(sha256: str) -> str:
    return BLOBS + sha256


def blob_of(name: str) -> str | None:
    """The SHA-256 a member name ``blobs/<sha256>`` stands for, or None."""
    match = _BLOB_NAME.fullmatch(name)
    return match.group(1) if match else None


# -- writing ----------------------------------------------------------------------------


def ustar_header(name: str, size: int, mtime: int) -> bytes:
    """The 512-byte ustar header of a regular file (mode 0644, owner 0, no names)."""
    encoded = name.encode()
    if len(encoded) > 100:
        raise ValueError(f"member name {name!r} is longer than 100 bytes")
    if not 0 <= size < 8**11:
        raise ValueError(f"member {name!r}: {size} bytes do not fit a ustar header")
    header = bytearray(BLOCK)
    header[0 : len(encoded)] = encoded
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"%011o\0" % max(0, min(mtime, 8**11 - 1))
    header[148:156] = b" " * 8
    header[156:157] = b"0"
    header[257:265] = b"ustar\x0000"
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


#: Two zero blocks end an archive.
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def write_member(out: BinaryIO, name: str, size: int, source: Readable, mtime: int) -> None:
    """Append one member: header, exactly ``size`` bytes copied from ``source``, padding."""
    out.write(ustar_header(name, size, mtime))
    left = size
    while left:
        chunk = source.read(min(_CHUNK, left))
        if not chunk:
            raise ValueError(f"{name}: the source ended {left} bytes early")
        out.write(chunk)
        left -= len(chunk)
    out.write(padding(size))


# -- reading ----------------------------------------------------------------------------


@dataclass
class Member:
    """One member being read: ``read`` its bytes (at most ``size`` in all) in order."""

    name: str
    size: int
    _stream: BinaryIO
    _left: int

    def read(self, limit: int = _CHUNK) -> bytes:
        """Up to ``limit`` more bytes; ``b""`` once all are read."""
        if self._left <= 0:
            return b""
        data = self._stream.read(min(limit, self._left))
        if not data:
            raise TruncatedArchive(
                f"the archive ends {self._left} bytes before the end of {self.name}"
            )
        self._left -= len(data)
        return data

    def skip(self) -> None:
        while self.read():
            pass


@dataclass(frozen=True)
class TooLong:
    """A line of ``entries.jsonl`` longer than allowed (its bytes were skipped)."""

    size: int


def lines(member: Member, max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes | TooLong]:
    """The lines of ``member`` without their newline; an over-long line as ``TooLong``,
    never held in memory beyond ``max_bytes``. A last line without newline is a line."""
    buffer = bytearray()
    skipping = 0  # bytes of an over-long line dropped so far
    while True:
        chunk = member.read()
        if not chunk:
            break
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if skipping:
                skipping += len(piece)
            elif len(buffer) + len(piece) > max_bytes:
                skipping = len(buffer) + len(piece)
                buffer.clear()
            else:
                buffer += piece
            if end < 0:
                break
            if skipping:
                yield TooLong(skipping)
            else:
                yield bytes(buffer)
            buffer.clear()
            skipping = 0
            start = end + 1
    if skipping:
        yield TooLong(skipping)
    elif buffer:
        yield bytes(buffer)


def _octal(field: bytes, what: str) -> int:
    text = field.rstrip(b"\0 ").lstrip(b" ")
    if not text or not all(48 <= byte <= 55 for byte in text):
        raise BundleError(f"member header: {what} is not an octal number")
    return int(text, 8)


def _parse_header(block: bytes) -> tuple[str, int]:
    stored = _octal(block[148:156], "the checksum")
    if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
        raise BundleError("a member header is damaged (wrong checksum)")
    if not block[257:262] == b"ustar":
        raise BundleError("the archive is not in ustar format")
    kind = block[156:157]
    name = block[0:100].split(b"\0", 1)[0]
    prefix = block[345:500].split(b"\0", 1)[0]
    if prefix:
        name = prefix + b"/" + name
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("a member name is not UTF-8") from None
    if kind not in (b"0", b"\0"):
        raise BundleError(
            f"member {text!r} is not a regular file (type {kind!r}): pax, GNU and link"
            " members are not allowed"
        )
    return text, _octal(block[124:136], "the size")


def members(stream: BinaryIO) -> Iterator[Member]:
    """The members of the archive in ``stream``, in order. Each must be read (or
    skipped) before the next is asked for; the previous one is skipped if it was not.
    ``TruncatedArchive`` when the data ends early, ``BundleError`` when a header is not
    one of the format."""
    current: Member | None = None
    first = True
    while True:
        if current is not None:
            current.skip()
            _read_exactly(stream, -current.size % BLOCK, current.name)
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            if first:
                raise BundleError("the file is too short to be an archive")
            raise TruncatedArchive("the archive ends without its end-of-archive blocks")
        first = False
        if block == b"\0" * BLOCK:
            return
        name, size = _parse_header(block)
        current = Member(name, size, stream, size)
        yield current


def _read_exactly(stream: BinaryIO, size: int, name: str) -> None:
    if size and len(stream.read(size)) < size:
        raise TruncatedArchive(f"the archive ends in the padding of {name}")
