"""Shared helpers of the benchmarks: figures, signed test data, nodes in-process and as
real ``papi serve`` processes on 127.0.0.1.

Benchmarks print one line per figure and assert nothing about time. Every figure goes to
``FIGURES`` (written to ``bench/results.json`` by ``bench/run.py``) as
``{"value", "unit", "target", "ceiling"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

PYTHON = sys.executable

# -- figures ---------------------------------------------------------------------------

FIGURES: dict[str, dict[str, Any]] = {}
#: Whether the run uses the full sizes of issue 5 (``--full``).
FULL = False
#: The run's own one-core ingest ceiling (entries/s) on a fixed workload
#: (``bench.ingest.reference_ceiling``), measured first. The machines are shared and their
#: speed varies up to twofold between runs, so every time is also given in *reference
#: units*: the time multiplied by this ceiling and divided by 10,000 (the time on a
#: machine whose ceiling would be 10,000 entries/s). Targets on times judge that figure.
REFERENCE_CEILING: float | None = None
REFERENCE_RATE = 10_000.0
#: Units of the figures that are times (and get a reference figure).
TIME_UNITS = ("s", "ms")


def reference_figure(value: float, unit: str, ceiling: float | None = None) -> float | None:
    """``value`` in reference units, if it is a time and a ceiling was measured:
    ``ceiling`` (one measured around this figure, see ``bracketed``) or the run's."""
    ceiling = ceiling or REFERENCE_CEILING
    if unit not in TIME_UNITS or not ceiling or value == float("inf"):
        return None
    return value * ceiling / REFERENCE_RATE


@dataclass(frozen=True)
class Bracketed:
    """A timing with the one-core ceiling measured just before and just after it.

    The machines' speed changes by half again within seconds (consecutive one-second runs
    of the ceiling: 3,700, 3,800, 5,300, 5,800, 4,000 entries/s...), so a ceiling measured
    minutes earlier, at the run's start, may belong to another phase. The mean of the two
    around a timing is the yardstick of the seconds it took (docs/performance.md 10.8)."""

    seconds: float
    before: float
    after: float

    @property
    def ceiling(self) -> float:
        return (self.before + self.after) / 2

    @property
    def reference(self) -> float:
        return self.seconds * self.ceiling / REFERENCE_RATE


def bracketed_ceiling() -> float:
    """One run of the reference ceiling's fixed workload (entries/s), as at the run's start
    but not the best of three: one phase of the machine, the one around a timing."""
    from bench.ingest import reference_ceiling

    return reference_ceiling(runs=1)


