"""Passphrase encryption of a backup file, in segments so that memory stays small.

Format (all integers big-endian), documented in deploy/README.md:

    header   = "PAPISEAL" | version (1 byte, 1) | memory_kib (u32) | iterations (u32)
               | lanes (u32) | salt (16 bytes) | nonce_prefix (7 bytes)      -- 44 bytes
    key      = Argon2id(passphrase as UTF-8, salt, memory_kib, iterations, lanes, 32 bytes)
    segments = ChaCha20-Poly1305(key, nonce, plaintext segment, associated data = header)
               nonce = nonce_prefix | segment number (u32, from 0) | 1 if last else 0

Every segment holds 64 KiB of plaintext except the last, which holds 0 to 64 KiB and is
the only one flagged last (the STREAM construction): reordering, dropping, truncating or
extending segments, and any change to the header, fail authentication.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from ..i18n import N_, Translatable

MAGIC = b"PAPISEAL"
VERSION = 1
SEGMENT = 64 * 1024
TAG = 16
_HEADER = struct.Struct(">8sBIII16s7s")
HEADER_SIZE = _HEADER.size
#: RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes (about a second on a
#: Raspberry Pi 4).
MEMORY_KIB, ITERATIONS, LANES = 64 * 1024, 3, 4
#: A file asking for more than this is refused before any work (a crafted header must not
#: exhaust the machine).
MAX_MEMORY_KIB, MAX_ITERATIONS, MAX_LANES = 1024 * 1024, 20, 16


class EncryptionError(Translatable):
    """Wrong passphrase, damaged or truncated file; the message says which."""


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


# ``cryptography`` is imported by the functions that encrypt or decrypt: the status page
# imports this module (through backup.py), and a serving node does without 7 MiB of it.


def _key(passphrase: str, salt: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    kdf = Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_kib)
    return kdf.derive(passphrase.encode("utf-8"))


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _segments(source: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """Chunks of ``size`` bytes with a flag on the last one (possibly empty)."""
    chunk = source.read(size)
    while True:
        following = source.read(size)
        yield chunk, not following
        if not following:
            return
        chunk = following


def encrypt(source: BinaryIO, target: BinaryIO, passphrase: str) -> None:
    """Encrypt ``source`` into ``target`` with a key derived from ``passphrase``."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    if not passphrase:
        raise EncryptionError(N_("the passphrase is empty"))
    salt, prefix = os.urandom(16), os.urandom(7)
    header = _HEADER.pack(MAGIC, VERSION, MEMORY_KIB, ITERATIONS, LANES, salt, prefix)
    cipher = ChaCha20Poly1305(_key(passphrase, salt, MEMORY_KIB, ITERATIONS, LANES))
    target.write(header)
    for counter, (chunk, last) in enumerate(_segments(source, SEGMENT)):
        if counter >= 2**32:
            raise EncryptionError(N_("file too large to encrypt"))
        target.write(cipher.encrypt(_nonce(prefix, counter, last), chunk, header))


def decrypt(source: BinaryIO, target: BinaryIO, passphrase: str) -> None:
    """Decrypt a sealed file; ``EncryptionError`` on a wrong passphrase or any damage."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    header = source.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE or not is_encrypted(header):
        raise EncryptionError(N_("not an encrypted papi backup (or its header is truncated)"))
    _, version, memory_kib, iterations, lanes, salt, prefix = _HEADER.unpack(header)
    if version != VERSION:
        raise EncryptionError(
            N_("encrypted backup format version %(version)s is not supported"), version=version
        )
    if not (
        8 * lanes <= memory_kib <= MAX_MEMORY_KIB
        and 1 <= iterations <= MAX_ITERATIONS
        and 1 <= lanes <= MAX_LANES
    ):
        raise EncryptionError(N_("the encryption parameters of this file are out of bounds"))
    cipher = ChaCha20Poly1305(_key(passphrase, salt, memory_kib, iterations, lanes))
    for counter, (chunk, last) in enumerate(_segments(source, SEGMENT + TAG)):
        try:
            target.write(cipher.decrypt(_nonce(prefix, counter, last), chunk, header))
        except InvalidTag:
            if counter == 0:
                raise EncryptionError(N_("wrong passphrase, or the file is damaged")) from None
            raise EncryptionError(N_("the file is damaged or truncated")) from None
