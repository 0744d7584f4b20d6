"""Fixtures: nodes in temporary data directories, in-process (ASGITransport) or as real
``papi serve`` processes on 127.0.0.1."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette

from node.app import create_app
from node.datadir import init_data_dir
from node.runtime import Node
from node.settings import load_settings

# The command line speaks the locale's language (node/i18n.py): French in every test,
# whatever this machine's locale, unless a test asks for another.
os.environ["LANGUAGE"] = "fr"
ROOT = Path(__file__).resolve().parent.parent

# Hypothesis's time limits are wall-clock checks, and this shared 2-core machine runs the
# suite on both cores: a slow draw or example says nothing about the code. Examples and
# properties are checked in full; only the timing checks are off, for every test.
settings.register_profile("papi", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("papi")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free ports, below the ephemeral range (where
    client connections of other tests could take a neighbour of a port found free).

    Each pytest-xdist worker draws from its own share of the range: a port found free
    here is bound only later, when its node starts, and another worker's node must not
    take it meanwhile (a node then answered for another that could not start)."""
    low, high = 20000, 32000
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    share = (high - low) // max(workers, 1)
    low += share * (worker % max(workers, 1))
    high = low + share
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, high - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no block of {count} free ports")


# -- in-process nodes ----------------------------------------------------------------


@dataclass
class InProcessNode:
    app: Starlette
    client: httpx.AsyncClient
    token: str
    data_dir: Path

    @property
    def node(self) -> Node:
        node: Node = self.app.state.node
        return node

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@asynccontextmanager
async def in_process_node(
    data_dir: Path, transport: httpx.AsyncBaseTransport | None = None, **settings: Any
) -> AsyncIterator[InProcessNode]:
    from node.api.auth import create_token

    values = {"name": settings.pop("name", "EPN test"), "commune": settings.pop("commune", "Brest")}
    init_data_dir(data_dir, values)
    app = create_app(
        load_settings(
            data_dir, {"scheduler": False, "rate_limit_per_minute": 0, **settings}, environ={}
        ),
        transport=transport,
    )
    async with app.router.lifespan_context(app):
        node: Node = app.state.node
        with node.db.activated():
            token = await create_token("tests", node=node)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        async with client:
            yield InProcessNode(app, client, token, data_dir)


@pytest.fixture
async def papi(tmp_path: Path) -> AsyncIterator[InProcessNode]:
    """One in-process node with an API token."""
    async with in_process_node(tmp_path / "node") as node:
        yield node


# -- real processes ------------------------------------------------------------------


@dataclass
class NodeProcess:
    data_dir: Path
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    token: str = ""
    #: What ``papi init`` printed (the recovery words, when asked for).
    init_output: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def papi(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_papi(
            *args, "--data-dir", str(self.data_dir), env=self.env, check=check, input=input
        )

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self._spawn(log)
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/node", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node did not start: {self.log_path.read_text()[-2000:]}")

    def _spawn(self, log: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "serve", "--data-dir", str(self.data_dir),
             "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, cwd=ROOT,
        )  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def run_papi(
    *args: str, env: dict[str, str] | None = None, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    # The command line speaks the locale's language: French here, whatever the machine's
    # locale, unless a test asks for another (LANGUAGE is read first, see node/i18n.py).
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True, text=True, env={**os.environ, "LANGUAGE": "fr", **(env or {})},
        cwd=ROOT,
        input=input, timeout=120,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"papi {' '.join(args)} failed: {result.stderr}")
    return result


class NodeFactory:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.nodes: list[NodeProcess] = []

    def __call__(
        self,
        name: str,
        *,
        commune: str = "Brest",
        start: bool = True,
        with_recovery_key: bool = False,
        **config: Any,
    ) -> NodeProcess:
        data_dir = self.base / name
        port = free_port_block(1)
        env = {
            "PAPI_SYNC_INTERVAL_SECONDS": "2",
            "PAPI_LOG_LEVEL": "warning",
            # Browsers in tests never go beyond this machine: map tiles are asked of the
            # node itself (and not found), never of a public tile server.
            "PAPI_MAP_TILES_URL": f"http://127.0.0.1:{port}/no-tiles/{{z}}/{{x}}/{{y}}.png",
        }
        env.update({f"PAPI_{key.upper()}": str(value) for key, value in config.items()})
        node = NodeProcess(data_dir, port, self.base / f"{name}.log", env)
        # Without the offline recovery key unless asked: logs then start as they always did.
        recovery = () if with_recovery_key else ("--no-recovery-key",)
        init = node.papi("init", "--name", name, "--commune", commune, "--url", node.url, *recovery)
        node.init_output = init.stdout
        node.token = node.papi("token", "create").stdout.strip().splitlines()[-1]
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[NodeFactory]:
    """Start real ``papi serve`` processes on 127.0.0.1; all stopped at the end."""
    factory = NodeFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns a truthy value (condition-based, not timed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
