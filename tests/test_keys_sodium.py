"""``NodeKey`` signs with libsodium and reads its key file without ``cryptography``: the
signatures, key files and origin ids must stay exactly those ``cryptography`` gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.encoding import b64url_decode, b64url_encode
from federation.errors import KeyFileError
from federation.keys import NodeKey

ROOT = Path(__file__).resolve().parent.parent


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), data=st.binary(max_size=300))
def test_signatures_and_origin_are_those_of_cryptography(seed: bytes, data: bytes) -> None:
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    ours = NodeKey.from_seed(seed)
    public = theirs.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert ours.origin == "ed25519:" + b64url_encode(public)
    assert b64url_decode(ours.sign(data)) == theirs.sign(data)
    assert ours.seed() == seed


def test_key_file_is_the_pkcs8_pem_cryptography_writes(tmp_path: Path) -> None:
    key = NodeKey.generate()
    key.save(tmp_path / "node.key")
    theirs = Ed25519PrivateKey.from_private_bytes(key.seed())
    expected = theirs.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert (tmp_path / "node.key").read_bytes() == expected


def test_a_key_file_in_another_pem_form_is_read_through_cryptography(tmp_path: Path) -> None:
    """A PEM file in another layout is read as ``cryptography`` read it: CRLF line ends
    and wrapped lines are accepted, an encrypted key (no password given) is refused."""
    key = NodeKey.generate()
    pem = Ed25519PrivateKey.from_private_bytes(key.seed()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "crlf.key"
    lines = pem.decode().splitlines()
    body = "".join(lines[1:-1])
    path.write_text("\r\n".join([lines[0], body[:40], body[40:], lines[-1]]) + "\r\n")
    path.chmod(0o600)
    assert NodeKey.load(path).origin == key.origin

    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        Ed25519PrivateKey.from_private_bytes(key.seed()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    encrypted.chmod(0o600)
    with pytest.raises(KeyFileError, match="corrupt"):
        NodeKey.load(encrypted)


def test_loading_and_signing_do_not_import_cryptography(tmp_path: Path) -> None:
    """A serving node does without ``cryptography`` (7 MiB resident)."""
    key = NodeKey.generate()
    key.save(tmp_path / "node.key")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from federation.keys import NodeKey, verify_signature\n"
        f"key = NodeKey.load(Path({str(tmp_path / 'node.key')!r}))\n"
        "assert verify_signature(key.origin, b'x', key.sign(b'x'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('cryptography')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.stdout.strip() == "[]"
