"""Run the benchmarks of issue 5 and write ``bench/results.json``.

    python bench/run.py                 # every benchmark, small sizes (a few minutes)
    python bench/run.py --full          # the sizes of issue 5 (about 15 minutes on 2 cores)
    python bench/run.py --only ingest   # one benchmark (repeat --only for several)

Each benchmark prints one line per figure; ``bench/results.json`` maps every figure to
``{"value", "unit", "target", "ceiling"}``, and times also to ``"reference"``: the time in
reference units (time x the run's one-core ingest ceiling / 10,000, measured first on a
fixed workload), which targets on times judge. Benchmarks assert nothing about time: a missed
target is printed as MISSED, never raised. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sqlite3
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

BENCHMARKS = [
    "ingest",
    "schema",
    "catchup",
    "idle_round",
    "propagation",
    "simulate",
    "search",
    "search_quality",
    "serving",
    "footprint",
    "blobs",
]
RESULTS = ROOT / "bench" / "results.json"


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, Python"
        f" {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def compile_bytecode() -> None:
    """Write the bytecode of the node's sources, as an installed node has it.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (this sandbox sets it), every process the
    benchmarks start would otherwise compile the node's modules from source again: 0.2 s
    of CPU per command and about 2 MiB of resident memory more (``idle_rss_mb``)."""
    import compileall

    for package in ("node", "federation", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full sizes of issue 5")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark ({', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args(argv)
    common.FULL = args.full
    names = args.only or BENCHMARKS
    print(f"papi-node benchmarks ({'full' if args.full else 'small'} sizes): {', '.join(names)}")
    print(f"machine: {machine()}")
    print(
        f"load average at start: {common.load_average():.2f}"
        " (other work on the machine makes every figure noisier)"
    )
    started = time.perf_counter()
    compile_bytecode()
    from bench.ingest import REFERENCE_WORKLOAD, reference_ceiling

    common.REFERENCE_CEILING = reference_ceiling()
    common.record(
        "reference_ceiling_per_s",
        common.REFERENCE_CEILING,
        "entries/s",
        note=f"one-core ingest ceiling, {REFERENCE_WORKLOAD[0] * REFERENCE_WORKLOAD[1]:,}"
        " entries (fixed): times in reference units = time x this / 10,000",
    )
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        try:
            module.main()
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
    elapsed = time.perf_counter() - started
    previous: dict[str, object] = {}
    if args.only and args.output.exists():  # keep the figures of the benchmarks not run
        previous = json.loads(args.output.read_text())
    common.record(
        "bench_run_s",
        elapsed,
        "s",
        note=f"{'full' if args.full else 'small'} sizes, {len(names)} benchmark(s)",
    )
    results = {**previous, **common.FIGURES}
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{len(common.FIGURES)} figures in {elapsed:.0f}s, written to {args.output}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
