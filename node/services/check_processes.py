"""Worker processes that check the entries of large batches (``federation.checking``).

Checked on threads of this process, a sync page's Ed25519 verifications ran beside the
storing of the page before, but each entry's Python steps took turns with the storing for
the GIL: a round used 1.1-1.2 of 2 cores (docs/performance.md 10.2). In worker processes
the whole check runs on another core.

A batch is cut into pieces that the workers check in order, batch after batch. The
checking is the longer half of a sync round (a worker's 110-150 µs of CPU per entry
against this process's 85-110 to store it): when this process waits for a batch
(``help``: the page it is about to store), it checks that batch's last pieces itself,
those no worker has taken yet, so that neither side waits for the other.

The workers are started by the first large batch of a scope (a sync round:
``Ingestor.processes.scope()``), which this process helps to check while they start,
and stopped when the last scope ends: an idle node runs none. If they cannot start or
one fails, batches are checked in this process as before (and the log says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import federation
from federation.checking import Checked, check_batch, read_frame, write_frame

log = logging.getLogger(__name__)

#: Worker processes of an ``Ingestor`` built without the setting ``check_processes``
#: (its default). One on 2 cores: it checks a page in about the time this process takes
#: to store the one before (110-150 and 90-110 µs of CPU per entry); two took more CPU
#: for the same round (docs/performance.md 10.2).
CHECK_PROCESSES = 1
#: After this many failures the workers are not started again (until the node restarts).
MAX_FAILURES = 3
#: Size asked for the pipes to and from a worker (Linux; 1 MiB is the usual maximum).
PIPE_BYTES = 1024 * 1024
#: Seconds a stopping worker gets to finish its batch and exit before it is killed.
STOP_TIMEOUT = 10.0
#: Entries per piece of a batch: what this process may take over when it waits (about
#: 15 ms of checking), small enough that it then waits little for the piece a worker is
#: checking, large enough that a piece's trip to a worker (two pipe writes) costs little.
PIECE_ENTRIES = 128
#: Pieces sent to a worker before its answer to the first is read.
PIECES_SENT = 2


class _Worker:
    """One ``python -m federation.checking`` process; its thread sends it batches."""

    def __init__(self) -> None:
        # The interpreter of this process, and the ``federation`` package this process
        # imported (a source checkout, as well as an installed one).
        root = str(Path(federation.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.process = subprocess.Popen(
            # -P: not the working directory first on sys.path.
            [sys.executable, "-P", "-m", "federation.checking"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.lock = threading.Lock()
        for pipe in (self.process.stdin, self.process.stdout):
            _enlarge(pipe)

    def send(
        self, documents: list[Any], max_payload_bytes: int, max_future_seconds: float | None
    ) -> None:
        """Blocking: send a batch (the answers come in the order of the batches)."""
        assert self.process.stdin is not None
        with self.lock:
            write_frame(self.process.stdin, (documents, max_payload_bytes, max_future_seconds))

    def receive(self, count: int) -> list[Checked | None]:
        """Blocking: the answer to the oldest batch sent and not answered, of ``count``
        documents."""
        assert self.process.stdout is not None
        with self.lock:
            answer = read_frame(self.process.stdout)
        if not isinstance(answer, list) or len(answer) != count:
            raise ValueError("the checking process answered another batch")
        return answer

    def stop(self) -> None:
        """Blocking: let the batch being checked finish, end the process."""
        with self.lock:
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()  # the worker reads the end and exits
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()


def _enlarge(pipe: IO[bytes] | None) -> None:
    """Make room in ``pipe`` for a whole batch (a 1 MiB sync page is about 420 KB of
    documents and 630 KB of answers): through 64 KiB pipes, a page took about 17 turns
    of both processes, each one a wait for a core on a busy machine."""
    if pipe is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: left as is
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()


class _Piece:
    """Part of a batch, checked by a worker process or here (``help``): whichever claims
    it first."""

    __slots__ = ("claimed", "documents", "done", "limits")

    def __init__(self, documents: list[Any], limits: tuple[int, float | None]) -> None:
        self.documents = documents
        self.limits = limits
        self.done: Future[list[Checked | None]] = Future()
        self.claimed = False


class _Batch:
    """A batch being checked: its pieces in order, and which start of the workers they
    were sent to."""

    def __init__(
        self, documents: list[Any], limits: tuple[int, float | None], generation: int
    ) -> None:
        self.documents = documents
        self.generation = generation
        self.pieces = [
            _Piece(documents[i : i + PIECE_ENTRIES], limits)
            for i in range(0, len(documents), PIECE_ENTRIES)
        ]


class _Stopped(Exception):
    """The workers stopped before a piece sent to them was taken."""


class CheckProcesses:
    """The worker processes of one ``Ingestor``, while at least one scope is open."""

    def __init__(self, count: int | None = None) -> None:
        self.count = CHECK_PROCESSES if count is None else count
        self._scopes = 0
        self._workers: list[_Worker] = []
        #: Pieces for the workers, in order (``None``: a worker's thread ends).
        self._queue: queue.SimpleQueue[_Piece | None] = queue.SimpleQueue()
        #: One thread per worker, feeding it pieces; one that checks pieces here.
        self._threads: ThreadPoolExecutor | None = None
        self._here: ThreadPoolExecutor | None = None
        self._claims = threading.Lock()
        #: Batches being checked, by the identity of their list (``help``).
        self._batches: dict[int, _Batch] = {}
        #: Counts the starts of workers: a failure is counted once per start.
        self._generation = 0
        self._failures = 0

    @property
    def running(self) -> int:
        """How many workers run now."""
        return len(self._workers)

    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[None]:
        """Large batches ingested meanwhile may be checked by the workers."""
        self._scopes += 1
        try:
            yield
        finally:
            self._scopes -= 1
            if self._scopes == 0:
                await self._stop()

    async def check(
        self,
        documents: list[Any],
        max_payload_bytes: int,
        max_future: timedelta | None,
        *,
        here: bool = True,
    ) -> list[Checked | None] | None:
        """What the workers (and, with ``here``, this process as it waits) computed of
        each document (``federation.checking``), or None: the batch is to be checked in
        this process (no scope open, the workers cannot start or failed). Without
        ``here`` (a batch checked ahead), this process helps once ``help`` says it waits."""
        if self._scopes == 0 or self.count < 1 or self._failures >= MAX_FAILURES:
            return None
        if not self._workers and not self._start():
            return None
        seconds = None if max_future is None else max_future.total_seconds()
        batch = _Batch(documents, (max_payload_bytes, seconds), self._generation)
        self._batches[id(documents)] = batch
        try:
            for piece in batch.pieces:
                self._queue.put(piece)
            if here:
                await self._help(batch)
            answers = [await asyncio.wrap_future(piece.done) for piece in batch.pieces]
        except (OSError, EOFError, ValueError, _Stopped) as exc:
            if batch.generation == self._generation and self._workers:
                self._failures += 1
                log.warning("a checking process failed, the batch is checked here: %r", exc)
                await self._stop()
            return None
        finally:
            if self._batches.get(id(documents)) is batch:
                del self._batches[id(documents)]
        return [checked for answer in answers for checked in answer]

    async def help(self, documents: list[Any]) -> None:
        """This process waits for ``documents`` (a batch given to ``check`` without
        ``here``): it checks the pieces no worker has taken yet, from the last."""
        batch = self._batches.get(id(documents))
        if batch is not None and batch.documents is documents:
            await self._help(batch)

    def _claim(self, piece: _Piece) -> bool:
        """True for the one caller that is to check ``piece``. A claimed piece's future
        is marked running: a batch dropped meanwhile (its waiting cancelled) cannot
        cancel it, and the answer can always be set; a piece already cancelled is
        nobody's to check."""
        with self._claims:
            if piece.claimed:
                return False
            piece.claimed = True
        return piece.done.set_running_or_notify_cancel()

    async def _help(self, batch: _Batch) -> None:
        loop = asyncio.get_running_loop()
        # The workers take pieces in order: from the last, the first one claimed means
        # that all before it are too.
        for piece in reversed(batch.pieces):
            if self._here is None or not self._claim(piece):
                return
            try:
                checked = await loop.run_in_executor(
                    self._here, check_batch, piece.documents, *piece.limits
                )
            except BaseException as exc:
                piece.done.set_exception(exc)
                raise
            piece.done.set_result(checked)

    def _serve(self, worker: _Worker, pieces: queue.SimpleQueue[_Piece | None]) -> None:
        """A worker's thread: the pieces not claimed here, in order, until told to end.
        ``PIECES_SENT`` at a time, so that the worker has the next one at hand when it
        ends one (this thread may wait for the GIL meanwhile)."""
        sent: deque[_Piece] = deque()
        ending = False
        while True:
            while not ending and len(sent) < PIECES_SENT:
                try:
                    piece = pieces.get(block=not sent)
                except queue.Empty:
                    break
                if piece is None:
                    ending = True
                elif self._claim(piece):
                    try:
                        worker.send(piece.documents, *piece.limits)
                    except BaseException as exc:  # each piece after it fails too: none waits
                        piece.done.set_exception(exc)
                    else:
                        sent.append(piece)
            if not sent:
                if ending:
                    return
                continue
            piece = sent.popleft()
            try:
                piece.done.set_result(worker.receive(len(piece.documents)))
            except BaseException as exc:
                piece.done.set_exception(exc)

    def _start(self) -> bool:
        try:
            if not sys.executable:
                raise OSError("this interpreter's executable is unknown")
            for _ in range(self.count):
                self._workers.append(_Worker())
        except OSError as exc:
            self._failures = MAX_FAILURES
            log.warning("cannot start the checking processes, entries are checked here: %s", exc)
            _stop_all(self._workers)
            self._workers = []
            return False
        self._generation += 1
        self._queue = queue.SimpleQueue()
        self._threads = ThreadPoolExecutor(self.count, thread_name_prefix="papi-check")
        self._here = ThreadPoolExecutor(1, thread_name_prefix="papi-check-here")
        for worker in self._workers:
            self._threads.submit(self._serve, worker, self._queue)
        return True

    async def _stop(self) -> None:
        workers, self._workers = self._workers, []
        threads, self._threads = self._threads, None
        here, self._here = self._here, None
        pieces = self._queue
        for _ in workers:
            pieces.put(None)
        if workers:
            # Shielded: a second cancellation must not leave the processes running.
            await asyncio.shield(asyncio.to_thread(_stop_all, workers))
        # Pieces still queued (a failure stopped the workers) fail: none waits forever.
        with contextlib.suppress(queue.Empty):
            while True:
                piece = pieces.get_nowait()
                if piece is not None and self._claim(piece):
                    piece.done.set_exception(_Stopped("the checking processes stopped"))
        for executor in (threads, here):
            if executor is not None:
                executor.shutdown(wait=False)
