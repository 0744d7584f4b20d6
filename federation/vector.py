"""Version vectors: ``{origin: highest contiguous seq}``, and their digest.

Two nodes with equal digests hold the same entries, so an idle sync round exchanges one
digest each way whatever the number of origins.
"""

from __future__ import annotations

from collections.abc import Mapping

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
