"""Canonical bytes (RFC 8785, JSON Canonicalization Scheme) and the hashes built on them."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value: what is hashed and signed."""
    return rfc8785.dumps(value)


def sha256_tag(data: bytes) -> str:
    """``sha256:<hex>``, the form used by ``prev`` and ``payload_hash``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
