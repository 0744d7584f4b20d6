"""Attachments: how long a new node takes to fetch the resources of one peer and their
blobs (100 resources, 1 GB of attachments with ``--full``, 100 MB otherwise) over
loopback, against ``cp`` of the same files followed by ``sync`` (the floor: the bytes
only have to be copied on the same disk; the node also hashes them on both sides, checks
them, and fsyncs each file).

Both sides are real ``papi serve`` processes. The clock starts when the new node answers
(its peer was added before it started) and stops when it holds every blob (read from its
database, not through its API, so that polling costs it nothing).
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from bench.common import NodeProc, processes, record, section, size, wait_for, workdir

RESOURCES = 100
#: Room for 1 GB on both nodes (the default quota is 2 GiB).
ENV = {
    "PAPI_BLOB_QUOTA_BYTES": str(4 * 1024**3),
    "PAPI_RATE_LIMIT_PER_MINUTE": "0",
    "PAPI_SYNC_INTERVAL_SECONDS": "2",
}


def _held(data_dir: Path) -> int:
    path = data_dir / "papi.sqlite3"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM blobs").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not there yet
        return 0
    finally:
        db.close()


def _publish(source: NodeProc, files: Path, each: int) -> list[str]:
    """Upload ``RESOURCES`` PDF-looking blobs of ``each`` bytes and their resources."""
    rng = random.Random(11)
    shas = []
    with httpx.Client(base_url=source.url, headers=source.auth, timeout=300) as client:
        for index in range(RESOURCES):
            data = b"%PDF-1.4\n" + rng.randbytes(each - 9)
            name = f"support-{index:03d}.pdf"
            (files / name).write_bytes(data)
            r = client.post(
                "/api/v1/blobs", content=data, headers={"content-type": "application/pdf"}
            )
            r.raise_for_status()
            shas.append(r.json()["sha256"])
            client.post(
                "/api/v1/resources",
                json={
                    "title": f"Atelier {index}",
                    "summary": "Support d'atelier à imprimer.",
                    "attachments": [{"name": name, "media_type": "application/pdf", **r.json()}],
                },
            ).raise_for_status()
    return shas


def main() -> None:
    each = size(1_000_000, 10_000_000)
    total = RESOURCES * each
    section(f"blobs: a new node fetches {RESOURCES} resources, {total / 1e6:,.0f} MB attached")
    with workdir("blobs") as base, processes() as started:
        source = NodeProc(base / "source", "Source", env=ENV)
        source.init()
        source.create_token()
        source.start()
        started.append(source)
        files = base / "files"
        files.mkdir()
        shas = _publish(source, files, each)

        began = time.perf_counter()
        subprocess.run(["cp", "-r", str(files), str(base / "copy")], check=True)
        subprocess.run(["sync"], check=True)
        cp_s = time.perf_counter() - began

        sink = NodeProc(base / "sink", "Sink", env=ENV)
        sink.init()
        sink.papi("peer", "add", source.url)
        spawned = time.perf_counter()
        sink.start()
        started.append(sink)
        ready = time.perf_counter()
        wait_for(lambda: _held(sink.data_dir) == RESOURCES, timeout=3600, interval=0.05)
        fetch_s = time.perf_counter() - ready
        startup_s = ready - spawned
        sample = shas[len(shas) // 2]
        stored = sink.data_dir / "blobs" / sample[:2] / sample[2:]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == sample

    note = f"{RESOURCES} resources, {total / 1e6:,.0f} MB, one peer on loopback"
    record("blobs_fetch_s", fetch_s, "s", note=note + f"; node start-up {startup_s:.1f}s apart")
    record("blobs_cp_s", cp_s, "s", note="cp -r of the same files, then sync")
    record("blobs_fetch_ratio", fetch_s / cp_s, "node/cp", note="lower is better; 1 = cp")
    record("blobs_fetch_mb_per_s", total / 1e6 / fetch_s, "MB/s", higher_is_better=True)


if __name__ == "__main__":
    main()
