"""The protocol's exceptions.

Every rejection of an entry carries a stable ``code`` (sent to peers in push answers
and shown to operators) and a human ``message``::

    FederationError
    ├── KeyFileError            key file missing, unreadable, corrupt or too permissive
    ├── SchemaError             a document does not match its JSON Schema (``field``,
    │                           ``keyword``, ``limit`` say how)
    ├── PeerError               a peer answered something we cannot use     kind "protocol"
    │   ├── PeerUnreachable     no answer: connection, timeout, deadline     kind "unreachable"
    │   │   └── PeerBusy        503/429: try again later (``retry_after``)    kind "busy"
    │   └── AddressRefused      the peer's address is not allowed (policy)   kind "refused"
    └── EntryRejected           an entry that must not be stored
        ├── MalformedEntry      not a JSON object of the entry shape       code "malformed"
        ├── EntryTooLarge       over the size limit                        code "too_large"
        ├── InvalidEntrySchema  header or payload fails its schema         code "schema"
        ├── BadSignature        Ed25519 signature does not verify          code "bad_signature"
        ├── PayloadMismatch     payload bytes do not match payload_hash    code "payload_mismatch"
        ├── FutureTimestamp     ``ts`` too far ahead of our clock          code "future_timestamp"
        ├── BrokenChain         ``prev`` does not match the previous header code "broken_chain"
        ├── ForkDetected        two incompatible signed histories          code "fork"
        ├── OriginFrozen        origin frozen after a proven fork          code "origin_frozen"
        ├── PendingFull         beyond a gap, and no room to keep it aside code "gap"
        ├── TooManyNewOrigins   sender's hourly budget of new origins used
        │                                                      code "too_many_new_origins"
        ├── NotMember           origin not a member of this closed network code "not_member"
        ├── Blocked             origin on this node's blocklist            code "blocked"
        ├── WrongKey            signed by a key not in force at that seq   code "wrong_key"
        ├── Superseded          an old key's entry at or before a recovery code "superseded"
        └── Unstorable          valid, but this node failed to store it    code "unstorable"
"""

from __future__ import annotations

from typing import Any


class FederationError(Exception):
    """Base class of every error raised by ``federation``."""


class KeyFileError(FederationError):
    """The node's key file cannot be used; the message says what to do."""


class SchemaError(FederationError):
    """A document does not match its schema or a rule of the protocol, as data:

    - ``field``: the JSON path of the culprit (``title``, ``services.0``; "" for the whole
      document);
    - ``keyword``: the rule it breaks: a JSON Schema keyword (``maxLength``, ``required``,
      ``enum``...) or a rule checked in code: ``after`` (``end`` not after ``start``),
      ``notBefore`` (a last day before the first), ``format`` (``date-time``),
      ``acceptedOffer`` (``accepted_offer`` exactly when closed), ``owner`` (a decision
      about another place's thing), ``maxBytes`` (a payload over the byte limit);
    - ``limit``: that rule's value when it has one: the bound of ``maxLength`` or
      ``minimum``, the expected type of ``type``, the allowed values of ``enum``, the
      pattern of ``pattern``, the member that ``after`` or ``notBefore`` compares with.

    ``message`` is English for people and may change; programs read the three others."""

    def __init__(self, message: str, field: str = "", keyword: str = "", limit: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.keyword = keyword
        self.limit = limit


class PeerError(FederationError):
    """A peer could not be reached, timed out, or answered something we cannot use.

    ``kind`` says which, for callers that act on it (``papi sync``'s exit status, logs)
    without reading messages."""

    kind = "protocol"


class PeerLacksPath(PeerError):
    """The peer answered ``404`` or ``405`` to a path it should serve: a protocol 1.1
    request to a peer that went back to version 1 (docs/protocol.md 11.1)."""


class PeerUnreachable(PeerError):
    """No usable answer in time: refused or lost connection, timeout, deadline, DNS."""

    kind = "unreachable"


class PeerBusy(PeerUnreachable):
    """The peer asked us to come back later (``503``/``429``, ``Retry-After`` seconds)."""

    kind = "busy"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AddressRefused(PeerError):
    """The URL resolves to an address that is not public unicast, and policy forbids it."""

    kind = "refused"


class EntryRejected(FederationError):
    """An entry that must not be stored. ``code`` is stable and machine-readable."""

    code = "rejected"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedEntry(EntryRejected):
    code = "malformed"


class EntryTooLarge(EntryRejected):
    code = "too_large"


class InvalidEntrySchema(EntryRejected):
    """``field``, ``keyword`` and ``limit`` as in ``SchemaError``."""

    code = "schema"

    def __init__(self, message: str, field: str = "", keyword: str = "", limit: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.keyword = keyword
        self.limit = limit

    @classmethod
    def of(cls, error: SchemaError, prefix: str = "") -> InvalidEntrySchema:
        return cls(prefix + error.message, error.field, error.keyword, error.limit)


class BadSignature(EntryRejected):
    code = "bad_signature"


class PayloadMismatch(EntryRejected):
    code = "payload_mismatch"


class FutureTimestamp(EntryRejected):
    code = "future_timestamp"


class BrokenChain(EntryRejected):
    code = "broken_chain"


class ForkDetected(EntryRejected):
    code = "fork"


class OriginFrozen(EntryRejected):
    code = "origin_frozen"


class PendingFull(EntryRejected):
    code = "gap"


class TooManyNewOrigins(EntryRejected):
    code = "too_many_new_origins"


class Unstorable(EntryRejected):
    code = "unstorable"


class NotOwner(EntryRejected):
    """A loan or registration decision about an item or event of another origin."""

    code = "not_owner"


class NotMember(EntryRejected):
    """An origin outside the closure of vouches from this node's founders."""

    code = "not_member"


class Blocked(EntryRejected):
    """An origin the operator put on this node's blocklist."""

    code = "blocked"


class WrongKey(EntryRejected):
    """Signed by a key that is not the origin's key in force at that seq (a rotated or
    recovered key), or a key entry changing keys it may not (federation/keychain.py)."""

    code = "wrong_key"


class Superseded(EntryRejected):
    """An entry of an old node key competing with a history its recovery key vouched
    for (it signed the hash of the seq before the recovery)."""

    code = "superseded"
