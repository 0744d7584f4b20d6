"""Benchmark 1, ingest: entries/s through the node's real ingest path, against the raw
ceiling on the same entries, then with verification moved to other processes.

- node: ``json.loads`` of each page as it comes off the wire, then ``Ingestor.ingest``
  (schema, size, signature, payload hash and schema, timestamp, chain, then entries,
  objects, origins and the FTS index in one transaction), 500 entries per page in the
  order a sync answer delivers them. As shipped, a page is checked on
  ``node.services.ingest.PARSE_THREADS`` threads (Ed25519 releases the GIL); measured
  again with ``PARSE_THREADS = 0`` (one thread) for the ratio to the single-core ceiling;
- ceiling: on the same pages, ``json.loads`` + RFC 8785 bytes of header and payload +
  SHA-256 of the payload + Ed25519 verify + one ``sqlite3`` ``executemany`` per page into
  a table like ``entries`` (same columns and indexes, WAL, synchronous=NORMAL). Measured
  twice: with ``federation.canonical.canonical_bytes`` (what the node uses) and with the
  ``rfc8785`` package alone (the issue's wording); the ratio uses the faster one;
- parallel: the ceiling pipeline with page verification in a ``ProcessPoolExecutor``
  while this process writes (the 2-core ceiling), and the node's chain and store path fed
  by ``parse_entry`` in worker processes instead of threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import record, section, signed_logs, size, sync_order, workdir

PAGE = 500

ENTRIES_DDL = """
CREATE TABLE entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, origin VARCHAR(60) NOT NULL, seq BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL, oid VARCHAR(64) NOT NULL, op VARCHAR(8) NOT NULL,
    header TEXT NOT NULL, sig VARCHAR(90) NOT NULL, hash VARCHAR(71) NOT NULL, payload TEXT,
    received_at TIMESTAMP NOT NULL, UNIQUE (origin, seq)
);
CREATE INDEX entries_object ON entries (origin, kind, oid);
"""
INSERT = (
    "INSERT INTO entries (origin, seq, kind, oid, op, header, sig, hash, payload, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _pages(entries: list[dict[str, Any]]) -> list[bytes]:
    return [
        json.dumps(entries[i : i + PAGE], separators=(",", ":"), ensure_ascii=False).encode()
        for i in range(0, len(entries), PAGE)
    ]


# -- the raw ceiling ----------------------------------------------------------------------


def verify_page(page: bytes, use_rfc8785: bool = False) -> list[tuple[Any, ...]]:
    """Parse and verify one page; the rows to insert. Raises on any bad entry."""
    import rfc8785
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from federation.canonical import canonical_bytes
    from federation.encoding import b64url_decode

    canonical: Callable[[Any], bytes] = rfc8785.dumps if use_rfc8785 else canonical_bytes
    keys: dict[str, Ed25519PublicKey] = {}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows = []
    for document in json.loads(page):
        header = document["header"]
        origin = header["origin"]
        key = keys.get(origin)
        if key is None:
            key = keys[origin] = Ed25519PublicKey.from_public_bytes(b64url_decode(origin[8:]))
        header_bytes = canonical(header)
        key.verify(b64url_decode(document["sig"]), header_bytes)  # raises if forged
        payload = document["payload"]
        payload_text = None
        if payload is not None:
            payload_bytes = canonical(payload)
            if "sha256:" + hashlib.sha256(payload_bytes).hexdigest() != header["payload_hash"]:
                raise ValueError("payload hash")
            payload_text = payload_bytes.decode()
        rows.append(
            (
                origin,
                header["seq"],
                header["kind"],
                header["oid"],
                header["op"],
                header_bytes.decode(),
                document["sig"],
                "sha256:" + hashlib.sha256(header_bytes).hexdigest(),
                payload_text,
                now,
            )
        )
    return rows


def _raw_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(ENTRIES_DDL)
    return db


def _store_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    db.execute("BEGIN")
    db.executemany(INSERT, rows)
    db.execute("COMMIT")


def raw_ceiling(pages: list[bytes], path: Path, use_rfc8785: bool = False) -> float:
    db = _raw_db(path)
    start = time.perf_counter()
    for page in pages:
        _store_rows(db, verify_page(page, use_rfc8785))
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


#: The fixed workload of the reference ceiling (origins, entries each): the same whatever
#: the sizes of the run, so that reference figures of different runs compare.
REFERENCE_WORKLOAD = (25, 200)


def reference_ceiling(runs: int = 3) -> float:
    """The one-core ingest ceiling (entries/s, best of ``runs``) on ``REFERENCE_WORKLOAD``:
    the yardstick of this run's machine (bench.common.REFERENCE_CEILING)."""
    pages = _pages(sync_order(signed_logs(*REFERENCE_WORKLOAD)))
    count = REFERENCE_WORKLOAD[0] * REFERENCE_WORKLOAD[1]
    with workdir("reference") as base:
        best = min(raw_ceiling(pages, base / f"ref{run}.sqlite3") for run in range(runs))
    return count / best


def raw_parallel(pages: list[bytes], path: Path, workers: int) -> float:
    """The ceiling pipeline with verification in ``workers`` processes."""
    db = _raw_db(path)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(int, range(workers)))  # start the workers before the clock
        start = time.perf_counter()
        for rows in pool.map(verify_page, pages):
            _store_rows(db, rows)
        elapsed = time.perf_counter() - start
    db.close()
    return elapsed


# -- the node -----------------------------------------------------------------------------


