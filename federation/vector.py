"""Version vectors: ``{origin: highest contiguous seq}``, and their digest.

Two nodes with equal digests hold the same entries, so an idle sync round exchanges one
digest each way whatever the number of origins. When they differ, bucket digests narrow the
comparison to the few buckets of origins that changed (docs/protocol.md, section 5.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from .canonical import canonical_bytes, sha256_tag

Vector = dict[str, int]


def vector_digest(vector: Mapping[str, int]) -> str:
    """``sha256:`` of the RFC 8785 bytes of the vector without its zero entries."""
    return sha256_tag(canonical_bytes({o: s for o, s in vector.items() if s > 0}))


def missing_ranges(mine: Mapping[str, int], theirs: Mapping[str, int]) -> dict[str, int]:
    """For each origin where I am ahead, the seq they hold (send them seq > that value)."""
    return {
        origin: theirs.get(origin, 0) for origin, seq in mine.items() if seq > theirs.get(origin, 0)
    }


#: Origins are spread over this many buckets by the first byte of sha256(origin id).
BUCKETS = 256


def bucket_of(origin: str) -> int:
    return hashlib.sha256(origin.encode()).digest()[0]


def bucket_digests(vector: Mapping[str, int]) -> list[str]:
    """For each bucket, the first 16 hex digits of the sha256 of its sub-vector's RFC 8785
    bytes: comparing these finds the few buckets where two large vectors differ."""
    parts: list[dict[str, int]] = [{} for _ in range(BUCKETS)]
    for origin, seq in vector.items():
        if seq > 0:
            parts[bucket_of(origin)][origin] = seq
    return [hashlib.sha256(canonical_bytes(part)).hexdigest()[:16] for part in parts]


def differing_buckets(mine: list[str], theirs: list[str]) -> list[int]:
    return [index for index, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]


def restrict(vector: Mapping[str, int], scope: Iterable[int] | None) -> dict[str, int]:
    """The part of ``vector`` whose origins fall in the ``scope`` buckets (all if None)."""
    if scope is None:
        return dict(vector)
    buckets = set(scope)
    return {origin: seq for origin, seq in vector.items() if bucket_of(origin) in buckets}
