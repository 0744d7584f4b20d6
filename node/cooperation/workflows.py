"""The registries each workflow fills: one place to read what the cooperation worker,
the purge and the /admin inbox do for every kind of conversation.

A new workflow (registrations, help requests) adds:
- its kinds to ``inbox.ADDRESSEES`` (who an entry is addressed to);
- a handler per kind to ``HANDLERS``: ``async def handler(step, task)``, run by the
  worker in one transaction (``session.Step``) with the task marked done in it;
  idempotent: it reads the current state and does nothing when its answer is already
  written;
- a ``Retention`` to ``RETENTIONS``: which of this node's objects carry personal data
  and from which day their retention counts;
- periodic checks (reminders) to ``PERIODIC``, run hourly;
- a ``Listing`` to ``LISTINGS``: its rows in the /admin inbox and outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from ..store.cooperation import Task
from . import help_requests, loans, registrations
from .reads import Stored
from .session import Step
from .views import Row

if TYPE_CHECKING:
    from ..runtime import Node

Handler = Callable[[Step, Task], Awaitable[None]]

#: Kind of the stored entry -> what this node does about it.
HANDLERS: Mapping[str, Handler] = {
    "loan": loans.on_request,
    "loan_decision": loans.on_decision,
    "equipment": loans.on_item_deleted,
    "registration": registrations.on_request,
    "registration_decision": registrations.on_decision,
    "event": registrations.on_event,
    "help_offer": help_requests.on_offer,
    "help_request": help_requests.on_closed,
}


@dataclass(frozen=True)
class Retention:
    """This node's ``kind`` objects hold personal data (sealed) and are deleted
    ``coop_retention_days`` after the day ``ends`` returns (None: not over yet)."""

    kind: str
    ends: Callable[[BaseDBAsyncClient, Stored], Awaitable[date | None]]


RETENTIONS: tuple[Retention, ...] = (
    Retention("loan", loans.retention_day),
    Retention("registration", registrations.retention_day),
    Retention("help_offer", help_requests.offer_retention_day),
)

#: Hourly checks: ``(node, now)`` -> how many things they did (mails queued...).
PERIODIC: tuple[Callable[[Node, datetime], Awaitable[int]], ...] = (loans.remind_overdue,)


@dataclass(frozen=True)
class Listing:
    """A workflow's rows in /admin: ``rows(conn, node, role, today)`` with ``role``
    ``"owner"`` (the inbox: what others ask of this place) or ``"requester"`` (the
    outbox: what this place asked)."""

    name: str
    heading: str
    rows: Callable[[BaseDBAsyncClient, Node, str, date], Awaitable[list[Row]]]


LISTINGS: tuple[Listing, ...] = (
    Listing("loans", loans.HEADING, loans.admin_rows),
    Listing("registrations", registrations.HEADING, registrations.admin_rows),
    Listing("help", help_requests.HEADING, help_requests.admin_rows),
)
