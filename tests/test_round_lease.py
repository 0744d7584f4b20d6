"""One sync round per peer at a time across a node's processes (services/round_lease.py):
``papi sync`` next to ``papi serve`` on one data directory must not fetch, check and store
the same entries as the serving node's own round with that peer at the same time."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from node.services.peers import add_peer
from node.services.round_lease import lease_path, round_lease
from node.services.sync import RoundResult, sync_with
from node.settings import DATABASE_FILE
from tests.conftest import ROOT, NodeFactory, wait_until
from tests.network import network, url_of
from tests.peer_fakes import wait_for

#: Another process holding a round's lease: takes it, says so, then sleeps until killed.
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


@contextmanager
def lease_held_elsewhere(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process (as the serving node's round would) holding the lease file ``path``;
    killed without a chance to clean up at the end, as a crashed one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def crash(holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()


async def test_a_lease_is_held_once_and_freed_at_its_end(tmp_path: Path) -> None:
    async with round_lease(tmp_path, 7) as first:
        assert first
        async with round_lease(tmp_path, 7) as second:  # another open file: as another process
            assert not second
        async with round_lease(tmp_path, 8) as other_peer:
            assert other_peer
    async with round_lease(tmp_path, 7) as again:
        assert again
    assert lease_path(tmp_path, 7).stat().st_mode & 0o777 == 0o600


async def test_a_round_another_process_runs_is_skipped_until_that_process_dies(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        with a.node.db.activated():
            peer = await add_peer(url_of("b"))
            with lease_held_elsewhere(lease_path(a.node.settings.data_dir, peer.id)) as holder:
                skipped = await sync_with(a.node, peer)
                assert skipped.skipped and not skipped.synced
                assert skipped.received == 0 and skipped.error is None
                crash(holder)  # its lease goes with it
                after = await sync_with(a.node, peer)
        assert after.synced and after.accepted >= 2  # b's place and its skill


async def test_a_waiting_round_runs_once_the_other_has_ended(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await b.client.post("/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
        told: list[RoundResult] = []
        with a.node.db.activated():
            peer = await add_peer(url_of("b"))
            with lease_held_elsewhere(lease_path(a.node.settings.data_dir, peer.id)) as holder:
                waiting = asyncio.create_task(sync_with(a.node, peer, waiting=told.append))
                await wait_for(lambda: bool(told))
                await asyncio.sleep(0.5)
                assert not waiting.done() and len(told) == 1  # it waits, said once
                crash(holder)
                result = await asyncio.wait_for(waiting, 30)
        assert result.synced and result.accepted >= 2


def test_papi_sync_waits_for_the_round_of_the_serving_node(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    b = node_factory("b")
    a = node_factory("a", start=False)
    a.papi("peer", "add", b.url)
    with sqlite3.connect(a.data_dir / DATABASE_FILE) as db:
        (peer_id,) = db.execute("SELECT id FROM peers WHERE url = ?", (b.url,)).fetchone()
    with lease_held_elsewhere(lease_path(a.data_dir, peer_id)) as holder:
        stderr = tmp_path / "sync.err"
        with stderr.open("w") as err:
            command = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "sync", "--data-dir", str(a.data_dir)],
                stderr=err,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "LANGUAGE": "fr", **a.env},
                cwd=ROOT,
            )
        try:
            wait_until(lambda: "attente de la fin" in stderr.read_text())
            assert command.poll() is None  # it waits for the other round
            crash(holder)
            assert command.wait(timeout=120) == 0, stderr.read_text()
        finally:
            if command.poll() is None:
                command.kill()
            command.wait()
    assert f"{b.url}: " in stderr.read_text() and "acceptées" in stderr.read_text()


async def test_a_backup_carries_no_lease_file(tmp_path: Path) -> None:
    from node.ops.backup import _data_files

    (tmp_path / "papi.toml").write_text("")
    async with round_lease(tmp_path, 3) as held:
        assert held and lease_path(tmp_path, 3).exists()
        assert _data_files(tmp_path) == ["papi.toml"]
