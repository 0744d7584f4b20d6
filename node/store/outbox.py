"""The notification mails to send (``outbox_mails``): queued in the transaction of the
step that causes them, moved along their lifecycle by the mail worker. The lifecycle
(``mail.states.OUTBOX_MAIL``) and the bounds are ``mail.outbox``'s; functions here take
the states as values, and the connection (``conn``): the caller's transaction, or the
node's connection for a statement of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import parse_ts


@dataclass(frozen=True)
class QueuedMail:
    """One mail as the worker sends it."""

    id: int
    kind: str
    recipient: str
    subject: str
    body: str
    message_id: str
    created: datetime
    attempts: int


@dataclass(frozen=True)
class NewMail:
    kind: str
    recipient: str
    subject: str
    body: str
    message_id: str
    once_key: str | None


async def queued_once(conn: BaseDBAsyncClient, *, once_key: str) -> bool:
    """Whether a mail with this ``once_key`` was ever queued (and is still kept)."""
    return bool(
        await conn.execute_query_dict("SELECT 1 FROM outbox_mails WHERE once_key = ?", [once_key])
    )


async def add(conn: BaseDBAsyncClient, *, mail: NewMail, state: str, now: datetime) -> int:
    """Queue ``mail``, due now; its row id."""
    return int(
        await conn.execute_insert(
            "INSERT INTO outbox_mails (kind, recipient, subject, body, message_id, once_key,"
            " state, attempts, next_attempt, created) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [
                mail.kind, mail.recipient, mail.subject, mail.body, mail.message_id,
                mail.once_key, state, now, now,
            ],
        )
    )  # fmt: skip


async def count(conn: BaseDBAsyncClient) -> int:
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM outbox_mails")
    return int(rows[0]["n"])


async def drop_oldest(
    conn: BaseDBAsyncClient, *, states: Sequence[str], last_state: str, rows: int
) -> None:
    """Delete at most ``rows`` rows in ``states``, oldest first, ``last_state`` ones last."""
    marks = ", ".join("?" for _ in states)
    await conn.execute_query(
        f"DELETE FROM outbox_mails WHERE id IN (SELECT id FROM outbox_mails"
        f" WHERE state IN ({marks}) ORDER BY state = ?, id LIMIT ?)",
        [*states, last_state, rows],
    )


async def move_all(conn: BaseDBAsyncClient, *, from_state: str, to_state: str) -> int:
    """Every row in ``from_state`` to ``to_state``; how many."""
    changed = await conn.execute_query(
        "UPDATE outbox_mails SET state = ? WHERE state = ?", [to_state, from_state]
    )
    return int(changed[0])


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return parse_ts(str(value).replace(" ", "T", 1))


async def claim(
    conn: BaseDBAsyncClient, *, state: str, to_state: str, due_at: datetime, limit: int
) -> list[QueuedMail]:
    """The oldest rows in ``state`` due at ``due_at``, moved to ``to_state`` (at most
    ``limit``): in the caller's write transaction (it reads first)."""
    rows = await conn.execute_query_dict(
        "SELECT id, kind, recipient, subject, body, message_id, created, attempts"
        " FROM outbox_mails WHERE state = ? AND next_attempt <= ?"
        " ORDER BY next_attempt, id LIMIT ?",
        [state, due_at, limit],
    )
    if rows:
        marks = ", ".join("?" for _ in rows)
        await conn.execute_query(
            f"UPDATE outbox_mails SET state = ? WHERE state = ? AND id IN ({marks})",
            [to_state, state, *(row["id"] for row in rows)],
        )
    return [
        QueuedMail(
            id=row["id"],
            kind=row["kind"],
            recipient=row["recipient"],
            subject=row["subject"],
            body=row["body"],
            message_id=row["message_id"],
            created=_moment(row["created"]),
            attempts=row["attempts"],
        )
        for row in rows
    ]


async def state_of(conn: BaseDBAsyncClient, *, mail_id: int) -> str | None:
    rows = await conn.execute_query_dict("SELECT state FROM outbox_mails WHERE id = ?", [mail_id])
    return str(rows[0]["state"]) if rows else None


async def record_attempt(
    conn: BaseDBAsyncClient,
    *,
    mail_id: int,
    state: str,
    error: str | None,
    next_attempt: datetime,
    sent_at: datetime | None,
) -> None:
    """One more attempt at a row, ending in ``state``."""
    await conn.execute_query(
        "UPDATE outbox_mails SET state = ?, attempts = attempts + 1, last_error = ?,"
        " next_attempt = ?, sent_at = ? WHERE id = ?",
        [state, error, next_attempt, sent_at, mail_id],
    )


async def postpone(conn: BaseDBAsyncClient, *, state: str, until: datetime) -> None:
    """Rows in ``state`` due before ``until`` wait until then."""
    await conn.execute_query(
        "UPDATE outbox_mails SET next_attempt = ? WHERE state = ? AND next_attempt < ?",
        [until, state, until],
    )


async def delete_older(conn: BaseDBAsyncClient, *, states: Sequence[str], before: datetime) -> int:
    """Delete the rows in ``states`` created before ``before``; how many."""
    marks = ", ".join("?" for _ in states)
    deleted = await conn.execute_query(
        f"DELETE FROM outbox_mails WHERE state IN ({marks}) AND created < ?",
        [*states, before],
    )
    return int(deleted[0])


async def counts_and_last_error(conn: BaseDBAsyncClient) -> tuple[dict[str, int], str | None]:
    """Rows per state, and the latest error recorded (in the caller's transaction: one
    state of the outbox)."""
    rows = await conn.execute_query_dict(
        "SELECT state, COUNT(*) AS n FROM outbox_mails GROUP BY state"
    )
    errors = await conn.execute_query_dict(
        "SELECT last_error FROM outbox_mails WHERE last_error IS NOT NULL"
        " ORDER BY next_attempt DESC, id DESC LIMIT 1"
    )
    return {row["state"]: int(row["n"]) for row in rows}, errors[0][
        "last_error"
    ] if errors else None
