"""The lifecycle of a queued notification mail (one ``outbox_mails`` row)."""

from __future__ import annotations

from enum import StrEnum

from federation.statemachine import Lifecycle


class MailState(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # given up: too many attempts, or refused for good by the server


OUTBOX_MAIL = Lifecycle(
    "outbox mail",
    MailState,
    {
        MailState.pending: {"claim": MailState.sending},
        MailState.sending: {
            "sent": MailState.sent,
            # A failure worth another try, or a worker stopped in the middle.
            "retry": MailState.pending,
            "give_up": MailState.failed,
        },
    },
    initial=MailState.pending,
)
