"""The rows of cooperation: the steps this node has to process (``coop_tasks``), how it
lends its items (``loan_rules``), and the reads of the objects and entries a
conversation is made of. The lifecycle of a task (``cooperation.states.COOP_TASK``) is
``cooperation.rows``'; functions here take the states as values. Every function takes
the connection (``conn``): the node's, or the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import parse_ts

from ..cooperation.states import COOP_TASK, TaskState
from .objects import ObjectText

# -- tasks ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class TaskEntry:
    """The entry a new task is for."""

    origin: str
    seq: int
    kind: str
    oid: str


_TASK_COLUMNS = "id, origin, seq, kind, oid, state, attempts, next_attempt, last_error, created"


def moment(value: object) -> datetime:
    """A datetime column as read back (a datetime, or its text)."""
    if isinstance(value, datetime):
        return value
    return parse_ts(str(value).replace(" ", "T", 1))


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


async def add_tasks(
    conn: BaseDBAsyncClient, *, entries: Sequence[TaskEntry], state: str, now: datetime
) -> None:
    """One task in ``state`` per entry, due now; an entry that has one keeps it."""
    await conn.execute_many(
        "INSERT INTO coop_tasks (origin, seq, kind, oid, state, attempts, next_attempt,"
        " created) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (origin, seq) DO NOTHING",
        [[e.origin, e.seq, e.kind, e.oid, state, now, now] for e in entries],
    )


async def first_due(
    conn: BaseDBAsyncClient, *, state: str, kinds: Sequence[str], now: datetime
) -> Task | None:
    """The first task (insertion order) in ``state`` of one of ``kinds`` due at ``now``."""
    marks = ", ".join("?" for _ in kinds)
    rows = await conn.execute_query_dict(
        f"SELECT {_TASK_COLUMNS} FROM coop_tasks WHERE state = ? AND next_attempt <= ?"
        f" AND kind IN ({marks}) ORDER BY id LIMIT 1",
        [state, now, *kinds],
    )
    return _task(rows[0]) if rows else None


async def task(conn: BaseDBAsyncClient, *, task_id: int) -> Task | None:
    rows = await conn.execute_query_dict(
        f"SELECT {_TASK_COLUMNS} FROM coop_tasks WHERE id = ?", [task_id]
    )
    return _task(rows[0]) if rows else None


async def record_attempt(
    conn: BaseDBAsyncClient,
    *,
    task_id: int,
    state: str,
    error: str | None,
    next_attempt: datetime | None,
    finished: datetime | None,
) -> None:
    """One more attempt at a task, ending in ``state`` (``next_attempt`` None: unchanged)."""
    if next_attempt is None:
        await conn.execute_query(
            "UPDATE coop_tasks SET state = ?, attempts = attempts + 1, last_error = ?,"
            " finished = ? WHERE id = ?",
            [state, error, finished, task_id],
        )
    else:
        await conn.execute_query(
            "UPDATE coop_tasks SET state = ?, attempts = attempts + 1, last_error = ?,"
            " next_attempt = ?, finished = ? WHERE id = ?",
            [state, error, next_attempt, finished, task_id],
        )


async def restart(conn: BaseDBAsyncClient, *, task_id: int, state: str, now: datetime) -> None:
    """A task starts again from no attempt, due now, in ``state``."""
    await conn.execute_query(
        "UPDATE coop_tasks SET state = ?, attempts = 0, next_attempt = ?, finished = NULL"
        " WHERE id = ?",
        [state, now, task_id],
    )


async def failing(conn: BaseDBAsyncClient, *, done: str, failed: str, limit: int) -> list[Task]:
    """Tasks not ``done`` with an error, the ``failed`` ones first."""
    rows = await conn.execute_query_dict(
        f"SELECT {_TASK_COLUMNS} FROM coop_tasks WHERE state != ? AND last_error IS NOT NULL"
        " ORDER BY state = ? DESC, id LIMIT ?",
        [done, failed, limit],
    )
    return [_task(row) for row in rows]


async def counts(conn: BaseDBAsyncClient) -> dict[str, int]:
    """Tasks per state."""
    rows = await conn.execute_query_dict(
        "SELECT state, COUNT(*) AS n FROM coop_tasks GROUP BY state"
    )
    return {str(row["state"]): int(row["n"]) for row in rows}


async def delete_finished(conn: BaseDBAsyncClient, *, state: str, before: datetime) -> int:
    """Delete the tasks in ``state`` finished before ``before``; how many."""
    deleted = await conn.execute_query(
        "DELETE FROM coop_tasks WHERE state = ? AND finished < ?", [state, before]
    )
    return int(deleted[0])


# -- loan rules -------------------------------------------------------------------------


async def auto_approves(conn: BaseDBAsyncClient, *, oid: str) -> bool:
    rows = await conn.execute_query_dict("SELECT auto_approve FROM loan_rules WHERE oid = ?", [oid])
    return bool(rows and rows[0]["auto_approve"])


async def set_auto_approve(
    conn: BaseDBAsyncClient, *, oid: str, value: bool, now: datetime
) -> None:
    await conn.execute_query(
        "INSERT INTO loan_rules (oid, auto_approve, updated) VALUES (?, ?, ?)"
        " ON CONFLICT (oid) DO UPDATE SET auto_approve = excluded.auto_approve,"
        " updated = excluded.updated",
        [oid, value, now],
    )


# -- the objects and entries of conversations ---------------------------------------------


_OBJECT_COLUMNS = "origin, kind, oid, seq, updated, payload"


def _object(row: dict[str, Any]) -> ObjectText:
    return ObjectText(
        str(row["origin"]), str(row["kind"]), str(row["oid"]), int(row["seq"]),
        str(row["updated"]), row["payload"],
    )  # fmt: skip


async def current(
    conn: BaseDBAsyncClient, *, origin: str, kind: str, oid: str
) -> ObjectText | None:
    rows = await conn.execute_query_dict(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE origin = ? AND kind = ? AND oid = ?",
        [origin, kind, oid],
    )
    return _object(rows[0]) if rows else None


async def objects_of(
    conn: BaseDBAsyncClient,
    *,
    kind: str,
    origin: str | None,
    ref_prefix: tuple[str, str] | None,
    equal: tuple[str, str] | None,
    limit: int,
    offset: int,
) -> list[ObjectText]:
    """Current objects of ``kind``, most recently changed first: of ``origin``; whose
    payload member ``ref_prefix[0]`` starts with the text ``ref_prefix[1]``; whose
    member ``equal[0]`` is the text ``equal[1]``."""
    where: list[str] = ["kind = ?"]
    values: list[Any] = [kind]
    if origin is not None:
        where.append("origin = ?")
        values.append(origin)
    if ref_prefix is not None:
        name, prefix = ref_prefix
        # A prefix compared as text (LIKE would take the '_' of origin ids as wildcards).
        where.append("substr(json_extract(payload, ?), 1, ?) = ?")
        values += [f"$.{name}", len(prefix), prefix]
    if equal is not None:
        where.append("json_extract(payload, ?) = ?")
        values += [f"$.{equal[0]}", equal[1]]
    rows = await conn.execute_query_dict(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE {' AND '.join(where)}"
        " ORDER BY updated DESC, id DESC LIMIT ? OFFSET ?",
        [*values, limit, offset],
    )
    return [_object(row) for row in rows]


async def place_names(conn: BaseDBAsyncClient, *, origins: Iterable[str]) -> dict[str, str]:
    """The place name of each origin we know one for."""
    wanted = sorted(set(origins))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" for _ in part)
        rows = await conn.execute_query_dict(
            f"SELECT id, name FROM origins WHERE id IN ({marks})", part
        )
        names.update({str(row["id"]): str(row["name"]) for row in rows if row["name"]})
    return names


#: The two kinds of a registration's conversation, as the partial index of ``node/db.py``
#: names them (a query uses the index only with this very list).
_REGISTRATION_KINDS = "kind IN ('registration', 'registration_decision')"


class DictReads(Protocol):
    """What the reads of seats left need of a connection: Tortoise's clients have it, and
    so has a search's own read-only connection (``store.search.SnapshotReads``), which
    reads them in the search's snapshot without a hop to Tortoise's thread."""

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[str, Any]]: ...


async def event_registrations(conn: DictReads, *, events: Iterable[str]) -> list[ObjectText]:
    """The current ``registration`` and ``registration_decision`` objects whose ``event``
    is one of the refs ``events``, in the order of their origin and seq."""
    wanted = sorted(set(events))
    found: list[ObjectText] = []
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" for _ in part)
        rows = await conn.execute_query_dict(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE {_REGISTRATION_KINDS}"
            f" AND json_extract(payload, '$.event') IN ({marks}) ORDER BY origin, seq",
            part,
        )
        found += [_object(row) for row in rows]
    return found


async def is_live_place(conn: BaseDBAsyncClient, *, origin: str) -> bool:
    """Whether ``origin`` has a place profile this node holds and is not frozen."""
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM objects o JOIN origins g ON g.id = o.origin"
        " WHERE o.origin = ? AND o.kind = 'place' AND o.oid = 'place' AND NOT g.frozen",
        [origin],
    )
    return bool(rows)


async def frozen_origins(conn: BaseDBAsyncClient) -> frozenset[str]:
    rows = await conn.execute_query_dict("SELECT id FROM origins WHERE frozen")
    return frozenset(str(row["id"]) for row in rows)
