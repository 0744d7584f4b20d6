"""The ``outbox_mails`` rows: the only module of ``node/mail`` that touches the database.

Store first: a workflow queues its mail with ``queue_mail(conn, ...)`` in the transaction
of the step that causes it, so that the mail exists exactly when the step does (a step
rolled back leaves no mail). The worker then moves rows along ``states.OUTBOX_MAIL``
through the functions below, each one short transaction of its own.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.timeutil import parse_ts, utc_now

from ..db import write_transaction
from .states import OUTBOX_MAIL, MailState

log = logging.getLogger(__name__)

#: Rows kept at most. Past it, queueing drops the oldest sent rows, then the oldest
#: failed ones; when every row is still to send, the new mail is not queued.
MAX_ROWS = 2000
#: Longest error text kept in a row.
ERROR_CHARS = 500


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


async def queue_mail(
    conn: BaseDBAsyncClient,
    *,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    message_id: str,
    once_key: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Queue one mail in the caller's transaction; its row id, or None when a mail with
    ``once_key`` was already queued or the outbox is full of unsent mails."""
    now = now or utc_now()
    if once_key is not None:
        seen = await conn.execute_query_dict(
            "SELECT 1 FROM outbox_mails WHERE once_key = ?", [once_key]
        )
        if seen:
            return None
    if not await _make_room(conn):
        log.warning("outbox full of unsent mails (%d): %s mail not queued", MAX_ROWS, kind)
        return None
    state = OUTBOX_MAIL.initial
    return int(
        await conn.execute_insert(
            "INSERT INTO outbox_mails (kind, recipient, subject, body, message_id, once_key,"
            " state, attempts, next_attempt, created) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [kind, recipient, subject, body, message_id, once_key, state.value, now, now],
        )
    )


async def _make_room(conn: BaseDBAsyncClient) -> bool:
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM outbox_mails")
    excess = int(rows[0]["n"]) - MAX_ROWS + 1
    if excess <= 0:
        return True
    await conn.execute_query(
        "DELETE FROM outbox_mails WHERE id IN (SELECT id FROM outbox_mails"
        " WHERE state IN (?, ?) ORDER BY state = ?, id LIMIT ?)",
        [MailState.sent.value, MailState.failed.value, MailState.failed.value, excess],
    )
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM outbox_mails")
    return int(rows[0]["n"]) < MAX_ROWS


async def place_courriels(conn: BaseDBAsyncClient | None, origin: str) -> list[str]:
    """The ``courriels`` of the place profile of ``origin`` (ours: where mails go), read in
    the caller's transaction ``conn``, or in one of its own when ``conn`` is None."""
    query = "SELECT payload FROM objects WHERE origin = ? AND kind = 'place' AND oid = 'place'"
    if conn is None:
        async with in_transaction() as own:
            rows = await own.execute_query_dict(query, [origin])
    else:
        rows = await conn.execute_query_dict(query, [origin])
    if not rows:
        return []
    try:
        payload = json.loads(rows[0]["payload"])
    except (TypeError, ValueError):
        return []
    courriels = payload.get("courriels") if isinstance(payload, dict) else None
    if not isinstance(courriels, list):
        return []
    return [address for address in courriels if isinstance(address, str)]


# -- the worker's side ------------------------------------------------------------------


async def reset_interrupted() -> int:
    """Rows left ``sending`` by a stop in the middle of an exchange go back to pending
    (the mail may reach its recipient twice, with the same Message-ID)."""
    target = OUTBOX_MAIL.next(MailState.sending, "retry")
    async with in_transaction() as conn:
        count = await conn.execute_query(
            "UPDATE outbox_mails SET state = ? WHERE state = ?",
            [target.value, MailState.sending.value],
        )
    return int(count[0])


async def claim_due(now: datetime, limit: int) -> list[QueuedMail]:
    """The oldest due pending rows, moved to ``sending`` (at most ``limit``)."""
    target = OUTBOX_MAIL.next(MailState.pending, "claim")
    async with write_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT id, kind, recipient, subject, body, message_id, created, attempts"
            " FROM outbox_mails WHERE state = ? AND next_attempt <= ?"
            " ORDER BY next_attempt, id LIMIT ?",
            [MailState.pending.value, now, limit],
        )
        if rows:
            marks = ", ".join("?" for _ in rows)
            await conn.execute_query(
                f"UPDATE outbox_mails SET state = ? WHERE state = ? AND id IN ({marks})",
                [target.value, MailState.pending.value, *(row["id"] for row in rows)],
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


async def finish_attempt(
    mail_id: int,
    action: str,
    *,
    now: datetime,
    error: str | None = None,
    next_attempt: datetime | None = None,
) -> MailState:
    """Record the end of one attempt at a ``sending`` row: ``sent``, ``retry`` (due again
    at ``next_attempt``) or ``give_up``; the new state. ``TransitionRefused`` if the row
    is not ``sending``."""
    async with write_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT state FROM outbox_mails WHERE id = ?", [mail_id]
        )
        if not rows:  # only finished rows are ever deleted: a bug, said plainly
            raise LookupError(f"outbox mail {mail_id} is gone")
        target = OUTBOX_MAIL.next(OUTBOX_MAIL.parse(rows[0]["state"]), action)
        await conn.execute_query(
            "UPDATE outbox_mails SET state = ?, attempts = attempts + 1, last_error = ?,"
            " next_attempt = ?, sent_at = ? WHERE id = ?",
            [
                target.value,
                error[:ERROR_CHARS] if error else None,
                next_attempt or now,
                now if target is MailState.sent else None,
                mail_id,
            ],
        )
    return target


async def postpone_pending(until: datetime) -> None:
    """The server failed as a whole: every pending row due before ``until`` waits until
    then, without an attempt counted (one try per backoff step, not one per mail)."""
    async with in_transaction() as conn:
        await conn.execute_query(
            "UPDATE outbox_mails SET next_attempt = ? WHERE state = ? AND next_attempt < ?",
            [until, MailState.pending.value, until],
        )


async def purge_finished(max_age: timedelta, now: datetime | None = None) -> int:
    """Delete sent and failed rows older than ``max_age``."""
    limit = (now or utc_now()) - max_age
    async with in_transaction() as conn:
        count = await conn.execute_query(
            "DELETE FROM outbox_mails WHERE state IN (?, ?) AND created < ?",
            [MailState.sent.value, MailState.failed.value, limit],
        )
    return int(count[0])


@dataclass(frozen=True)
class OutboxSummary:
    """What the operator sees: rows per state and the latest error."""

    counts: dict[str, int]
    last_error: str | None


async def summary() -> OutboxSummary:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT state, COUNT(*) AS n FROM outbox_mails GROUP BY state"
        )
        errors = await conn.execute_query_dict(
            "SELECT last_error FROM outbox_mails WHERE last_error IS NOT NULL"
            " ORDER BY next_attempt DESC, id DESC LIMIT 1"
        )
    counts = {state.value: 0 for state in MailState}
    counts.update({row["state"]: int(row["n"]) for row in rows})
    return OutboxSummary(counts, errors[0]["last_error"] if errors else None)


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return parse_ts(str(value).replace(" ", "T", 1))
