"""Node identity: an Ed25519 key pair, its origin id, and its private key file.

The origin id is ``ed25519:`` + base64url (no padding) of the 32-byte raw public key.
The private key file holds the raw 32-byte seed in PEM (PKCS#8) and must be mode 0600.

Signing and verification use libsodium (PyNaCl); verification follows its strict rules:
it refuses small-order and non-canonical public keys, small-order ``R`` and non-canonical
``S`` (``S >= L``). A lenient verifier accepts, for instance, the identity point as a key
with the identity signature for every message: anyone could then write to that log.
docs/protocol.md 3.2 makes these rules part of the protocol. Ed25519 signatures are
deterministic: libsodium signs exactly as ``cryptography`` (OpenSSL) did.

``cryptography`` is imported only for the key files that are not the one form this module
writes, and for ``cryptography`` key objects (``origin_id``, ``public_key_from_origin``):
a serving node then does without its 7 MiB (docs/performance.md 10.3).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError

from .encoding import b64url_decode, b64url_encode
from .errors import KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ORIGIN_PREFIX = "ed25519:"
#: The PKCS#8 (RFC 8410) DER of an Ed25519 private key before its 32-byte seed: version
#: 0, algorithm id-Ed25519 (1.3.101.112), the seed as an OCTET STRING inside one. What
#: ``cryptography`` and ``openssl genpkey -algorithm ed25519`` write.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = b"-----BEGIN PRIVATE KEY-----"
_PEM_END = b"-----END PRIVATE KEY-----"


def origin_id(public_key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ORIGIN_PREFIX + b64url_encode(raw)


@lru_cache(maxsize=4096)  # hot in ingest: one key per origin, not per entry
def public_key_bytes(origin: str) -> bytes:
    """The 32 raw bytes of the public key named by an origin id; ``ValueError`` if it is
    not one (wrong prefix, non-canonical base64url, wrong length)."""
    if not origin.startswith(ORIGIN_PREFIX):
        raise ValueError(f"origin id must start with {ORIGIN_PREFIX!r}")
    raw = b64url_decode(origin[len(ORIGIN_PREFIX) :])
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw


def public_key_from_origin(origin: str) -> Ed25519PublicKey:
    """The public key named by an origin id; ``ValueError`` if it is not one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(public_key_bytes(origin))


def raw_public_key(origin: str) -> bytes:
    """The 32 raw bytes of the Ed25519 key named by an origin id; ``ValueError`` if none."""
    return public_key_bytes(origin)


def _pem_seed(pem: bytes) -> bytes | None:
    """The seed of a PEM file in the form this module writes (one PKCS#8 v1 Ed25519 key,
    no attributes); None for any other content, left to ``cryptography``."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != _PEM_BEGIN or lines[-1].strip() != _PEM_END:
        return None
    try:
        der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
    except binascii.Error:
        return None
    if len(der) != len(_PKCS8_PREFIX) + 32 or not der.startswith(_PKCS8_PREFIX):
        return None
    return der[len(_PKCS8_PREFIX) :]


def _seed_of_other_pem(path: Path, pem: bytes) -> bytes:
    """Any other PEM private key, through ``cryptography``: an Ed25519 key's seed, or
    ``KeyFileError``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"key file {path} is corrupt: {exc}") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyFileError(f"key file {path} does not hold an Ed25519 key")
    return private_key.private_bytes_raw()


class NodeKey:
    """A node's signing key. Never logged: ``repr`` shows the origin id only."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        public, self._secret = crypto_sign_seed_keypair(seed)
        self.origin = ORIGIN_PREFIX + b64url_encode(public)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(os.urandom(32))

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeKey:
        """The key whose 32-byte Ed25519 seed is ``seed`` (a recovery key from its words)."""
        return cls(seed)

    def seed(self) -> bytes:
        """The 32-byte seed: only to write a recovery key as words, once, for paper."""
        return self._secret[:32]

    def sign(self, data: bytes) -> str:
        """base64url (no padding) of the Ed25519 signature of ``data``."""
        return b64url_encode(crypto_sign(data, self._secret)[:64])

    def __repr__(self) -> str:
        return f"NodeKey(origin={self.origin!r})"

    def x25519_keypair(self) -> tuple[bytes, bytes]:
        """(public, secret) X25519 keys converted from this Ed25519 key, to open the
        boxes sealed to this origin (federation/sealing.py)."""
        from nacl.bindings import (
            crypto_sign_ed25519_pk_to_curve25519,
            crypto_sign_ed25519_sk_to_curve25519,
        )

        return (
            crypto_sign_ed25519_pk_to_curve25519(self._secret[32:]),
            crypto_sign_ed25519_sk_to_curve25519(self._secret),
        )

    def save(self, path: Path) -> None:
        """Write the key to a new file created with mode 0600. Never overwrites."""
        der = base64.b64encode(_PKCS8_PREFIX + self.seed())
        pem = _PEM_BEGIN + b"\n" + der + b"\n" + _PEM_END + b"\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyFileError(f"{path} already exists; a key is never overwritten") from None
        except OSError as exc:
            raise KeyFileError(f"cannot create key file {path}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        """Load a key file, refusing one that others can read."""
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(f"key file {path} not found; run 'papi init' first") from None
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"key file {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run 'chmod 600 {path}' and start again"
            )
        pem = path.read_bytes()
        return cls(_pem_seed(pem) or _seed_of_other_pem(path, pem))


def verify_signature(origin: str, data: bytes, sig: str) -> bool:
    """True when ``sig`` is the origin's valid signature of ``data`` under libsodium's
    strict rules (see the module's docstring): the one verification of the protocol."""
    try:
        public_key = public_key_bytes(origin)
        signature = b64url_decode(sig)
        if len(signature) != 64:
            return False
        crypto_sign_open(signature + data, public_key)
    except (ValueError, BadSignatureError):
        return False
    return True