def size(small: int, full: int) -> int:
    return full if FULL else small


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def record(
    name: str,
    value: float,
    unit: str,
    *,
    target: float | None = None,
    ceiling: float | None = None,
    higher_is_better: bool = False,
    note: str = "",
    reference_ceiling: float | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Keep a figure and print its summary line (a time with its reference figure next
    to it; a target on a time is judged on the reference figure).

    ``reference_ceiling``: the ceiling measured around this timing (``Bracketed``), which
    then gives its reference figure; the one from the run's start-of-run ceiling is kept
    next to it (``reference_start_of_run``) so that both methods show in every run."""
    reference = reference_figure(value, unit, reference_ceiling)
    FIGURES[name] = {
        "value": round(float(value), 6),
        "unit": unit,
        "target": target,
        "ceiling": None if ceiling is None else round(float(ceiling), 6),
    }
    if reference is not None:
        FIGURES[name]["reference"] = round(reference, 6)
    start_of_run = None
    if reference_ceiling:
        FIGURES[name]["reference_ceiling"] = round(reference_ceiling, 3)
        start_of_run = reference_figure(value, unit)
        if start_of_run is not None:
            FIGURES[name]["reference_start_of_run"] = round(start_of_run, 6)
    if extra:
        FIGURES[name].update(extra)
    parts = [f"{name:34} {_fmt(value):>12} {unit}"]
    if reference is not None:
        parts.append(f"(ref {_fmt(reference)} {unit})")
    if reference_ceiling:
        parts.append(
            f"[ceiling around it {reference_ceiling:,.0f}/s"
            + ("" if start_of_run is None else f"; at the run's start: ref {_fmt(start_of_run)}")
            + "]"
        )
    if target is not None:
        judged = value if reference is None else reference
        met = judged >= target if higher_is_better else judged <= target
        parts.append(
            f"target {'>=' if higher_is_better else '<='} {_fmt(target)}"
            f"{'' if reference is None else ' ref'} [{'met' if met else 'MISSED'}]"
        )
    if ceiling:
        parts.append(f"ceiling {_fmt(ceiling)} (ratio {value / ceiling:.2f})")
    if note:
        parts.append(note)
    print("  ".join(parts), flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


# -- signed test data ------------------------------------------------------------------


@cache
def signed_logs(origins: int, per_origin: int) -> tuple[tuple[dict[str, Any], ...], ...]:
    """``origins`` logs of ``per_origin`` valid signed entries each (tests/bulk.py: a place,
    then skills and equipment), built once per run."""
    from tests.bulk import origin_log

    return tuple(tuple(origin_log(index, per_origin)) for index in range(origins))


def sync_order(logs: tuple[tuple[dict[str, Any], ...], ...]) -> list[dict[str, Any]]:
    """All entries in the order a sync answer delivers them: origin by origin, seq order."""
    return [entry for log in logs for entry in log]


def entry_bytes(entry: dict[str, Any]) -> int:
    """Size of one entry as compact JSON: the bytes of the entry itself."""
    return len(json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode())


# -- temporary directories -------------------------------------------------------------


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"papi-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- in-process nodes ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_node(data_dir: Path, **settings: Any) -> AsyncIterator[Any]:
    """A node's database opened in this process (no HTTP), its context active."""
    from node.datadir import init_data_dir, load_key
    from node.runtime import Node
    from node.services.bootstrap import ensure_place
    from node.settings import load_settings

    values = {"name": settings.pop("name", "Bench"), "commune": settings.pop("commune", "Brest")}
    init_data_dir(data_dir, values)
    node = Node(
        load_settings(
            data_dir, {"scheduler": False, "rate_limit_per_minute": 0, **settings}, environ={}
        ),
        load_key(data_dir),
    )
    await node.db.open()
    try:
        with node.db.activated():
            await ensure_place(node)
            yield node
    finally:
        await node.db.close()


async def preload(node: Any, entries: list[dict[str, Any]], page: int = 500) -> None:
    """Ingest ``entries`` through the node's real ingest path, ``page`` at a time."""
    for start in range(0, len(entries), page):
        report = await node.ingestor.ingest(entries[start : start + page])
        if report.rejected:
            raise RuntimeError(f"preload rejected: {report.rejected[0].to_json()}")


@contextlib.asynccontextmanager
async def asgi_node(
    data_dir: Path, **settings: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """A full app in this process, reached through ``httpx.ASGITransport``."""
    from node.app import create_app
    from node.datadir import init_data_dir
    from node.settings import load_settings

    values = {"name": settings.pop("name", "Bench"), "commune": settings.pop("commune", "Brest")}
    transport = settings.pop("transport", None)
    init_data_dir(data_dir, values)
    app = create_app(
        load_settings(
            data_dir, {"scheduler": False, "rate_limit_per_minute": 0, **settings}, environ={}
        ),
        transport=transport,
    )
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench.test"
        )
        async with client:
            yield app, client


# -- real processes --------------------------------------------------------------------


def free_port() -> int:
    """A free port below the ephemeral range: a port the kernel hands out (``bind`` to 0)
    may be taken, before the node binds it, by the client side of a connection, and 50
    nodes opening connections to each other made that happen (a node exited at start)."""
    for _ in range(500):
        port = _ports.randrange(20000, 32000)
        if port in _given:  # handed to a node that may not have bound it yet
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _given.add(port)
            return port
    raise RuntimeError("no free port in 20000-32000")


_ports = random.Random()
_given: set[int] = set()


def papi(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run the ``papi`` command line; its stdout."""
    result = subprocess.run(
        [PYTHON, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"papi {' '.join(args)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout + result.stderr if not check else result.stdout


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class NodeProc:
    """One ``papi serve`` process on 127.0.0.1 with its own data directory."""

    data_dir: Path
    name: str
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def papi(self, *args: str) -> str:
        return papi(*args, "--data-dir", str(self.data_dir), env=self.env)

    def init(self, commune: str = "Brest") -> None:
        self.papi("init", "--name", self.name, "--commune", commune, "--url", self.url)

    def create_token(self) -> str:
        self.token = self.papi("token", "create", "--label", "bench").strip().splitlines()[-1]
        return self.token

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def spawn(self) -> None:
        log = (self.data_dir.parent / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "node.cli",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PAPI_LOG_LEVEL": "warning", **self.env},
        )
        log.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited; see {self.data_dir.parent}/{self.name}.log"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/api/v1/node", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {timeout}s")

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def processes() -> Iterator[list[NodeProc]]:
    """A list to put started ``NodeProc`` in; every one is stopped at the end."""
    started: list[NodeProc] = []
    try:
        yield started
    finally:
        for proc in started:
            with contextlib.suppress(Exception):
                proc.stop()


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> float:
    """Poll ``predicate`` until true; seconds waited. ``TimeoutError`` past ``timeout``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def rng(seed: int = 5) -> random.Random:
    return random.Random(seed)
