"""One step of cooperation taken by this node: a transaction under the node's write lock
in which it reads the current state, signs its entries (a decision, a booking, a
cancellation) and queues its notification mails, all or nothing.

Every step goes through ``step(node)``: the API's actions, the /admin buttons and the
cooperation worker alike, so that the owner decides one request at a time, in the
order its write lock is taken, and never on a state another step is changing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.timeutil import utc_now

from ..mail.compose import Notification
from ..mail.notify import queue_notification
from ..services.log import after_publish, check_can_write, publish_in

if TYPE_CHECKING:
    from ..runtime import Node

#: Days of a conversation (a loan's first and last day, an overdue check) are the place's.
PLACE_TZ = ZoneInfo("Europe/Paris")


def place_today(now: datetime | None = None) -> date:
    """Today in the place's time zone."""
    return (now or utc_now()).astimezone(PLACE_TZ).date()


class Step:
    """The transaction of one step: ``conn`` to read, ``publish`` to sign, ``notify`` to
    queue a mail."""

    def __init__(self, conn: BaseDBAsyncClient, node: Node, now: datetime) -> None:
        self.conn = conn
        self.node = node
        self.now = now
        self.published: list[Entry] = []
        self.mailed = False

    @property
    def today(self) -> date:
        return place_today(self.now)

    async def publish(self, kind: str, oid: str, op: str, payload: dict[str, Any] | None) -> Entry:
        entry = await publish_in(self.conn, self.node, kind, oid, op, payload)
        self.published.append(entry)
        return entry

    async def notify(self, notification: Notification, *, once_key: str | None = None) -> None:
        # Queued at the real time (``now`` may be a test's moment): due for the worker.
        queued = await queue_notification(self.conn, self.node, notification, once_key=once_key)
        self.mailed = self.mailed or queued is not None


@asynccontextmanager
async def step(node: Node, now: datetime | None = None) -> AsyncIterator[Step]:
    """Run a step: committed when the block ends, rolled back (nothing signed, nothing
    queued) when it raises. Refused at once (``ClockSkew``, ``LogRecovering``) when this
    node must not sign entries now."""
    check_can_write(node)
    async with node.write_lock:
        async with node.db.write_transaction() as conn:
            current = Step(conn, node, now or utc_now())
            yield current
        await after_publish(node, current.published)
    if current.mailed:
        node.wake_mail()
