"""The tables of cooperation: ``coop_tasks`` (what this node has to process) and
``loan_rules`` (how it lends its items), moved along ``states.COOP_TASK``; their rows
are ``store.cooperation``. The only module of ``node/cooperation`` that writes rows
other than entries; reads of entries and objects are in ``reads.py``.

Functions that take ``conn`` run in the caller's transaction; the others open their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import utc_now

from ..db import Database
from ..store import cooperation as store
from ..store.cooperation import Task, TaskEntry
from .states import COOP_TASK, TaskState

#: Longest error text kept in a row.
ERROR_CHARS = 500


async def insert_tasks(
    conn: BaseDBAsyncClient, entries: Sequence[tuple[str, int, str, str]], now: datetime
) -> None:
    """One pending task per ``(origin, seq, kind, oid)``, in the caller's transaction; an
    entry that has one already (a repaired payload) keeps it."""
    if not entries:
        return
    await store.add_tasks(
        conn,
        entries=[TaskEntry(*entry) for entry in entries],
        state=COOP_TASK.initial.value,
        now=now,
    )


async def next_due_task(
    conn: BaseDBAsyncClient, kinds: Iterable[str], now: datetime
) -> Task | None:
    """The first pending task (insertion order) of one of ``kinds`` that is due."""
    wanted = sorted(set(kinds))
    if not wanted:
        return None
    return await store.first_due(conn, state=TaskState.pending.value, kinds=wanted, now=now)


async def task_in(conn: BaseDBAsyncClient, task_id: int) -> Task | None:
    return await store.task(conn, task_id=task_id)


async def finish_task(conn: BaseDBAsyncClient, task: Task, now: datetime) -> None:
    """The task is processed: ``done``, in the transaction of what it did."""
    target = COOP_TASK.next(task.state, "done")
    await store.record_attempt(
        conn, task_id=task.id, state=target.value, error=None, next_attempt=None, finished=now
    )


async def record_failure(
    db: Database, task_id: int, error: str, *, now: datetime, next_attempt: datetime | None
) -> TaskState | None:
    """One failed attempt: due again at ``next_attempt``, or given up (``failed``) when
    it is None. The new state; None if the row is gone or no longer pending."""
    async with db.write_transaction() as conn:
        task = await task_in(conn, task_id)
        if task is None or task.state is not TaskState.pending:
            return None
        target = COOP_TASK.next(task.state, "retry" if next_attempt else "give_up")
        await store.record_attempt(
            conn,
            task_id=task_id,
            state=target.value,
            error=error[:ERROR_CHARS],
            next_attempt=next_attempt or now,
            finished=None if next_attempt else now,
        )
    return target


async def requeue_task(db: Database, task_id: int, now: datetime | None = None) -> bool:
    """A task given up is tried again (the operator's button); False if it was not failed."""
    async with db.write_transaction() as conn:
        task = await task_in(conn, task_id)
        if task is None or not COOP_TASK.allows(task.state, "requeue"):
            return False
        target = COOP_TASK.next(task.state, "requeue")
        await store.restart(conn, task_id=task_id, state=target.value, now=now or utc_now())
    return True


async def tasks_to_watch(conn: BaseDBAsyncClient, limit: int = 50) -> list[Task]:
    """Tasks that failed at least once and are not done (given up first), for the operator."""
    return await store.failing(
        conn, done=TaskState.done.value, failed=TaskState.failed.value, limit=limit
    )


async def task_counts(conn: BaseDBAsyncClient) -> dict[str, int]:
    counts = {state.value: 0 for state in TaskState}
    counts.update(await store.counts(conn))
    return counts


async def purge_done(conn: BaseDBAsyncClient, before: datetime) -> int:
    """Delete done tasks finished before ``before`` (their entries stay)."""
    return await store.delete_finished(conn, state=TaskState.done.value, before=before)


# -- loan rules -------------------------------------------------------------------------


async def auto_approves(conn: BaseDBAsyncClient, oid: str) -> bool:
    """Whether this node approves requests for its item ``oid`` on its own."""
    return await store.auto_approves(conn, oid=oid)


async def set_auto_approve(conn: BaseDBAsyncClient, oid: str, value: bool, now: datetime) -> None:
    await store.set_auto_approve(conn, oid=oid, value=value, now=now)
