"""Signed entries: build, parse and verify one entry of an origin's log.

An entry is ``{"header": {...}, "sig": "...", "payload": {...} | null}``. ``sig`` signs the
RFC 8785 bytes of the header; the header commits to the payload through ``payload_hash``
and ``payload_len``, and to the previous header through ``prev``. See docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, overload

from . import schema
from .canonical import canonical_bytes, sha256_tag
from .errors import (
    BadSignature,
    EntryTooLarge,
    FutureTimestamp,
    InvalidEntrySchema,
    MalformedEntry,
    NotOwner,
    PayloadMismatch,
    SchemaError,
)
from .keys import NodeKey, verify_signature
from .payloads import oid_violation, owner_violation, validate_payload
from .timeutil import format_ts, parse_ts, utc_now

PROTOCOL_VERSION = 1
#: Default bound on a payload's canonical size. A description may hold 20,000 characters
#: of up to 4 UTF-8 bytes each, hence well above 80 KB.
MAX_PAYLOAD_BYTES = 128 * 1024
#: Kinds whose payloads may exceed that bound: a resource's body alone holds up to 200,000
#: characters. 1 MiB is also the header schema's bound on any ``payload_len``.
KIND_MAX_PAYLOAD_BYTES = {"resource": 1024 * 1024}
#: Default tolerance for entries dated ahead of our clock.
MAX_FUTURE = timedelta(days=1)

T = TypeVar("T")


class _computed_once(Generic[T]):
    """``functools.cached_property`` without its lock: Python 3.11's takes an ``RLock``
    at every first read, 0.4 µs each, three per entry checked (docs/performance.md 10.2).
    Entries are values: the same result whichever thread computes it first."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _computed_once[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | _computed_once[T]:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value  # read from there from now on
        return value


@dataclass(frozen=True)
class Entry:
    header: dict[str, Any]
    sig: str
    payload: dict[str, Any] | None = field(default=None)

    @_computed_once
    def origin(self) -> str:
        return str(self.header["origin"])

    @_computed_once
    def seq(self) -> int:
        return int(self.header["seq"])

    @_computed_once
    def kind(self) -> str:
        return str(self.header["kind"])

    @_computed_once
    def oid(self) -> str:
        return str(self.header["oid"])

    @_computed_once
    def op(self) -> str:
        return str(self.header["op"])

    @_computed_once
    def prev(self) -> str | None:
        prev = self.header["prev"]
        return None if prev is None else str(prev)

    @_computed_once
    def header_bytes(self) -> bytes:
        return canonical_bytes(self.header)

    @_computed_once
    def header_hash(self) -> str:
        """``sha256:<hex>`` of the canonical header: the next entry's ``prev``."""
        return sha256_tag(self.header_bytes)

    @_computed_once
    def payload_text(self) -> str | None:
        """The payload's RFC 8785 form as text (``None`` when absent)."""
        return None if self.payload is None else canonical_bytes(self.payload).decode()

    def to_json(self) -> dict[str, Any]:
        return {"header": self.header, "sig": self.sig, "payload": self.payload}

    def without_payload(self) -> Entry:
        """The same entry with its payload purged (after a tombstone)."""
        return Entry(self.header, self.sig, None)


def payload_limit(kind: str, max_payload_bytes: int) -> int:
    """The bound on the canonical payload of an entry of ``kind``."""
    return max(max_payload_bytes, KIND_MAX_PAYLOAD_BYTES.get(kind, 0))


