"""Large batches ingested during a scope of ``Ingestor.processes`` (a sync round) are
checked by worker processes (node/services/check_processes.py): the report must be
exactly the one of checking them one by one here, a worker that fails must cost nothing
but the time to check its batch here, and no worker may outlive its scope."""

from __future__ import annotations

import asyncio
import copy
import logging
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from federation.checking import check_batch
from node.services import check_processes, ingest
from node.services.peers import add_peer
from node.services.sync import sync_with
from tests.bulk import origin_log
from tests.conftest import InProcessNode, in_process_node, wait_until
from tests.network import network, url_of
from tests.test_ingest_parallel import _batch


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The worker processes started, in order."""
    processes: list[subprocess.Popen[bytes]] = []

    class Recorded(check_processes._Worker):
        def __init__(self) -> None:
            super().__init__()
            processes.append(self.process)

    monkeypatch.setattr(check_processes, "_Worker", Recorded)
    monkeypatch.setattr(ingest, "PARSE_THREADS", 2)
    monkeypatch.setattr(ingest, "CHECK_PROCESSES_MIN_BATCH", 100)
    return processes


def _answers(papi: InProcessNode) -> list[bool]:
    """Records, for each large batch, whether the worker processes checked it."""
    processes = papi.node.ingestor.processes
    check = processes.check
    answered: list[bool] = []

    async def recorded(*args: Any, **kwargs: Any) -> Any:
        checked = await check(*args, **kwargs)
        answered.append(checked is not None)
        return checked

    processes.check = recorded  # type: ignore[method-assign]
    return answered


async def _expected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *batches: Any) -> list[Any]:
    """The reports of the same batches checked one by one, on a fresh node."""
    with monkeypatch.context() as patch:
        patch.setattr(ingest, "PARSE_THREADS", 0)
        async with in_process_node(tmp_path / "expected") as other:
            with other.node.db.activated():
                return [
                    (await other.node.ingestor.ingest(copy.deepcopy(batch))).to_json()
                    for batch in batches
                ]


async def test_worker_processes_give_the_same_report(
    papi: InProcessNode,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    started: list[subprocess.Popen[bytes]],
) -> None:
    warm_up, starting, batch = origin_log(5, 120), origin_log(6, 120), _batch()
    processes = papi.node.ingestor.processes
    processes.count = 2  # whatever the cores: the batch is shared between them
    answered = _answers(papi)
    with papi.node.db.activated():
        assert (await papi.node.ingestor.ingest(copy.deepcopy(warm_up))).accepted  # no scope
        assert processes.running == 0 and not started
        async with processes.scope():
            # The first large batch starts the workers, and is checked here too meanwhile.
            first = await papi.node.ingestor.ingest(copy.deepcopy(starting))
            assert processes.running == 2
            report = await papi.node.ingestor.ingest(copy.deepcopy(batch))
        assert processes.running == 0
    assert answered == [False, True, True]
    assert len(started) == 2 and all(process.returncode == 0 for process in started)
    expected = await _expected(tmp_path, monkeypatch, warm_up, starting, batch)
    assert first.to_json() == expected[1] and len(first.accepted) == 120
    assert report.to_json() == expected[2]
    assert [r.code for r in report.rejected][:2] == ["malformed", "payload_mismatch"]


async def test_a_failing_worker_costs_nothing_but_time(
    papi: InProcessNode,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    started: list[subprocess.Popen[bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    warm_up, batch, later = origin_log(5, 120), _batch(), origin_log(7, 120)
    processes = papi.node.ingestor.processes
    processes.count = 2  # whatever the cores: the batch is shared between them
    answered = _answers(papi)
    with papi.node.db.activated(), caplog.at_level(logging.WARNING):
        async with processes.scope():
            await papi.node.ingestor.ingest(copy.deepcopy(warm_up))
            for process in started:
                process.kill()
                process.wait()
            report = await papi.node.ingestor.ingest(copy.deepcopy(batch))
            assert processes.running == 0  # the failed ones are gone
            await papi.node.ingestor.ingest(copy.deepcopy(later))  # starts others
            assert processes.running == 2
        assert processes.running == 0
    assert answered == [True, False, True]
    assert caplog.text.count("a checking process failed") == 1
    assert len(started) == 4 and all(process.returncode is not None for process in started)
    expected = await _expected(tmp_path, monkeypatch, warm_up, batch)
    assert report.to_json() == expected[1]


async def test_a_sync_round_checks_its_pages_in_worker_processes(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    async with network(tmp_path, ["a", "b"], sync_page_bytes=131072, check_processes=2) as (
        _,
        nodes,
    ):
        a, b = nodes["a"], nodes["b"]
        logs = [origin_log(index, 150) for index in range(4)]
        with b.node.db.activated():
            for log in logs:
                assert len((await b.node.ingestor.ingest(copy.deepcopy(log))).accepted) == 150
        answered = _answers(a)
        with a.node.db.activated():
            peer = await add_peer(url_of("b"))
            result = await sync_with(a.node, peer)
        assert result.error is None and result.accepted == 601  # and b's own place
        holds = (await a.client.get("/api/v1/nodes")).json()["origins"]
        for log in logs:
            origin = log[0]["header"]["origin"]
            assert {"id": origin, "seq": 150}.items() <= next(
                o for o in holds if o["id"] == origin
            ).items()
        # The first large page started the workers; every page was checked by them (and
        # by this process while it waited).
        assert answered and all(answered)
        assert a.node.ingestor.processes.running == 0
        assert len(started) == 2 and all(process.returncode == 0 for process in started)


async def test_no_worker_process_when_the_setting_says_none(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    async with network(tmp_path, ["a", "b"], sync_page_bytes=131072, check_processes=0) as (
        _,
        nodes,
    ):
        a, b = nodes["a"], nodes["b"]
        log = origin_log(0, 400)
        with b.node.db.activated():
            assert len((await b.node.ingestor.ingest(copy.deepcopy(log))).accepted) == 400
        answered = _answers(a)
        with a.node.db.activated():
            result = await sync_with(a.node, await add_peer(url_of("b")))
        assert result.error is None and result.accepted == 401
        assert answered and not any(answered) and not started


def test_the_setting_is_bounded(tmp_path: Path) -> None:
    from node.settings import ConfigError, load_settings

    assert load_settings(tmp_path, {"check_processes": 3}, environ={}).check_processes == 3
    for wrong in (-1, 17):
        with pytest.raises(ConfigError, match="check_processes"):
            load_settings(tmp_path, {"check_processes": wrong}, environ={})


@pytest.mark.parametrize("ahead", [False, True])
async def test_this_process_checks_the_pieces_no_worker_has_taken(
    monkeypatch: pytest.MonkeyPatch, ahead: bool
) -> None:
    """While it waits for a batch, this process checks its last pieces, those the
    worker has not taken: each piece is checked once, the answers keep the batch's
    order (refusals included). The worker is held until this process has helped, and
    this process helps once the worker has taken the first piece: both take a share."""
    monkeypatch.setattr(check_processes, "PIECE_ENTRIES", 10)
    documents: list[Any] = origin_log(3, 55)
    documents[52] = {"header": "not an entry"}  # in a piece checked here
    documents[3] = ["not", "an", "entry"]  # in the worker's piece
    release = threading.Event()
    sent: list[int] = []
    here: list[int] = []
    send, help_ = check_processes._Worker.send, check_processes.CheckProcesses._help

    def held_send(self: check_processes._Worker, pieces: list[Any], *limits: Any) -> None:
        release.wait(30)
        sent.append(len(pieces))
        send(self, pieces, *limits)

    def counted(pieces: list[Any], *limits: Any) -> list[Any]:
        here.append(len(pieces))
        return check_batch(pieces, *limits)

    async def helped(self: check_processes.CheckProcesses, batch: Any) -> None:
        await asyncio.to_thread(wait_until, lambda: batch.pieces[0].claimed, interval=0.01)
        try:
            await help_(self, batch)
        finally:
            release.set()

    monkeypatch.setattr(check_processes._Worker, "send", held_send)
    monkeypatch.setattr(check_processes, "check_batch", counted)
    monkeypatch.setattr(check_processes.CheckProcesses, "_help", helped)
    processes = check_processes.CheckProcesses(1)
    async with processes.scope():
        if ahead:
            checking = asyncio.ensure_future(processes.check(documents, 65536, None, here=False))
            await asyncio.to_thread(wait_until, lambda: processes._batches, interval=0.01)
            await processes.help(documents)
            checked = await checking
        else:
            checked = await processes.check(documents, 65536, None)
        assert processes.running == 1
    assert processes.running == 0
    assert checked == check_batch(documents, 65536, None)
    assert checked[3] is None and checked[52] is None and checked.count(None) == 2
    assert sent == [10] and here == [5, 10, 10, 10, 10]


async def test_a_batch_dropped_while_the_worker_checks_it_leaves_the_worker_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch checked ahead and then dropped (its task cancelled while the worker checks
    its first piece): the worker's answer to that piece must not end the thread that
    feeds it, so that the next batch still goes to the worker."""
    monkeypatch.setattr(check_processes, "PIECE_ENTRIES", 10)
    dropped: list[Any] = origin_log(4, 20)
    batch: list[Any] = origin_log(5, 30)
    answered = threading.Event()
    receive = check_processes._Worker.receive

    def held_receive(self: check_processes._Worker, count: int) -> list[Any]:
        answered.wait(30)
        return receive(self, count)

    monkeypatch.setattr(check_processes._Worker, "receive", held_receive)
    processes = check_processes.CheckProcesses(1)
    async with processes.scope():
        checking = asyncio.ensure_future(processes.check(dropped, 65536, None, here=False))
        await asyncio.to_thread(wait_until, lambda: processes._batches, interval=0.01)
        first = processes._batches[id(dropped)].pieces[0]
        await asyncio.to_thread(wait_until, lambda: first.claimed, interval=0.01)
        checking.cancel()  # what ``Ingestor.forget_ahead`` does
        await asyncio.wait([checking])
        answered.set()
        made: list[check_processes._Batch] = []
        make = check_processes._Batch

        def recorded(*args: Any) -> check_processes._Batch:
            made.append(make(*args))
            return made[-1]

        # Kept as it is made: the batch leaves ``_batches`` as soon as it is checked,
        # which a fast worker can do before a poll of ``_batches`` sees it.
        monkeypatch.setattr(check_processes, "_Batch", recorded)
        taken = asyncio.ensure_future(processes.check(batch, 65536, None, here=False))
        await asyncio.to_thread(wait_until, lambda: made, interval=0.01)
        pieces = made[0].pieces
        # The worker takes the new batch's pieces (this process does not help here);
        # the bound only turns a worker no one feeds into a failure instead of a hang.
        assert await asyncio.wait_for(taken, 30) == check_batch(batch, 65536, None)
        assert all(piece.claimed for piece in pieces)
