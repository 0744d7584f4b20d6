"""Anti-entropy by cursor: "what did you store since my last visit?" (docs/protocol.md
section 12), as pure functions.

Each node numbers the entries it stores in the order it stores them (its *arrival
positions*: the reference uses the entries table's row id). An asker keeps, per peer, an
opaque *cursor* the peer gave it; the peer answers with the heads, as they were at the
position reached, of the origins whose log moved after the cursor, and a new cursor. The
answer costs a few dozen bytes per origin that moved, nothing when nothing moved, and
never grows with the number of origins held: the vector comparisons of version 1 (a digest,
256 bucket digests, then vectors) are left for the rare full round (a first contact, a
cursor the peer no longer knows, a give-up of the broadcast).

Two rules keep it exact:

- the answer covers positions up to the *settled* position only (entries stored at least
  ``settle`` seconds ago): an entry still spreading through the broadcast tree is not
  announced (and grafted) while its eager copy is on the way;
- positions are only comparable within one *epoch* of the peer's numbering: a node whose
  positions may have gone back (restored from a backup, database rebuilt) changes epoch,
  and a cursor of another epoch gets ``reset`` (the asker runs a full round).

Why a cursor rather than range-based reconciliation (negentropy's fingerprints of ranges,
split until they match): between nodes that already agree on nearly everything, a cursor
costs what changed, while fingerprints cost a few log(n) rounds per difference, and the
differences seen at an instant are mostly entries in flight that the tree delivers anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: A cursor as it travels: ``<epoch>.<position>`` in the reference implementation; an
#: asker treats it as opaque text matching this.
CURSOR_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{1,64}\.[0-9]{1,16}\Z")
#: Most origins listed in one answer (then ``more``).
MAX_CHANGES = 5000


@dataclass(frozen=True)
class Changes:
    """One answer: the heads of the origins that moved in ``(since, position]``."""

    heads: dict[str, int]
    position: int
    more: bool


def encode_cursor(epoch: str, position: int) -> str:
    cursor = f"{epoch}.{position}"
    if not CURSOR_PATTERN.match(cursor):
        raise ValueError(f"not a cursor: {cursor!r}")
    return cursor


def decode_cursor(cursor: str | None, epoch: str, last: int | None = None) -> int | None:
    """The position in ``cursor`` if it is one of ours: in ``epoch``, and not beyond our
    ``last`` position when given. None otherwise: the answer is then a ``reset``."""
    if cursor is None or not CURSOR_PATTERN.match(cursor):
        return None
    cursor_epoch, _, text = cursor.rpartition(".")
    position = int(text)
    if cursor_epoch != epoch or (last is not None and position > last):
        return None
    return position


def changes_since(
    arrivals: Iterable[tuple[int, str, int]],
    since: int,
    settled: int,
    *,
    limit: int = MAX_CHANGES,
) -> Changes:
    """The heads of the origins that moved in ``(since, settled]``.

    ``arrivals`` are ``(position, origin, seq)`` in position order, at least those after
    ``since`` (earlier ones are skipped). Logs are stored contiguously, so the highest seq
    of an origin among them is its head at that position. With more than ``limit``
    origins, the answer stops before the arrival that would add one too many and says
    ``more``: the asker asks again from there."""
    heads: dict[str, int] = {}
    position = since
    for at, origin, seq in arrivals:
        if at <= since:
            continue
        if at > settled:
            break
        if origin not in heads and len(heads) >= limit:
            return Changes(heads, position, True)
        if seq > heads.get(origin, 0):
            heads[origin] = seq
        position = at
    return Changes(heads, max(since, settled), False)


def settled_position(arrivals: Iterable[tuple[int, float]], now: float, settle: float) -> int:
    """The highest position stored at least ``settle`` seconds before ``now``, from
    ``(position, stored_at)`` in position order (0 if none)."""
    settled = 0
    for position, stored_at in arrivals:
        if stored_at > now - settle:
            break
        settled = position
    return settled


def missing_heads(
    changes: Mapping[str, int], mine: Mapping[str, int], skipped: Iterable[str] = ()
) -> dict[str, int]:
    """Of the announced ``changes``, the origins where we hold less: ``{origin: our
    head}`` (what a graft asks to follow). ``skipped``: origins we refuse (frozen, or
    whose entries we just rejected from this peer)."""
    refused = set(skipped)
    return {
        origin: mine.get(origin, 0)
        for origin, seq in sorted(changes.items())
        if origin not in refused and seq > mine.get(origin, 0)
    }
