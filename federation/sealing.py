"""Personal data sealed to its recipients (BRIEF 8: it never travels in clear).

A cooperation entry (a loan request, a registration, an offer of help) carries the
contact of a person only inside ``sealed``: a JSON object mapping each recipient's origin
id to a libsodium *sealed box* of the same plaintext. Only the holder of that origin's
key can open it; relays and every other node see opaque bytes.

Construction (docs/protocol.md, "Sealed data"), standard libsodium, no home-made crypto:

- the recipient's X25519 public key is its Ed25519 origin key converted with
  ``crypto_sign_ed25519_pk_to_curve25519`` (the birational map of RFC 7748, 4.1);
  the recipient opens with the secret converted by ``crypto_sign_ed25519_sk_to_curve25519``;
- the box is ``crypto_box_seal`` (an ephemeral X25519 key, XSalsa20-Poly1305, the nonce
  BLAKE2b-192 of the ephemeral and recipient public keys);
- the plaintext is the RFC 8785 canonical bytes of a JSON object, at most
  ``MAX_PLAINTEXT_BYTES``;
- each box is written in base64url without padding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from nacl.bindings import (
    crypto_box_seal,
    crypto_box_seal_open,
    crypto_sign_ed25519_pk_to_curve25519,
)
from nacl.exceptions import CryptoError

from .canonical import canonical_bytes
from .encoding import b64url_decode, b64url_encode
from .keys import NodeKey, raw_public_key

#: Bound on what one sealed box may hold (a contact and a message fit many times over).
MAX_PLAINTEXT_BYTES = 8 * 1024
#: Recipients of one ``sealed`` object: the owner of the thing, the author, and one spare.
MAX_RECIPIENTS = 3


class SealError(ValueError):
    """A plaintext or recipient that cannot be sealed, or a box that cannot be opened."""


def _x25519_public(origin: str) -> bytes:
    try:
        return crypto_sign_ed25519_pk_to_curve25519(raw_public_key(origin))
    except (ValueError, CryptoError) as exc:
        raise SealError(f"cannot seal to {origin!r}: {exc}") from None


def seal(plaintext: Mapping[str, Any], recipients: Iterable[str]) -> dict[str, str]:
    """``{origin: box}`` of ``plaintext`` for each distinct recipient (in the given order)."""
    data = canonical_bytes(dict(plaintext))
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise SealError(f"sealed data is {len(data)} bytes, over {MAX_PLAINTEXT_BYTES}")
    unique = list(dict.fromkeys(recipients))
    if not 1 <= len(unique) <= MAX_RECIPIENTS:
        raise SealError(f"a sealed object has 1 to {MAX_RECIPIENTS} recipients")
    return {
        origin: b64url_encode(crypto_box_seal(data, _x25519_public(origin))) for origin in unique
    }


def open_sealed(sealed: Mapping[str, str], key: NodeKey) -> dict[str, Any]:
    """The plaintext of the box addressed to ``key``; ``SealError`` if there is none or
    it does not open (tampered, or sealed to another key)."""
    box = sealed.get(key.origin)
    if box is None:
        raise SealError("nothing here is sealed to this node")
    public, secret = key.x25519_keypair()
    try:
        data = crypto_box_seal_open(b64url_decode(box), public, secret)
    except (ValueError, CryptoError) as exc:
        raise SealError(f"the sealed box does not open: {exc}") from None
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise SealError("sealed data over the size limit")
    try:
        document = json.loads(data)
    except ValueError:
        raise SealError("sealed data is not JSON") from None
    if not isinstance(document, dict):
        raise SealError("sealed data is not a JSON object")
    return document
