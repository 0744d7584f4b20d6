"""The papi federation protocol: identity, signed entries, chains, schemas, sync messages.

Pure library: it imports neither the web framework nor the ORM, so another project can
read and reuse it alone. The normative description is ``docs/protocol.md``.
"""

from .chain import Head, check_successor, verify_log
from .entry import MAX_FUTURE, MAX_PAYLOAD_BYTES, Entry, build_entry, parse_entry
from .keys import NodeKey, origin_id, verify_signature
from .payloads import KINDS, SUPPORTED_KINDS, validate_payload
from .vector import missing_ranges, vector_digest

__all__ = [
    "KINDS",
    "MAX_FUTURE",
    "MAX_PAYLOAD_BYTES",
    "SUPPORTED_KINDS",
    "Entry",
    "Head",
    "NodeKey",
    "build_entry",
    "check_successor",
    "missing_ranges",
    "origin_id",
    "parse_entry",
    "validate_payload",
    "vector_digest",
    "verify_log",
    "verify_signature",
]
