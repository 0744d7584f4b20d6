"""Worker processes that check the entries of large batches (``federation.checking``).

Checked on threads of this process, a sync page's Ed25519 verifications ran beside the
storing of the page before, but each entry's Python steps took turns with the storing for
the GIL: a round used 1.1-1.2 of 2 cores (docs/performance.md 10.2). In worker processes
the whole check runs on another core.

The workers are started by the first large batch of a scope (a sync round:
``Ingestor.processes.scope()``), which is itself checked in this process while they start,
and stopped when the last scope ends: an idle node runs none. If they cannot start or
one fails, batches are checked in this process as before (and the log says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import federation
from federation.checking import Checked, read_frame, write_frame

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


class _Worker:
    """One ``python -m federation.checking`` process; one batch at a time."""

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

    def check(
        self, documents: list[Any], max_payload_bytes: int, max_future_seconds: float | None
    ) -> list[Checked | None]:
        """Blocking: send the batch, wait for the answer."""
        requests, answers = self.process.stdin, self.process.stdout
        assert requests is not None and answers is not None
        with self.lock:
            write_frame(requests, (documents, max_payload_bytes, max_future_seconds))
            answer = read_frame(answers)
        if not isinstance(answer, list) or len(answer) != len(documents):
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


class CheckProcesses:
    """The worker processes of one ``Ingestor``, while at least one scope is open."""

    def __init__(self, count: int | None = None) -> None:
        self.count = CHECK_PROCESSES if count is None else count
        self._scopes = 0
        self._workers: list[_Worker] = []
        self._threads: ThreadPoolExecutor | None = None
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
        self, documents: list[Any], max_payload_bytes: int, max_future: timedelta | None
    ) -> list[Checked | None] | None:
        """What the workers computed of each document (``federation.checking``), or
        None: the batch is to be checked in this process (no scope open, the workers
        just started or failed)."""
        if self._scopes == 0 or self.count < 1 or self._failures >= MAX_FAILURES:
            return None
        if not self._workers:
            self._start()
            return None
        loop = asyncio.get_running_loop()
        seconds = None if max_future is None else max_future.total_seconds()
        size = -(-len(documents) // len(self._workers))
        chunks = [documents[i : i + size] for i in range(0, len(documents), size)]
        try:
            answers = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        self._threads, worker.check, chunk, max_payload_bytes, seconds
                    )
                    for worker, chunk in zip(self._workers, chunks, strict=False)
                )
            )
        except (OSError, EOFError, ValueError) as exc:
            self._failures += 1
            log.warning("a checking process failed, the batch is checked here: %r", exc)
            await self._stop()
            return None
        return [checked for answer in answers for checked in answer]

    def _start(self) -> None:
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
            return
        self._threads = ThreadPoolExecutor(self.count, thread_name_prefix="papi-check")

    async def _stop(self) -> None:
        workers, self._workers = self._workers, []
        threads, self._threads = self._threads, None
        if workers:
            # Shielded: a second cancellation must not leave the processes running.
            await asyncio.shield(asyncio.to_thread(_stop_all, workers))
        if threads is not None:
            threads.shutdown(wait=False)
