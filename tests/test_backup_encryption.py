"""The passphrase encryption of backups (node/ops/encryption.py): round trips at segment
boundaries, and every kind of damage refused."""

from __future__ import annotations

import io
import os
import struct

import pytest

from node.ops import encryption

PASSPHRASE = "correct horse battery staple"
SEGMENT = encryption.SEGMENT


@pytest.fixture
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small Argon2id parameters for speed; they travel in the header, as real ones do."""
    monkeypatch.setattr(encryption, "MEMORY_KIB", 64)
    monkeypatch.setattr(encryption, "ITERATIONS", 1)
    monkeypatch.setattr(encryption, "LANES", 1)


def encrypt(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    target = io.BytesIO()
    encryption.encrypt(io.BytesIO(data), target, passphrase)
    return target.getvalue()


def decrypt(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    target = io.BytesIO()
    encryption.decrypt(io.BytesIO(data), target, passphrase)
    return target.getvalue()


def test_default_parameters_round_trip() -> None:
    data = os.urandom(1000)
    sealed = encrypt(data)
    assert sealed[:8] == b"PAPISEAL" and sealed[8] == 1
    assert struct.unpack(">III", sealed[9:21]) == (64 * 1024, 3, 4)
    assert len(sealed) == encryption.HEADER_SIZE + len(data) + encryption.TAG
    assert decrypt(sealed) == data


@pytest.mark.usefixtures("cheap_kdf")
@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT])
def test_round_trip_at_segment_boundaries(size: int) -> None:
    data = os.urandom(size)
    sealed = encrypt(data)
    segments = max(1, -(-size // encryption.SEGMENT))  # a full last segment is flagged last
    assert len(sealed) == encryption.HEADER_SIZE + size + segments * encryption.TAG
    assert decrypt(sealed) == data


@pytest.mark.usefixtures("cheap_kdf")
def test_same_input_never_gives_the_same_file() -> None:
    assert encrypt(b"x") != encrypt(b"x")


@pytest.mark.usefixtures("cheap_kdf")
def test_wrong_passphrase() -> None:
    with pytest.raises(encryption.EncryptionError, match="wrong passphrase"):
        decrypt(encrypt(b"secret"), "another passphrase")


@pytest.mark.usefixtures("cheap_kdf")
def test_truncation_at_a_segment_boundary_is_detected() -> None:
    sealed = encrypt(os.urandom(2 * encryption.SEGMENT + 10))
    first_two = encryption.HEADER_SIZE + 2 * (encryption.SEGMENT + encryption.TAG)
    with pytest.raises(encryption.EncryptionError, match="damaged or truncated"):
        decrypt(sealed[:first_two])
    with pytest.raises(encryption.EncryptionError):
        decrypt(sealed[: encryption.HEADER_SIZE])


@pytest.mark.usefixtures("cheap_kdf")
def test_reordered_segments_are_detected() -> None:
    sealed = encrypt(os.urandom(3 * encryption.SEGMENT))
    size = encryption.SEGMENT + encryption.TAG
    start = encryption.HEADER_SIZE
    one, two = sealed[start : start + size], sealed[start + size : start + 2 * size]
    swapped = sealed[:start] + two + one + sealed[start + 2 * size :]
    with pytest.raises(encryption.EncryptionError):
        decrypt(swapped)


@pytest.mark.usefixtures("cheap_kdf")
@pytest.mark.parametrize("offset", [9, 30, encryption.HEADER_SIZE + 5, -1])
def test_any_changed_byte_is_detected(offset: int) -> None:
    sealed = bytearray(encrypt(b"data " * 100))
    sealed[offset] ^= 0x01
    with pytest.raises(encryption.EncryptionError):
        decrypt(bytes(sealed))


def test_parameters_out_of_bounds_are_refused_before_any_work() -> None:
    header = struct.pack(
        ">8sBIII16s7s", b"PAPISEAL", 1, 64 * 1024 * 1024, 3, 4, b"s" * 16, b"n" * 7
    )
    with pytest.raises(encryption.EncryptionError, match="out of bounds"):
        decrypt(header + b"\x00" * 32)


def test_not_an_encrypted_file() -> None:
    with pytest.raises(encryption.EncryptionError, match="not an encrypted"):
        decrypt(b"\x1f\x8b" + b"\x00" * 100)
    with pytest.raises(encryption.EncryptionError, match="version 2"):
        decrypt(b"PAPISEAL\x02" + b"\x00" * 100)


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(encryption.EncryptionError, match="empty"):
        encrypt(b"x", "")
