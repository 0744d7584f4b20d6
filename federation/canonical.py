"""Canonical bytes (RFC 8785, JSON Canonicalization Scheme) and the hashes built on them."""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from typing import Any

import rfc8785

_SAFE_INT = 2**53 - 1


def _standard_encoder() -> Callable[[Any], str]:
    """The standard library's JSON encoder set to write, for the values ``_plain``
    accepts, exactly the RFC 8785 bytes: same escapes (``\\"``, ``\\\\``, ``\\b \\f \\n
    \\r \\t``, other controls as lowercase ``\\u00xx``, everything else as is), no spaces,
    keys sorted (ASCII keys sort the same by code point as by UTF-16 unit). Checked
    against ``rfc8785`` by tests/test_canonical_fast.py."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:  # the C encoder, built once (JSONEncoder builds one per call)
        encode = make(
            None, None, json.encoder.encode_basestring, None, ":", ",", True, False, False
        )
        return lambda value: "".join(encode(value, 0))
    return json.JSONEncoder(
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode


_encode = _standard_encoder()


def _plain(value: Any) -> bool:
    """Only JSON types whose RFC 8785 form the standard encoder writes byte for byte:
    strings, safe integers, booleans, null, and lists and objects (ASCII keys) of them."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if kind is int:
                if -_SAFE_INT <= item <= _SAFE_INT:
                    continue
                return False
            if not _plain(item):
                return False
        return True
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    return False  # floats (ECMAScript number form), tuples, anything else: rfc8785


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value: what is hashed and signed."""
    try:
        if _plain(value):
            return _encode(value).encode()
    except (UnicodeEncodeError, RecursionError):
        pass  # lone surrogates, absurd nesting: rfc8785 raises its own error
    return rfc8785.dumps(value)


def sha256_tag(data: bytes) -> str:
    """``sha256:<hex>``, the form used by ``prev`` and ``payload_hash``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
