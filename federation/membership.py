"""Membership of a closed network: who is in it, from the vouches every node holds.

A network names its **founders** (origin ids, in its charter and in each node's
configuration). A ``vouch`` object written by a member admits another origin; a member
withdraws its vouch by writing the same object again with ``revoked`` true (or by
deleting it). The members are the least set that holds the founders and every origin
vouched for by a founder or by at least ``required`` members (other than itself),
leaving out the origins a founder revoked: a vouch by an origin that is no longer a
member does not count. No founders: an open network, where every origin is a member.

Pure functions, no storage: each node computes the same set from the vouches it holds.
See docs/protocol.md, "Membership".
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .cooperation import derived_oid

#: The prefix of a vouch's oid: ``v`` + D(subject), one object per (voucher, subject).
VOUCH_OID_PREFIX = "v"
#: Rejection codes that refuse an entry for its origin, not for itself (16.3): a vouch
#: or a blocklist change may lift them.
MEMBERSHIP_CODES = frozenset({"not_member", "blocked"})


def vouch_oid(subject: str) -> str:
    """The oid of the vouch about ``subject``: each voucher writes one object per
    subject, whose every version (vouch, revocation) lands on the same object."""
    return derived_oid(VOUCH_OID_PREFIX, subject)


@dataclass(frozen=True)
class Vouch:
    """The current state of one vouch object: ``voucher`` vouches for ``subject``, or
    revoked its vouch (``revoked``)."""

    voucher: str
    subject: str
    revoked: bool = False

    @classmethod
    def of(cls, voucher: str, payload: Mapping[str, Any]) -> Vouch:
        return cls(voucher, str(payload["subject"]), bool(payload.get("revoked", False)))


def members(founders: Iterable[str], vouches: Iterable[Vouch], required: int = 1) -> frozenset[str]:
    """The members: the founders, then every origin that a founder, or at least
    ``required`` members (other than itself), vouch for and no founder revoked, until
    nothing changes.

    Linear in the number of vouches: each member's vouches are counted once, when it
    becomes a member (the set only grows while it is computed)."""
    required = max(1, required)
    founding = frozenset(founders)
    banned: set[str] = set()
    vouched_by: dict[str, set[str]] = defaultdict(set)
    for vouch in vouches:
        if vouch.revoked:
            if vouch.voucher in founding:
                banned.add(vouch.subject)
        elif vouch.voucher != vouch.subject:
            vouched_by[vouch.voucher].add(vouch.subject)
    banned -= founding
    result = set(founding)
    counts: dict[str, int] = defaultdict(int)
    queue = deque(founding)
    while queue:
        voucher = queue.popleft()
        for subject in sorted(vouched_by.get(voucher, ())):
            if subject in result or subject in banned:
                continue
            # A founder's vouch is enough alone: the network can grow from one founder.
            counts[subject] += required if voucher in founding else 1
            if counts[subject] >= required:
                result.add(subject)
                queue.append(subject)
    return frozenset(result)


def vouch_violation(oid: str, payload: Any) -> str | None:
    """The field of a vouch that breaks the rule one object per (voucher, subject):
    ``oid`` must be ``vouch_oid(subject)``. None when it holds."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("subject"), str):
        return None  # the schema says what is wrong
    return None if oid == vouch_oid(payload["subject"]) else "oid"
