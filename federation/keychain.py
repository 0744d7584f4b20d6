"""The keys of an origin over its log: rotation and recovery.

An origin id names a place for good: it is the id of the place's first key. The key that
signs the place's entries may change, by a ``key`` entry of the place's own log (oid
``key``), whose payload names the ``node_key`` that signs the entries after it, and may
declare a ``recovery_key``: an offline key, kept on paper, that can replace a lost or
stolen node key.

- A ``key`` entry signed by the node key in force is a **rotation**: the node key
  changes; it may declare the recovery key when none is declared yet, never replace it.
- A ``key`` entry signed by the recovery key in force is a **recovery**: the node key is
  replaced (and the recovery key too when the payload names another one). From then on,
  entries signed by the old node key are refused, and an entry of the old key that
  competes with the recovery at the same ``seq`` gives way to it (docs/protocol.md).
- Every other entry is signed by the node key in force. An entry signed by a key other
  than its origin's carries it in its header (``signer``), so that its signature is
  checked alone (``federation.entry.parse_entry``); whether that key is in force at that
  ``seq`` is checked here, in ``seq`` order.

Pure functions over a ``KeyState``; the node keeps the state of each origin it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .entry import Entry
from .errors import WrongKey

#: The one oid of ``key`` objects.
KEY_OID = "key"


@dataclass(frozen=True)
class KeyState:
    """The keys of an origin after some ``seq`` of its log."""

    node_key: str
    recovery_key: str | None = None
    #: ``seq`` of the latest recovery (0: none).
    recovered_at: int = 0

    @classmethod
    def initial(cls, origin: str) -> KeyState:
        return cls(origin)


def signer_of(entry: Entry) -> str:
    """The key that signed ``entry``: its header's ``signer``, else its origin."""
    signer = entry.header.get("signer")
    return str(signer) if signer is not None else entry.origin


def is_recovery(state: KeyState, entry: Entry) -> bool:
    """True when ``entry`` is a ``key`` entry signed by the recovery key in force."""
    return (
        entry.kind == "key"
        and state.recovery_key is not None
        and signer_of(entry) == state.recovery_key
    )


def advance(state: KeyState, entry: Entry) -> KeyState:
    """The state after ``entry``, the entry that follows ``state`` in its log;
    ``WrongKey`` when it is not signed by a key in force, or changes keys it may not."""
    signer = signer_of(entry)
    recovery = is_recovery(state, entry)
    if signer != state.node_key and not recovery:
        what = "the recovery key may only sign key entries" if (
            signer == state.recovery_key
        ) else "it is not this origin's key in force"  # fmt: skip
        raise WrongKey(f"seq {entry.seq} is signed by {signer}: {what}")
    if entry.kind != KEY_OID:
        return state
    if entry.payload is None:
        raise WrongKey(f"the key entry at seq {entry.seq} arrived without its payload")
    node_key = str(entry.payload["node_key"])
    declared = entry.payload.get("recovery_key")
    if recovery:
        after = KeyState(node_key, str(declared or state.recovery_key), entry.seq)
    elif declared is not None and state.recovery_key not in (None, declared):
        raise WrongKey(f"seq {entry.seq}: only the recovery key may replace the recovery key")
    else:
        recovery_key = state.recovery_key or (None if declared is None else str(declared))
        after = KeyState(node_key, recovery_key, state.recovered_at)
    if after.node_key == after.recovery_key:
        raise WrongKey(f"seq {entry.seq}: the node key and the recovery key must differ")
    return after


def key_payload(node_key: str, recovery_key: str | None = None) -> dict[str, str]:
    """The payload of a ``key`` entry."""
    payload = {"node_key": node_key}
    if recovery_key is not None:
        payload["recovery_key"] = recovery_key
    return payload
