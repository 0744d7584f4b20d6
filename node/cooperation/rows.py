"""The tables of cooperation: ``coop_tasks`` (what this node has to process) and
``loan_rules`` (how it lends its items). The only module of ``node/cooperation`` that
writes rows other than entries; reads of entries and objects are in ``reads.py``.

Functions that take ``conn`` run in the caller's transaction; the others open their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.timeutil import parse_ts, utc_now

from ..db import lock_for_write
from .states import COOP_TASK, TaskState

#: Longest error text kept in a row.
ERROR_CHARS = 500


@dataclass(frozen=True)
class Task:
    """One ``coop_tasks`` row: the entry ``(origin, seq)`` of object ``kind/oid``."""

    id: int
    origin: str
    seq: int
    kind: str
    oid: str
    state: TaskState
    attempts: int
    next_attempt: datetime
    last_error: str | None
    created: datetime


_TASK_COLUMNS = "id, origin, seq, kind, oid, state, attempts, next_attempt, last_error, created"


def _task(row: dict[str, object]) -> Task:
    return Task(
        id=int(str(row["id"])),
        origin=str(row["origin"]),
        seq=int(str(row["seq"])),
        kind=str(row["kind"]),
        oid=str(row["oid"]),
        state=COOP_TASK.parse(str(row["state"])),
        attempts=int(str(row["attempts"])),
        next_attempt=moment(row["next_attempt"]),
        last_error=None if row["last_error"] is None else str(row["last_error"]),
        created=moment(row["created"]),
    )


async def insert_tasks(
    conn: BaseDBAsyncClient, entries: Sequence[tuple[str, int, str, str]], now: datetime
) -> None:
    """One pending task per ``(origin, seq, kind, oid)``, in the caller's transaction; an
    entry that has one already (a repaired payload) keeps it."""
    if not entries:
        return
    state = COOP_TASK.initial.value
    await conn.execute_many(
        "INSERT INTO coop_tasks (origin, seq, kind, oid, state, attempts, next_attempt,"
        " created) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (origin, seq) DO NOTHING",
        [[origin, seq, kind, oid, state, now, now] for origin, seq, kind, oid in entries],
    )


async def next_due_task(kinds: Iterable[str], now: datetime) -> Task | None:
    """The first pending task (insertion order) of one of ``kinds`` that is due."""
    wanted = sorted(set(kinds))
    if not wanted:
        return None
    marks = ", ".join("?" for _ in wanted)
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            f"SELECT {_TASK_COLUMNS} FROM coop_tasks WHERE state = ? AND next_attempt <= ?"
            f" AND kind IN ({marks}) ORDER BY id LIMIT 1",
            [TaskState.pending.value, now, *wanted],
        )
    return _task(rows[0]) if rows else None


async def task_in(conn: BaseDBAsyncClient, task_id: int) -> Task | None:
    rows = await conn.execute_query_dict(
        f"SELECT {_TASK_COLUMNS} FROM coop_tasks WHERE id = ?", [task_id]
    )
    return _task(rows[0]) if rows else None


async def finish_task(conn: BaseDBAsyncClient, task: Task, now: datetime) -> None:
    """The task is processed: ``done``, in the transaction of what it did."""
    target = COOP_TASK.next(task.state, "done")
    await conn.execute_query(
        "UPDATE coop_tasks SET state = ?, attempts = attempts + 1, last_error = NULL,"
        " finished = ? WHERE id = ?",
        [target.value, now, task.id],
    )


async def record_failure(
    task_id: int, error: str, *, now: datetime, next_attempt: datetime | None
) -> TaskState | None:
    """One failed attempt: due again at ``next_attempt``, or given up (``failed``) when
    it is None. The new state; None if the row is gone or no longer pending."""
    async with in_transaction() as conn:
        await lock_for_write(conn)
        task = await task_in(conn, task_id)
        if task is None or task.state is not TaskState.pending:
            return None
        target = COOP_TASK.next(task.state, "retry" if next_attempt else "give_up")
        await conn.execute_query(
            "UPDATE coop_tasks SET state = ?, attempts = attempts + 1, last_error = ?,"
            " next_attempt = ?, finished = ? WHERE id = ?",
            [
                target.value,
                error[:ERROR_CHARS],
                next_attempt or now,
                None if next_attempt else now,
                task_id,
            ],
        )
    return target


async def requeue_task(task_id: int, now: datetime | None = None) -> bool:
    """A task given up is tried again (the operator's button); False if it was not failed."""
    async with in_transaction() as conn:
        await lock_for_write(conn)
        task = await task_in(conn, task_id)
        if task is None or not COOP_TASK.allows(task.state, "requeue"):
            return False
        target = COOP_TASK.next(task.state, "requeue")
        await conn.execute_query(
            "UPDATE coop_tasks SET state = ?, attempts = 0, next_attempt = ?, finished = NULL"
            " WHERE id = ?",
            [target.value, now or utc_now(), task_id],
        )
    return True


async def tasks_to_watch(limit: int = 50) -> list[Task]:
    """Tasks that failed at least once and are not done (given up first), for the operator."""
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            f"SELECT {_TASK_COLUMNS} FROM coop_tasks WHERE state != ? AND last_error IS NOT NULL"
            " ORDER BY state = ? DESC, id LIMIT ?",
            [TaskState.done.value, TaskState.failed.value, limit],
        )
    return [_task(row) for row in rows]


async def task_counts() -> dict[str, int]:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT state, COUNT(*) AS n FROM coop_tasks GROUP BY state"
        )
    counts = {state.value: 0 for state in TaskState}
    counts.update({str(row["state"]): int(row["n"]) for row in rows})
    return counts


async def purge_done(before: datetime) -> int:
    """Delete done tasks finished before ``before`` (their entries stay)."""
    async with in_transaction() as conn:
        count = await conn.execute_query(
            "DELETE FROM coop_tasks WHERE state = ? AND finished < ?",
            [TaskState.done.value, before],
        )
    return int(count[0])


# -- loan rules -------------------------------------------------------------------------


async def auto_approves(conn: BaseDBAsyncClient, oid: str) -> bool:
    """Whether this node approves requests for its item ``oid`` on its own."""
    rows = await conn.execute_query_dict("SELECT auto_approve FROM loan_rules WHERE oid = ?", [oid])
    return bool(rows and rows[0]["auto_approve"])


async def set_auto_approve(conn: BaseDBAsyncClient, oid: str, value: bool, now: datetime) -> None:
    await conn.execute_query(
        "INSERT INTO loan_rules (oid, auto_approve, updated) VALUES (?, ?, ?)"
        " ON CONFLICT (oid) DO UPDATE SET auto_approve = excluded.auto_approve,"
        " updated = excluded.updated",
        [oid, value, now],
    )


def moment(value: object) -> datetime:
    """A datetime column as read back (a datetime, or its text)."""
    if isinstance(value, datetime):
        return value
    return parse_ts(str(value).replace(" ", "T", 1))
