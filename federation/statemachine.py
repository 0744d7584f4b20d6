"""Declared state machines: the states of a lifecycle and the moves allowed between them.

One mechanism for every lifecycle of the node, whether its state lives in a database row
(an outbound delivery, a peer, a blob fetch) or is derived from signed entries (a loan, a
registration): a ``StrEnum`` of states and a table ``{state: {action: next state}}``.
Every change goes through ``Lifecycle.next``, which refuses a move the table does not
declare, so that a new maintainer reads the whole lifecycle in one place and no code path
can invent a transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class TransitionRefused(ValueError):
    """``action`` is not allowed in ``state``: the caller answers 409 or logs a bug."""

    def __init__(self, lifecycle: str, state: str, action: str) -> None:
        super().__init__(f"{lifecycle}: '{action}' is not allowed in state '{state}'")
        self.lifecycle = lifecycle
        self.state = state
        self.action = action


class Lifecycle(Generic[S]):
    """The states of one kind of thing, and the declared moves between them."""

    def __init__(
        self, name: str, states: type[S], moves: Mapping[S, Mapping[str, S]], *, initial: S
    ) -> None:
        for state, actions in moves.items():
            if not isinstance(state, states) or not all(
                isinstance(target, states) for target in actions.values()
            ):
                raise TypeError(f"{name}: every state must be a {states.__name__}")
        self.name = name
        self.states = states
        self.moves = {state: dict(moves.get(state, {})) for state in states}
        self.initial = initial

    def next(self, state: S, action: str) -> S:
        """The state after ``action``; ``TransitionRefused`` if the table has no such move."""
        try:
            return self.moves[state][action]
        except KeyError:
            raise TransitionRefused(self.name, str(state), action) from None

    def allows(self, state: S, action: str) -> bool:
        return action in self.moves[state]

    def actions(self, state: S) -> list[str]:
        """The actions possible in ``state``, in the table's order (buttons in /admin)."""
        return list(self.moves[state])

    def is_final(self, state: S) -> bool:
        return not self.moves[state]

    def parse(self, value: str) -> S:
        """A stored or received state name as a member; ``ValueError`` if unknown."""
        return self.states(value)
