"""Node identity: an Ed25519 key pair, its origin id, and its private key file.

The origin id is ``ed25519:`` + base64url (no padding) of the 32-byte raw public key.
The private key file holds the raw 32-byte seed in PEM (PKCS#8) and must be mode 0600.

Signing uses ``cryptography``; verification uses libsodium (PyNaCl), whose rules are
strict: it refuses small-order and non-canonical public keys, small-order ``R`` and
non-canonical ``S`` (``S >= L``). A lenient verifier accepts, for instance, the identity
point as a key with the identity signature for every message: anyone could then write to
that log. docs/protocol.md 3.2 makes these rules part of the protocol.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from .encoding import b64url_decode, b64url_encode
from .errors import KeyFileError

ORIGIN_PREFIX = "ed25519:"


def origin_id(public_key: Ed25519PublicKey) -> str:
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
    return Ed25519PublicKey.from_public_bytes(public_key_bytes(origin))


def raw_public_key(origin: str) -> bytes:
    """The 32 raw bytes of the Ed25519 key named by an origin id; ``ValueError`` if none."""
    return public_key_from_origin(origin).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


class NodeKey:
    """A node's signing key. Never logged: ``repr`` shows the origin id only."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.origin = origin_id(private_key.public_key())

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeKey:
        """The key whose 32-byte Ed25519 seed is ``seed`` (a recovery key from its words)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        """The 32-byte seed: only to write a recovery key as words, once, for paper."""
        return self._private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def sign(self, data: bytes) -> str:
        """base64url (no padding) of the Ed25519 signature of ``data``."""
        return b64url_encode(self._private_key.sign(data))

    def __repr__(self) -> str:
        return f"NodeKey(origin={self.origin!r})"

    def x25519_keypair(self) -> tuple[bytes, bytes]:
        """(public, secret) X25519 keys converted from this Ed25519 key, to open the
        boxes sealed to this origin (federation/sealing.py)."""
        from nacl.bindings import (
            crypto_sign_ed25519_pk_to_curve25519,
            crypto_sign_ed25519_sk_to_curve25519,
        )

        seed = self._private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = raw_public_key(self.origin)
        return (
            crypto_sign_ed25519_pk_to_curve25519(public),
            crypto_sign_ed25519_sk_to_curve25519(seed + public),
        )

    def save(self, path: Path) -> None:
        """Write the key to a new file created with mode 0600. Never overwrites."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
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
        try:
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"key file {path} is corrupt: {exc}") from None
        if not isinstance(private_key, Ed25519PrivateKey):
            raise KeyFileError(f"key file {path} does not hold an Ed25519 key")
        return cls(private_key)


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
