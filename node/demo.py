"""``papi demo``: five real nodes on 127.0.0.1, wired in a chain so that data must be
relayed (Brest - Plougastel - Landerneau - Crozon - Ouessant), seeded through their API
(places, offers, and fiches with a PDF each). A closed network: the first node is the
founder and vouches for the others (docs/protocol.md 16)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .demo_data import demo_places
from .demo_resources import demo_resources


def _papi(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"papi: error: demo: 'papi {args[0]}' failed: {result.stderr.strip()}")
    return result.stdout


def _node_id(init_output: str) -> str:
    for line in init_output.splitlines():
        if line.startswith("Node id: "):
            return line.removeprefix("Node id: ").strip()
    raise SystemExit("papi: error: demo: 'papi init' did not say the node id")


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"papi: error: demo node {url} exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/v1/node", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"papi: error: demo node {url} did not start; see {log}")


def run_demo(base_dir: Path, base_port: int = 8101) -> None:
    places = demo_places()
    for port in range(base_port, base_port + len(places)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise SystemExit(
                    f"papi: error: port {port} is already in use; the demo uses ports "
                    f"{base_port}-{base_port + len(places) - 1}: choose others with --port"
                ) from None
    base_dir = base_dir / "demo"
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PAPI_SYNC_INTERVAL_SECONDS": "5", "PAPI_LOG_LEVEL": "warning"}

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        urls: list[str] = []
        founder_dir = base_dir / "node1"
        for index, place in enumerate(places):
            port = base_port + index
            url = f"http://127.0.0.1:{port}"
            data_dir = base_dir / f"node{index + 1}"
            fresh = not (data_dir / "node.key").exists()
            out = _papi("init", "--data-dir", str(data_dir), "--name", place["name"],
                        "--commune", place["commune"], "--url", url,
                        "--no-recovery-key")  # fmt: skip
            origin = _node_id(out)
            if index == 0:
                # A closed network (docs/protocol.md 16): the first place is its founder
                # and vouches for the others as they join.
                env["PAPI_FOUNDERS"] = origin
            elif fresh:
                _papi("vouch", origin, "--data-dir", str(founder_dir),
                      "--title", "Membre du réseau de démonstration")  # fmt: skip
            log = base_dir / f"node{index + 1}.log"
            with log.open("ab") as handle:
                process = subprocess.Popen(
                    [sys.executable, "-m", "node.cli", "serve", "--data-dir", str(data_dir),
                     "--port", str(port)],
                    stdout=handle, stderr=subprocess.STDOUT, env=env,
                )  # fmt: skip
            processes.append(process)
            _wait_ready(url, process, log)
            if fresh:
                _seed(data_dir, url, place)
                if index:
                    # Each node knows only the previous one: a chain.
                    _papi("peer", "add", urls[-1], "--data-dir", str(data_dir))
            urls.append(url)
            print(f"  {place['name']:36} {url}/", flush=True)
        print("Demo network running (each node knows only the previous one; the first one")
        print("founded the network and vouched for the others).")
        print(f"Data and logs in {base_dir}. Ctrl-C to stop.", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("A demo node stopped unexpectedly; stopping the others.", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping the demo nodes...", flush=True)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        print("Demo stopped.")


def _seed(data_dir: Path, url: str, place: dict[str, Any]) -> None:
    token = _papi("token", "create", "--label", "demo", "--data-dir", str(data_dir))
    headers = {"authorization": f"Bearer {token.strip().splitlines()[-1]}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        client.put("/api/v1/place", json={**place["place"], "endpoints": [url]}).raise_for_status()
        for collection in ("skills", "equipment", "events"):
            for item in place[collection]:
                client.post(f"/api/v1/{collection}", json=item).raise_for_status()
        for payload, name, pdf in demo_resources(place["name"]):
            blob = client.post(
                "/api/v1/blobs", content=pdf, headers={"content-type": "application/pdf"}
            )
            blob.raise_for_status()
            attachment = {"name": name, "media_type": "application/pdf", **blob.json()}
            client.post(
                "/api/v1/resources", json={**payload, "attachments": [attachment]}
            ).raise_for_status()
