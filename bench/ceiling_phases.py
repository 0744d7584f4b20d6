"""How steady the machine is: the reference ceiling's fixed workload (``bench.ingest``),
one run at a time, back to back, with the kernel's steal time around each.

Not one of ``bench/run.py``'s benchmarks (it records no figure): run it alone,
``python bench/ceiling_phases.py [runs]``, to see whether the machine's speed moves within
seconds (docs/performance.md 10.8), before trusting one run's reference figures.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bracketed_ceiling, load_average


def steal_ticks() -> int:
    """The kernel's steal time of all CPUs (clock ticks; 0 where not reported)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) if len(fields) > 8 else 0


def main(runs: int = 20) -> None:
    print(f"load average at start: {load_average():.2f}")
    for run in range(runs):
        steal, start = steal_ticks(), time.perf_counter()
        ceiling = bracketed_ceiling()
        print(
            f"{run + 1:3d}  ceiling {ceiling:7,.0f} entries/s"
            f"  wall {time.perf_counter() - start:5.2f} s  steal {steal_ticks() - steal} ticks",
            flush=True,
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
