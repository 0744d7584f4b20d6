"""Sending the due mails of the outbox, one at a time, each exchange in a thread.

A mail the server refuses for good (a 5xx answer to its recipient or its data) is given
up at once; any other failure is retried with the one backoff policy
(federation/backoff.py) and given up after ``MAX_ATTEMPTS``. When the server fails as a
whole (down, wrong password, TLS), the other pending mails wait for the same next
attempt instead of each trying (and failing) in turn.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from federation.backoff import backoff_seconds
from federation.timeutil import utc_now

from . import outbox
from .smtp import SmtpConfig, SmtpFailure, build_message, classify, send

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Attempts before a mail is given up: with the backoff below, about a day of trying.
MAX_ATTEMPTS = 12
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 4 * 3600.0
#: Sent and failed rows are kept this long (the operator sees them), then deleted.
KEEP_FINISHED = timedelta(days=30)


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    return backoff_seconds(attempts, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)


async def send_due_mails(node: Node, *, now: datetime | None = None) -> int:
    """Send every due mail of the outbox; how many were sent. Nothing when mail is off.
    Stops at the first failure of the server as a whole."""
    config = SmtpConfig.from_settings(node.settings)
    if config is None:
        return 0
    sent = 0
    while True:
        moment = now or utc_now()
        claimed = await outbox.claim_due(node.db, moment, 1)
        if not claimed:
            return sent
        mail = claimed[0]
        try:
            message = build_message(
                sender=config.sender,
                recipient=mail.recipient,
                subject=mail.subject,
                body=mail.body,
                message_id=mail.message_id,
                date=mail.created,
            )
            await asyncio.to_thread(send, config, message, tls=node.mail_tls_context)
        except asyncio.CancelledError:
            raise  # left 'sending': outbox.reset_interrupted makes it due again
        except Exception as exc:
            failure = classify(exc)
            await _record_failure(node, mail.id, mail.attempts + 1, mail.kind, failure, moment)
            if failure.whole_server:
                return sent
            continue
        await outbox.finish_attempt(node.db, mail.id, "sent", now=moment)
        log.info("%s mail %d sent", mail.kind, mail.id)
        sent += 1


async def _record_failure(
    node: Node, mail_id: int, attempts: int, kind: str, failure: SmtpFailure, now: datetime
) -> None:
    if failure.permanent or attempts >= MAX_ATTEMPTS:
        await outbox.finish_attempt(node.db, mail_id, "give_up", now=now, error=str(failure))
        log.warning("%s mail %d given up after %d attempts: %s", kind, mail_id, attempts, failure)
        return
    due = now + timedelta(seconds=retry_delay(attempts))
    await outbox.finish_attempt(
        node.db, mail_id, "retry", now=now, error=str(failure), next_attempt=due
    )
    if failure.whole_server:
        await outbox.postpone_pending(node.db, due)
    log.warning(
        "%s mail %d not sent (attempt %d, next at %s): %s",
        kind,
        mail_id,
        attempts,
        due.isoformat(timespec="seconds"),
        failure,
    )
