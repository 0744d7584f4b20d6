"""Benchmark 1b, schema checks: what ``parse_entry`` asks of the JSON Schemas for one
entry (the entry schema, which refers to the header's, then the payload's), on the entries
of bench/ingest.py, with the node's validator (``federation.schema``: jsonschema-rs) and
with python-jsonschema (the tests' reference, ``tests/schema_reference.py``).

Rounds alternate between the two (the machine may be busy) and the medians are kept; the
reference runs on a tenth of the entries (it is about a hundred times slower)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.common import median, record, section, signed_logs, size, sync_order

Check = Callable[[str, Any], bool]


def _per_entry(is_valid: Check, entries: list[dict[str, Any]]) -> float:
    """Microseconds per entry to check ``entries`` (each must be valid)."""
    start = time.perf_counter()
    for entry in entries:
        payload = entry["payload"]
        if not is_valid("urn:papi:entry", entry) or (
            payload is not None
            and not is_valid(f"urn:papi:payload/{entry['header']['kind']}", payload)
        ):
            raise RuntimeError(f"invalid entry: {entry['header']}")
    return (time.perf_counter() - start) / len(entries) * 1e6


def main() -> None:
    from federation import schema
    from tests import schema_reference

    section("1b. schema checks")
    entries = sync_order(signed_logs(size(50, 100), 200))
    few = entries[: len(entries) // 10]

    def reference(schema_id: str, document: Any) -> bool:
        return bool(schema_reference.validator(schema_id).is_valid(document))

    node, python = [], []
    _per_entry(schema.is_valid, entries)  # compile the validators first
    _per_entry(reference, few)
    for _ in range(size(5, 9)):
        node.append(_per_entry(schema.is_valid, entries))
        python.append(_per_entry(reference, few))
    print(f"{len(entries)} entries of bench/ingest.py, {len(node)} alternated rounds")
    record(
        "schema_check_us_per_entry",
        median(node),
        "µs/entry",
        note="entry + payload schema, jsonschema-rs (federation.schema)",
    )
    record(
        "schema_check_python_jsonschema_us_per_entry",
        median(python),
        "µs/entry",
        note="the same with python-jsonschema (reference of the tests)",
    )
