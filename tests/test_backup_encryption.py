"""The passphrase encryption of backups (node/ops/sealing.py): round trips at segment
boundaries, and every kind of damage refused."""

from __future__ import annotations

import io
import os
import struct

import pytest

from node.ops import sealing

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small Argon2id parameters for speed; they travel in the header, as real ones do."""
    monkeypatch.setattr(sealing, "MEMORY_KIB", 64)
    monkeypatch.setattr(sealing, "ITERATIONS", 1)
    monkeypatch.setattr(sealing, "LANES", 1)


def seal(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    target = io.BytesIO()
    sealing.seal(io.BytesIO(data), target, passphrase)
    return target.getvalue()


def unseal(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    target = io.BytesIO()
    sealing.unseal(io.BytesIO(data), target, passphrase)
    return target.getvalue()


def test_default_parameters_round_trip() -> None:
    data = os.urandom(1000)
    sealed = seal(data)
    assert sealed[:8] == b"PAPISEAL" and sealed[8] == 1
    assert struct.unpack(">III", sealed[9:21]) == (64 * 1024, 3, 4)
    assert len(sealed) == sealing.HEADER_SIZE + len(data) + sealing.TAG
    assert unseal(sealed) == data


@pytest.mark.usefixtures("cheap_kdf")
@pytest.mark.parametrize(
    "size", [0, 1, sealing.SEGMENT - 1, sealing.SEGMENT, sealing.SEGMENT + 1, 3 * sealing.SEGMENT]
)
def test_round_trip_at_segment_boundaries(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    segments = max(1, -(-size // sealing.SEGMENT))  # a full last segment is flagged last
    assert len(sealed) == sealing.HEADER_SIZE + size + segments * sealing.TAG
    assert unseal(sealed) == data


@pytest.mark.usefixtures("cheap_kdf")
def test_same_input_never_gives_the_same_file() -> None:
    assert seal(b"x") != seal(b"x")


@pytest.mark.usefixtures("cheap_kdf")
def test_wrong_passphrase() -> None:
    with pytest.raises(sealing.SealError, match="wrong passphrase"):
        unseal(seal(b"secret"), "another passphrase")


@pytest.mark.usefixtures("cheap_kdf")
def test_truncation_at_a_segment_boundary_is_detected() -> None:
    sealed = seal(os.urandom(2 * sealing.SEGMENT + 10))
    first_two = sealing.HEADER_SIZE + 2 * (sealing.SEGMENT + sealing.TAG)
    with pytest.raises(sealing.SealError, match="damaged or truncated"):
        unseal(sealed[:first_two])
    with pytest.raises(sealing.SealError):
        unseal(sealed[: sealing.HEADER_SIZE])


@pytest.mark.usefixtures("cheap_kdf")
def test_reordered_segments_are_detected() -> None:
    sealed = seal(os.urandom(3 * sealing.SEGMENT))
    size = sealing.SEGMENT + sealing.TAG
    start = sealing.HEADER_SIZE
    one, two = sealed[start : start + size], sealed[start + size : start + 2 * size]
    swapped = sealed[:start] + two + one + sealed[start + 2 * size :]
    with pytest.raises(sealing.SealError):
        unseal(swapped)


@pytest.mark.usefixtures("cheap_kdf")
@pytest.mark.parametrize("offset", [9, 30, sealing.HEADER_SIZE + 5, -1])
def test_any_changed_byte_is_detected(offset: int) -> None:
    sealed = bytearray(seal(b"data " * 100))
    sealed[offset] ^= 0x01
    with pytest.raises(sealing.SealError):
        unseal(bytes(sealed))


def test_parameters_out_of_bounds_are_refused_before_any_work() -> None:
    header = struct.pack(
        ">8sBIII16s7s", b"PAPISEAL", 1, 64 * 1024 * 1024, 3, 4, b"s" * 16, b"n" * 7
    )
    with pytest.raises(sealing.SealError, match="out of bounds"):
        unseal(header + b"\x00" * 32)


def test_not_a_sealed_file() -> None:
    with pytest.raises(sealing.SealError, match="not an encrypted"):
        unseal(b"\x1f\x8b" + b"\x00" * 100)
    with pytest.raises(sealing.SealError, match="version 2"):
        unseal(b"PAPISEAL\x02" + b"\x00" * 100)


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(sealing.SealError, match="empty"):
        seal(b"x", "")
