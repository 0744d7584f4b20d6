"""What the /admin inbox and outbox show of one conversation, whatever its workflow:
built by the workflow (``workflows.LISTINGS``), rendered by one template
(``admin/coop_list.html``), which includes the workflow's own summary (``summary``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from federation.cooperation import Ref

from ..mail.compose import REASONS


@dataclass(frozen=True)
class HistoryLine:
    """One step of the history as a page shows it: its label (message id), when, which
    place (its name), and why (a message id) when the step says."""

    label: str
    at: str
    by: str
    reason: str | None = None


def reason_label(reason: str | None) -> str | None:
    """The words of a decision's reason code (a message id), None if unknown."""
    return REASONS.get(reason) if reason else None


@dataclass(frozen=True)
class Action:
    """A button: the action's name (the last segment of its POST path) and its label
    (an English message id, translated by the page)."""

    name: str
    label: str
    #: Buttons that end a conversation are drawn as such.
    danger: bool = False


@dataclass(frozen=True)
class Row:
    ref: Ref
    title: str
    #: The derived state and its label (message id).
    state: str
    state_label: str
    #: The other place of the conversation (its name, else its origin id).
    other_place: str
    history: list[HistoryLine]
    actions: list[Action]
    #: Route names of the conversation's page and of its actions (``origin``, ``oid``,
    #: and ``action`` for the second).
    page_route: str
    action_route: str
    #: The workflow's summary template and what it shows.
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)
    #: When the last step was taken (RFC 3339).
    updated: str = ""
