"""base64url without padding, as used for origin ids and signatures."""

from __future__ import annotations

import base64
import binascii


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding; raise ``ValueError`` on anything else."""
    if "=" in text or not text.isascii():
        raise ValueError("base64url must be unpadded ASCII")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64url: {exc}") from None
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data
