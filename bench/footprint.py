"""Benchmark 7, footprint: resident memory (VmRSS) of an idle ``papi serve`` process, then
after it synced 30,000 entries (5,000 by default) from a peer by itself (its scheduler,
sync interval 2 s), and the database size per 1,000 entries (after a clean stop, which
checkpoints the WAL into the database file), with the share of each table and index.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bench.catchup import holds_all, prepare_source
from bench.common import NodeProc, processes, record, section, size, wait_for, workdir


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def table_sizes(db: Path) -> dict[str, int]:
    """Bytes per table or index (``dbstat``), FTS5 shadow tables counted as one."""
    try:
        with sqlite3.connect(db) as connection:
            rows = connection.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
            ).fetchall()
    except sqlite3.OperationalError:
        return {}
    sizes: dict[str, int] = {}
    for name, pgsize in rows:
        key = "search_index (FTS5)" if name.startswith("search_index") else name
        sizes[key] = sizes.get(key, 0) + pgsize
    return sizes


def main() -> None:
    section("7. footprint")
    origins, per_origin = size(100, 300), size(50, 100)
    with workdir("footprint") as base, processes() as started:
        source, entries = prepare_source(base, origins, per_origin)
        source.start()
        started.append(source)
        node = NodeProc(base / "node", "node", env={"PAPI_SYNC_INTERVAL_SECONDS": "2"})
        node.init()
        node.start()
        started.append(node)
        time.sleep(3.0)
        idle = node.rss_mb()
        expected: dict[str, int] = {}
        for entry in entries:
            expected[entry["header"]["origin"]] = entry["header"]["seq"]
        node.papi("peer", "add", source.url)
        waited = wait_for(lambda: holds_all(node.url, expected), timeout=300, interval=1.0)
        time.sleep(2.0)
        synced = node.rss_mb()
        peak = _status(node.pid, "VmHWM")
        node.stop()
        db = node.data_dir / "papi.sqlite3"
        db_bytes = db.stat().st_size
        tables = table_sizes(db)
    count = len(entries)
    record("idle_rss_mb", idle, "MiB", target=50.0, note="papi serve, fresh, no traffic")
    record(
        "synced_rss_mb",
        synced,
        "MiB",
        note=f"after syncing {count} entries by itself in {waited:.0f}s; peak {peak:.1f} MiB",
    )
    record(
        "db_bytes_per_1000_entries",
        db_bytes / count * 1000,
        "bytes",
        note=f"{db_bytes / 1e6:.1f} MB for {count} entries (objects and index included)",
    )
    for name, table_bytes in sorted(tables.items(), key=lambda item: -item[1])[:6]:
        print(
            f"    {name:34} {table_bytes / db_bytes:6.1%}  {table_bytes / count * 1000:9,.0f}"
            " bytes per 1,000 entries"
        )


if __name__ == "__main__":
    main()
