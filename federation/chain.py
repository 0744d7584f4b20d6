"""The log's chain: ``seq`` contiguous from 1, ``prev`` the hash of the previous header."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .entry import Entry
from .errors import BrokenChain


@dataclass(frozen=True)
class Head:
    """The last verified entry of an origin's log (seq 0 and no hash for an empty log)."""

    seq: int = 0
    hash: str | None = None


def check_successor(head: Head, entry: Entry) -> Head:
    """Check that ``entry`` extends ``head`` and return the new head.

    The caller sorts out ``entry.seq != head.seq + 1`` (duplicates, forks, gaps) before.
    """
    if entry.seq != head.seq + 1:
        raise BrokenChain(f"seq {entry.seq} does not follow {head.seq}")
    if entry.prev != head.hash:
        raise BrokenChain(f"prev of seq {entry.seq} is not the hash of seq {head.seq}")
    return Head(entry.seq, entry.header_hash)


def verify_log(entries: Iterable[Entry], head: Head | None = None) -> Head:
    """Verify that already parsed entries form one unbroken chain from ``head``."""
    current = head or Head()
    for entry in entries:
        current = check_successor(current, entry)
    return current
