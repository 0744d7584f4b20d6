"""The one call a workflow makes: queue a notification to this place, in the workflow's
own transaction (store first). After the commit the worker is woken by itself when the
transaction stored a cooperation entry (``Node.entries_stored``); otherwise the caller
calls ``node.wake_mail()``, and the scheduler wakes the worker every minute anyway."""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import make_msgid
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from ..settings import single_address
from . import outbox
from .compose import Notification, render_body

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)


async def queue_notification(
    conn: BaseDBAsyncClient,
    node: Node,
    notification: Notification,
    *,
    once_key: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Queue ``notification`` to the place's contact address in the transaction ``conn``;
    the outbox row's id, or None when nothing is queued: mail is off (no ``smtp_host``),
    the place has no address (``notify_email``, else its profile's first courriel), a
    mail with ``once_key`` was queued before, or the outbox is full of unsent mails."""
    settings = node.settings
    if not settings.mail_enabled:
        return None
    recipient = settings.notify_email or await place_address(conn, node.origin)
    if recipient is None:
        log.info(
            "%s notification not queued: no address (set notify_email, or a courriel in"
            " the place profile)",
            notification.kind,
        )
        return None
    return await outbox.queue_mail(
        conn,
        kind=notification.kind,
        recipient=recipient,
        subject=notification.subject,
        body=render_body(notification, base_url=settings.url, place=settings.name),
        message_id=new_message_id(settings.smtp_sender),
        once_key=once_key,
        now=now,
    )


async def place_address(conn: BaseDBAsyncClient, origin: str) -> str | None:
    """The first valid address of the place profile's ``courriels`` (``conn``: the
    caller's transaction, or the node's connection)."""
    for courriel in await outbox.place_courriels(conn, origin):
        if single_address(courriel) is not None:
            return courriel
    return None


def new_message_id(sender: str) -> str:
    """A Message-ID in the sender's domain (set when queued: a retry keeps it)."""
    address = single_address(sender) or "papi-node@localhost"
    return make_msgid(domain=address.rpartition("@")[2])
