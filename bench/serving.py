"""Benchmark 6, serving: requests/s of a 100-entry ``/federation/v1/entries`` page and of
the ``/search`` HTML page of a real ``papi serve`` process, measured with ``wrk`` on
127.0.0.1, against minimal endpoints in the same run: a trivial Starlette app served by
uvicorn the way ``papi serve`` serves (the ceiling of the stack) and ``GET /api/v1/node``.

``wrk`` (Debian package ``wrk``) is optional: without it this benchmark says so and
records nothing. The node's per-client rate limit is turned off
(``PAPI_RATE_LIMIT_PER_MINUTE=0``): wrk is a single client. One wrk thread and 8
connections: the machine has 2 cores, one for the server, one for wrk.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import (
    ROOT,
    NodeProc,
    free_port,
    open_node,
    preload,
    processes,
    record,
    section,
    signed_logs,
    size,
    workdir,
)


async def _hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


#: The trivial app: ``python -m uvicorn bench.serving:minimal_app``.
minimal_app = Starlette(routes=[Route("/", _hello)])


def wrk(url: str, seconds: int) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) of ``url``."""
    result = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    text = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    figures = {"rps": rps}
    for label in ("50%", "99%"):
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", text)
        if match:
            value = float(match.group(1))
            figures[label] = (
                value / 1000
                if match.group(2) == "us"
                else (value * 1000 if match.group(2) == "s" else value)
            )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error answers")
    return figures


def start_minimal(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (base / "minimal.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.serving:minimal_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-server-header",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the minimal app did not start")


def main() -> None:
    section("6. serving")
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk): serving benchmark skipped")
        return
    seconds = size(4, 15)
    with workdir("serving") as base, processes() as started:
        # Throughput, not the per-client limiter (wrk is one client: 127.0.0.1).
        proc = NodeProc(base / "node", "serving", env={"PAPI_RATE_LIMIT_PER_MINUTE": "0"})
        proc.init()
        log = signed_logs(1, 200)[0]

        async def fill() -> None:
            from bench.search import fill as fill_objects

            async with open_node(proc.data_dir) as node:
                await preload(node, list(log))
                await fill_objects(node, size(3000, 30000))

        asyncio.run(fill())
        proc.start()
        started.append(proc)
        minimal, minimal_url = start_minimal(base)
        try:
            origin = log[0]["header"]["origin"]
            targets = {
                "serving_minimal_rps": (minimal_url, "trivial Starlette app, same uvicorn"),
                "serving_node_info_rps": (proc.url + "/api/v1/node", "GET /api/v1/node"),
                "serving_entries_page_rps": (
                    f"{proc.url}/federation/v1/entries?origin={origin}&after=50&limit=100",
                    "100-entry page",
                ),
                "serving_search_html_rps": (proc.url + "/search?q=atelier", "/search?q=atelier"),
            }
            search = httpx.get(targets["serving_search_html_rps"][0], timeout=30)
            if search.status_code != 200 or "html" not in search.headers.get("content-type", ""):
                print(f"/search answers {search.status_code}: no web search page, skipped")
                del targets["serving_search_html_rps"]
            page = httpx.get(targets["serving_entries_page_rps"][0], timeout=30).json()
            if len(page["entries"]) != 100:
                raise RuntimeError("the entries page does not hold 100 entries")
            ceiling = None
            for name, (url, what) in targets.items():
                figures = wrk(url, seconds)
                ceiling = ceiling or figures["rps"]
                record(
                    name,
                    figures["rps"],
                    "req/s",
                    higher_is_better=True,
                    ceiling=None if name == "serving_minimal_rps" else ceiling,
                    note=f"{what}; latency p50 {figures.get('50%', 0):.1f} ms,"
                    f" p99 {figures.get('99%', 0):.1f} ms",
                )
        finally:
            minimal.terminate()
            minimal.wait(timeout=20)


if __name__ == "__main__":
    main()