async def node_ingest(pages: list[bytes], data_dir: Path, threads: int | None = None) -> float:
    from node.services import ingest

    shipped = getattr(ingest, "PARSE_THREADS", 1)
    if threads is not None:
        ingest.PARSE_THREADS = threads  # type: ignore[attr-defined]
    try:
        return await _node_ingest(pages, data_dir)
    finally:
        ingest.PARSE_THREADS = shipped  # type: ignore[attr-defined]


async def _node_ingest(pages: list[bytes], data_dir: Path) -> float:
    from bench.common import open_node

    async with open_node(data_dir) as node:
        start = time.perf_counter()
        for page in pages:
            documents = json.loads(page)
            report = await node.ingestor.ingest(documents)
            if len(report.accepted) != len(documents):
                raise RuntimeError(f"ingest: {report.to_json()}")
        return time.perf_counter() - start


def parse_page(page: bytes) -> list[tuple[dict[str, Any], str, str | None]]:
    """Worker side of the parallel node ingest: everything ``parse_entry`` checks, for a
    whole page; returns each document with its canonical header and payload text."""
    from federation.entry import parse_entry

    checked = []
    for document in json.loads(page):
        entry = parse_entry(document)
        checked.append((document, entry.header_bytes.decode(), entry.payload_text))
    return checked


async def node_parallel(pages: list[bytes], data_dir: Path, workers: int) -> float:
    """The node's chain and store path, with ``parse_entry`` run in ``workers`` processes
    (the bytes they computed are reused, nothing is verified twice)."""
    from bench.common import open_node
    from federation.entry import Entry
    from node.services.ingest import Ingestor

    class PreverifiedIngestor(Ingestor):
        def parse(self, document: Any) -> Entry:
            item, header_text, payload_text = document
            entry = Entry(item["header"], item["sig"], item["payload"])
            entry.__dict__["header_bytes"] = header_text.encode()
            entry.__dict__["payload_text"] = payload_text
            return entry

    loop = asyncio.get_running_loop()
    async with open_node(data_dir) as node:
        ingestor = PreverifiedIngestor(
            node.db, max_payload_bytes=node.ingestor.max_payload_bytes, max_future=None
        )
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(int, range(workers)))
            start = time.perf_counter()
            futures = [loop.run_in_executor(pool, parse_page, page) for page in pages]
            for future in futures:
                checked = await future
                report = await ingestor.ingest(checked)
                if len(report.accepted) != len(checked):
                    raise RuntimeError(f"ingest: {report.to_json()}")
            return time.perf_counter() - start


def main() -> None:
    section("1. ingest")
    origins, per_origin = size(50, 100), 200
    entries = sync_order(signed_logs(origins, per_origin))
    count = len(entries)
    pages = _pages(entries)
    print(f"{count} entries from {origins} origins, pages of {PAGE} in sync order")
    # Node and ceiling alternate and the best of each is kept: the machine may be busy.
    from node.services import ingest

    threads = getattr(ingest, "PARSE_THREADS", 1)
    best: dict[str, float] = {}
    runs = size(2, 3)
    with workdir("ingest") as base:
        for run in range(runs):
            times = {
                "node": asyncio.run(node_ingest(pages, base / f"node{run}")),
                "single": asyncio.run(node_ingest(pages, base / f"single{run}", threads=0)),
                "ceiling": raw_ceiling(pages, base / f"raw{run}.sqlite3"),
                "rfc8785": raw_ceiling(pages, base / f"rfc{run}.sqlite3", use_rfc8785=True),
            }
            for name, seconds in times.items():
                best[name] = min(best.get(name, seconds), seconds)
            print(
                f"  run {run + 1}/{runs}: "
                + ", ".join(f"{name} {count / seconds:,.0f}/s" for name, seconds in times.items())
            )
        par_raw_s = raw_parallel(pages, base / "raw-par.sqlite3", workers=2)
        par_node_s = asyncio.run(node_parallel(pages, base / "node-par", workers=2))
    rate = {name: count / seconds for name, seconds in best.items()}
    ceiling = rate["ceiling"]
    record(
        "ingest_per_s",
        rate["node"],
        "entries/s",
        ceiling=ceiling,
        higher_is_better=True,
        note=f"as shipped: checks on {threads} thread(s)",
    )
    record(
        "ingest_single_thread_per_s",
        rate["single"],
        "entries/s",
        ceiling=ceiling,
        higher_is_better=True,
        note="PARSE_THREADS = 0",
    )
    record(
        "ingest_ceiling_per_s",
        ceiling,
        "entries/s",
        higher_is_better=True,
        note="one core: json + RFC 8785 + sha256 + Ed25519 + executemany/500",
    )
    record(
        "ingest_ceiling_rfc8785_per_s",
        rate["rfc8785"],
        "entries/s",
        higher_is_better=True,
        note="same, canonical bytes by the rfc8785 package alone",
    )
    record(
        "ingest_ratio",
        rate["single"] / ceiling,
        "node/ceiling",
        target=0.80,
        higher_is_better=True,
        note="one thread against the one-core ceiling",
    )
    record(
        "ingest_parallel_ratio",
        rate["node"] / ceiling,
        "node/ceiling",
        higher_is_better=True,
        note=f"as shipped ({threads} thread(s)) against the one-core ceiling",
    )
    record(
        "ingest_parallel_ceiling_per_s",
        count / par_raw_s,
        "entries/s",
        higher_is_better=True,
        note="ceiling pipeline, verify in 2 worker processes",
    )
    record(
        "ingest_process_pool_per_s",
        count / par_node_s,
        "entries/s",
        ceiling=ceiling,
        higher_is_better=True,
        note="node chain+store, parse_entry in 2 worker processes",
    )


if __name__ == "__main__":
    main()