def build_entry(
    key: NodeKey,
    *,
    seq: int,
    prev: str | None,
    kind: str,
    oid: str,
    op: str,
    payload: dict[str, Any] | None,
    ts: datetime | None = None,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    origin: str | None = None,
) -> Entry:
    """Sign a new entry. The payload is validated first; ``SchemaError`` if it is invalid.

    ``origin``: the log's origin when ``key`` is not its first key (after a rotation or a
    recovery, federation/keychain.py): the header then names ``key`` as its ``signer``."""
    origin = origin or key.origin
    rule = oid_violation(kind, oid, op, payload)
    if rule is not None:
        raise SchemaError(rule, "oid", "oid")
    if op == "put":
        if payload is None:
            raise SchemaError("a put needs a payload", "payload", "required")
        validate_payload(kind, payload)
        violation = owner_violation(kind, origin, payload)
        if violation is not None:
            raise SchemaError(f"'{violation}' must be a thing of this place", violation, "owner")
        payload_bytes = canonical_bytes(payload)
        limit = payload_limit(kind, max_payload_bytes)
        if len(payload_bytes) > limit:
            raise SchemaError(
                f"payload is {len(payload_bytes)} bytes, over the {limit} limit",
                "",
                "maxBytes",
                limit,
            )
        payload_hash: str | None = sha256_tag(payload_bytes)
        payload_len = len(payload_bytes)
    elif op == "delete":
        payload, payload_hash, payload_len = None, None, 0
    else:
        raise SchemaError(f"unknown op {op!r}", "op", "enum", ["put", "delete"])
    header: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "origin": origin,
        "seq": seq,
        "prev": prev,
        "ts": format_ts(ts or utc_now()),
        "kind": kind,
        "oid": oid,
        "op": op,
        "payload_hash": payload_hash,
        "payload_len": payload_len,
    }
    if key.origin != origin:
        header["signer"] = key.origin
    schema.validate("urn:papi:header", header)
    return Entry(header, key.sign(canonical_bytes(header)), payload)


def parse_entry(
    document: Any,
    *,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    max_future: timedelta | None = MAX_FUTURE,
    now: datetime | None = None,
) -> Entry:
    """Check everything an entry can prove alone and return it.

    Checked, in this order: shape, envelope and header schema, size, signature, payload
    hash and length, payload schema, timestamp. The chain (``prev``, contiguous ``seq``)
    needs the origin's log and is checked by ``federation.chain``.

    A ``put`` whose payload is ``null`` is valid: its payload was purged after a tombstone.
    """
    if not isinstance(document, dict) or set(document) != {"header", "sig", "payload"}:
        raise MalformedEntry("an entry is an object with exactly header, sig and payload")
    try:
        schema.validate("urn:papi:entry", document)
    except SchemaError as exc:
        raise InvalidEntrySchema.of(exc) from None
    header: dict[str, Any] = document["header"]
    payload: dict[str, Any] | None = document["payload"]
    limit = payload_limit(header["kind"], max_payload_bytes)
    if header["payload_len"] > limit:
        raise EntryTooLarge(f"payload_len {header['payload_len']} is over the {limit} byte limit")
    entry = Entry(header, document["sig"], payload)
    signer = header.get("signer", entry.origin)
    if signer == entry.origin and "signer" in header:
        raise InvalidEntrySchema("'signer' is given only when it differs from 'origin'", "signer")
    if not verify_signature(signer, entry.header_bytes, entry.sig):
        raise BadSignature("the signature does not verify against the signer's key")
    rule = oid_violation(entry.kind, entry.oid, entry.op, payload)
    if rule is not None:
        raise InvalidEntrySchema(rule, "oid", "oid")
    if payload is not None:
        if entry.op == "delete":
            raise PayloadMismatch("a delete entry carries no payload")
        try:
            payload_bytes = entry.payload_text.encode()  # type: ignore[union-attr]
        except ValueError as exc:  # rfc8785: NaN, integers over 2**53, lone surrogates
            raise MalformedEntry(f"payload has no canonical form: {exc}") from None
        except RecursionError:
            raise MalformedEntry("payload is nested too deeply") from None
        if len(payload_bytes) != header["payload_len"]:
            raise PayloadMismatch("payload length does not match payload_len")
        if sha256_tag(payload_bytes) != header["payload_hash"]:
            raise PayloadMismatch("payload does not match payload_hash")
        try:
            validate_payload(entry.kind, payload)
        except SchemaError as exc:
            raise InvalidEntrySchema.of(exc, "payload: ") from None
        violation = owner_violation(entry.kind, entry.origin, payload)
        if violation is not None:
            raise NotOwner(
                f"a {entry.kind} decides about '{violation}' {payload[violation]!r}, "
                f"which is not a thing of {entry.origin}"
            )
    try:
        moment = parse_ts(header["ts"])
    except ValueError as exc:  # the schema checks the shape, not e.g. month 13
        raise InvalidEntrySchema(f"'ts': {exc}", "ts") from None
    if max_future is not None and moment - (now or utc_now()) > max_future:
        raise FutureTimestamp(f"ts {header['ts']} is too far in the future")
    return entry
