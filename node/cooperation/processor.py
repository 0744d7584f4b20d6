"""The cooperation worker: processes the ``coop_tasks`` rows, one at a time, in the order
they were inserted (the order in which this node stored the steps addressed to it).

Each task runs its kind's handler (``workflows.HANDLERS``) inside one ``session.step``:
the handler reads the current state and signs what follows from it (a decision, a
booking), and the task is marked done in that same transaction. A crash in the middle
leaves the task pending and nothing signed; handlers are idempotent (a task whose answer
already reflects the request's latest version changes nothing), so running one twice is
harmless. Any exception is a failed attempt, retried with the one backoff policy
(``federation/backoff.py``) and given up after ``MAX_ATTEMPTS`` (visible in /admin,
where the operator may try it again): never lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from federation.backoff import backoff_seconds
from federation.timeutil import utc_now

from . import rows
from .session import step
from .workflows import HANDLERS

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Attempts before a task is given up: with the backoff below, about a day of trying.
MAX_ATTEMPTS = 30
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
#: Done tasks are kept this long (the operator may look at them), then deleted.
KEEP_DONE = timedelta(days=30)


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    return backoff_seconds(attempts, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)


async def process_due(node: Node, *, now: datetime | None = None, limit: int = 10_000) -> int:
    """Process the due pending tasks, oldest first; how many were processed (done or
    failed an attempt). At most ``limit`` (the next run takes the rest)."""
    processed = 0
    while processed < limit:
        moment = now or utc_now()
        task = await rows.next_due_task(node.db.connection(), HANDLERS, moment)
        if task is None:
            break
        processed += 1
        try:
            async with step(node, moment) as current:
                fresh = await rows.task_in(current.conn, task.id)
                if fresh is None or fresh.state != task.state:
                    continue  # processed meanwhile (another run, the operator)
                await HANDLERS[task.kind](current, fresh)
                await rows.finish_task(current.conn, fresh, current.now)
        except Exception as exc:
            attempts = task.attempts + 1
            again = (
                moment + timedelta(seconds=retry_delay(attempts))
                if attempts < MAX_ATTEMPTS
                else None
            )
            log.warning(
                "cooperation task %d (%s %s seq %d) failed (attempt %d): %r",
                task.id, task.kind, task.origin, task.seq, attempts, exc,
            )  # fmt: skip
            await rows.record_failure(node.db, task.id, repr(exc), now=moment, next_attempt=again)
    return processed
