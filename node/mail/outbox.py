"""The outbox of notification mails: the only module of ``node/mail`` that touches the
database (its rows are ``store.outbox``).

Store first: a workflow queues its mail with ``queue_mail(conn, ...)`` in the transaction
of the step that causes it, so that the mail exists exactly when the step does (a step
rolled back leaves no mail). The worker then moves rows along ``states.OUTBOX_MAIL``
through the functions below, each one statement or one short transaction of its own on
the node's database (``db``, passed by the caller).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import utc_now

from ..store import objects
from ..store import outbox as rows
from ..store.outbox import NewMail, QueuedMail
from .states import OUTBOX_MAIL, MailState

if TYPE_CHECKING:
    from ..db import Database

log = logging.getLogger(__name__)

#: Rows kept at most. Past it, queueing drops the oldest sent rows, then the oldest
#: failed ones; when every row is still to send, the new mail is not queued.
MAX_ROWS = 2000
#: Longest error text kept in a row.
ERROR_CHARS = 500


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
    if once_key is not None and await rows.queued_once(conn, once_key=once_key):
        return None
    if not await _make_room(conn):
        log.warning("outbox full of unsent mails (%d): %s mail not queued", MAX_ROWS, kind)
        return None
    mail = NewMail(kind, recipient, subject, body, message_id, once_key)
    return await rows.add(conn, mail=mail, state=OUTBOX_MAIL.initial.value, now=now)


async def _make_room(conn: BaseDBAsyncClient) -> bool:
    excess = await rows.count(conn) - MAX_ROWS + 1
    if excess <= 0:
        return True
    finished = (MailState.sent.value, MailState.failed.value)
    await rows.drop_oldest(conn, states=finished, last_state=MailState.failed.value, rows=excess)
    return await rows.count(conn) < MAX_ROWS


async def place_courriels(conn: BaseDBAsyncClient, origin: str) -> list[str]:
    """The ``courriels`` of the place profile of ``origin`` (ours: where mails go), read on
    ``conn``: the caller's transaction, or the node's connection (one statement)."""
    text = await objects.payload_in(conn, origin=origin, kind="place", oid="place")
    if text is None:
        return []
    try:
        payload = json.loads(text)
    except (TypeError, ValueError):
        return []
    courriels = payload.get("courriels") if isinstance(payload, dict) else None
    if not isinstance(courriels, list):
        return []
    return [address for address in courriels if isinstance(address, str)]


# -- the worker's side ------------------------------------------------------------------


async def reset_interrupted(db: Database) -> int:
    """Rows left ``sending`` by a stop in the middle of an exchange go back to pending
    (the mail may reach its recipient twice, with the same Message-ID)."""
    target = OUTBOX_MAIL.next(MailState.sending, "retry")
    return await rows.move_all(
        db.connection(), from_state=MailState.sending.value, to_state=target.value
    )


async def claim_due(db: Database, now: datetime, limit: int) -> list[QueuedMail]:
    """The oldest due pending rows, moved to ``sending`` (at most ``limit``)."""
    target = OUTBOX_MAIL.next(MailState.pending, "claim")
    async with db.write_transaction() as conn:
        return await rows.claim(
            conn, state=MailState.pending.value, to_state=target.value, due_at=now, limit=limit
        )


async def finish_attempt(
    db: Database,
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
    async with db.write_transaction() as conn:
        state = await rows.state_of(conn, mail_id=mail_id)
        if state is None:  # only finished rows are ever deleted: a bug, said plainly
            raise LookupError(f"outbox mail {mail_id} is gone")
        target = OUTBOX_MAIL.next(OUTBOX_MAIL.parse(state), action)
        await rows.record_attempt(
            conn,
            mail_id=mail_id,
            state=target.value,
            error=error[:ERROR_CHARS] if error else None,
            next_attempt=next_attempt or now,
            sent_at=now if target is MailState.sent else None,
        )
    return target


async def postpone_pending(db: Database, until: datetime) -> None:
    """The server failed as a whole: every pending row due before ``until`` waits until
    then, without an attempt counted (one try per backoff step, not one per mail)."""
    await rows.postpone(db.connection(), state=MailState.pending.value, until=until)


async def purge_finished(db: Database, max_age: timedelta, now: datetime | None = None) -> int:
    """Delete sent and failed rows older than ``max_age``."""
    return await rows.delete_older(
        db.connection(),
        states=(MailState.sent.value, MailState.failed.value),
        before=(now or utc_now()) - max_age,
    )


@dataclass(frozen=True)
class OutboxSummary:
    """What the operator sees: rows per state and the latest error."""

    counts: dict[str, int]
    last_error: str | None


async def summary(db: Database) -> OutboxSummary:
    async with db.transaction() as conn:
        found, last_error = await rows.counts_and_last_error(conn)
    counts = {state.value: 0 for state in MailState}
    counts.update(found)
    return OutboxSummary(counts, last_error)
