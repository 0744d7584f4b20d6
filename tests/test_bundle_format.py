"""The bundle container (federation/bundle.py): what the writer produces is a ustar
archive other tools read, and the reader accepts only the format, as a stream, within
its bounds."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from federation import bundle
from federation.bundle import BundleError, Member, TooLong, TruncatedArchive, UnsupportedVersion

ORIGIN = "ed25519:9naoq6vyWHhjVtZ9az4T0gh5aGGTqO8QNE6bbYth_QE"
SHA = "ab" * 32


def archive(members: list[tuple[str, bytes]], *, end: bool = True) -> bytes:
    out = io.BytesIO()
    for name, data in members:
        bundle.write_member(out, name, len(data), io.BytesIO(data), 1_700_000_000)
    if end:
        out.write(bundle.END_OF_ARCHIVE)
    return out.getvalue()


def read(data: bytes) -> list[tuple[str, bytes]]:
    found = []
    for member in bundle.members(io.BytesIO(data)):
        parts = []
        while chunk := member.read(1000):
            parts.append(chunk)
        found.append((member.name, b"".join(parts)))
    return found


def manifest(**changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "format": "papi-bundle",
        "version": 1,
        "created": "2026-11-26T09:30:00Z",
        "origin": ORIGIN,
        "entries": 2,
        "blobs": [{"sha256": SHA, "size": 3}],
    }
    document.update(changes)
    return document


def test_written_archive_is_read_back_and_by_python_tarfile() -> None:
    members = [
        (bundle.MANIFEST, bundle.dump_json(manifest())),
        (bundle.ENTRIES, b'{"a":1}\n{"b":2}\n'),
        (bundle.blob_member(SHA), b"\x00\xff" * 700),  # not a multiple of 512
    ]
    data = archive(members)
    assert len(data) % 512 == 0
    assert read(data) == members
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        assert tar.getnames() == [name for name, _ in members]
        assert all(m.isfile() and m.mode == 0o644 for m in tar.getmembers())
        blob = tar.extractfile(bundle.blob_member(SHA))
        assert blob is not None and blob.read() == members[2][1]


def test_archive_written_by_python_tarfile_in_ustar_is_read() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in [(bundle.MANIFEST, b"{}"), (bundle.ENTRIES, b"x\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert read(out.getvalue()) == [(bundle.MANIFEST, b"{}"), (bundle.ENTRIES, b"x\n")]


def test_pax_members_are_refused() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("é" * 120)  # forces a pax header
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BundleError, match="not a regular file"):
        read(out.getvalue())


def test_a_damaged_header_is_refused() -> None:
    data = bytearray(archive([(bundle.MANIFEST, b"{}")]))
    data[3] ^= 1  # a byte of the name
    with pytest.raises(BundleError, match="checksum"):
        read(bytes(data))


@pytest.mark.parametrize("cut", [100, 512 + 1, 1024, 1024 + 512])
def test_truncation_is_detected(cut: int) -> None:
    data = archive([(bundle.MANIFEST, b"{}"), (bundle.ENTRIES, b"y" * 600)])
    with pytest.raises(BundleError) as caught:
        read(data[:cut])
    if cut > 512:
        assert isinstance(caught.value, TruncatedArchive)


def test_sizes_come_from_the_header_never_beyond_the_data() -> None:
    data = archive([(bundle.ENTRIES, b"z" * 10)], end=False)
    member = next(bundle.members(io.BytesIO(data)))
    assert member.size == 10 and member.read(4) == b"zzzz" and member.read() == b"z" * 6
    assert member.read() == b""


def lines_of(data: bytes, max_bytes: int) -> list[bytes | TooLong]:
    member = Member("entries.jsonl", len(data), io.BytesIO(data), len(data))
    return list(bundle.lines(member, max_bytes))


def test_lines_bounded_without_holding_long_ones() -> None:
    data = b"short\n" + b"L" * 50 + b"\nok\n\nlast"
    assert lines_of(data, 10) == [b"short", TooLong(50), b"ok", b"", b"last"]
    assert lines_of(b"a\n" + b"x" * 11, 10) == [b"a", TooLong(11)]
    assert lines_of(b"x" * 10 + b"\n", 10) == [b"x" * 10]


def test_lines_across_chunks() -> None:
    data = b"\n".join([b"a" * 300_000, b"b" * 10]) + b"\n"
    assert lines_of(data, 400_000) == [b"a" * 300_000, b"b" * 10]


def test_manifest_version_is_checked_first() -> None:
    with pytest.raises(UnsupportedVersion) as caught:
        bundle.parse_manifest(json.dumps(manifest(version=2, novelty=True)).encode())
    assert caught.value.version == 2
    with pytest.raises(BundleError, match="format"):
        bundle.parse_manifest(json.dumps(manifest(format="papi-backup")).encode())
    with pytest.raises(BundleError, match="invalid"):
        bundle.parse_manifest(json.dumps(manifest(entries=-1)).encode())
    with pytest.raises(BundleError, match="not JSON"):
        bundle.parse_manifest(b"\xff{")
    assert bundle.parse_manifest(bundle.dump_json(manifest()))["entries"] == 2


def test_vector_file_is_bounded_and_checked() -> None:
    good = {
        "format": "papi-vector",
        "version": 1,
        "origin": ORIGIN,
        "created": "2026-11-26T09:30:00Z",
        "vector": {ORIGIN: 3},
    }
    assert bundle.parse_vector_file(json.dumps(good).encode())["vector"] == {ORIGIN: 3}
    with pytest.raises(BundleError, match="at most"):
        bundle.parse_vector_file(b" " * (bundle.MAX_VECTOR_FILE_BYTES + 1))
    with pytest.raises(BundleError, match="invalid"):
        bundle.parse_vector_file(json.dumps({**good, "vector": {"x": 1}}).encode())


def test_blob_member_names() -> None:
    assert bundle.blob_of(bundle.blob_member(SHA)) == SHA
    assert bundle.blob_of("blobs/" + SHA.upper()) is None
    assert bundle.blob_of("blobs/../" + SHA) is None
    assert bundle.blob_of("blobs/" + SHA + "\n") is None
