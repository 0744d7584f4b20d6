"""What a step of cooperation refuses, with the status and code the JSON API answers
(docs/api.md); /admin shows the message."""

from __future__ import annotations

from typing import Any


class CoopError(Exception):
    status = 409
    code = "conflict"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(CoopError):
    """The request or the thing is unknown to this node (or purged)."""

    status = 404
    code = "not_found"


class Invalid(CoopError):
    """The body breaks a rule (``field``, and ``keyword``/``limit`` when known)."""

    status = 422
    code = "invalid"


class NotAllowed(CoopError):
    """The action is not this node's to take (the borrower approving its own request)."""

    status = 409
    code = "not_allowed"


class WrongState(CoopError):
    """The action is not possible in the conversation's current state."""

    status = 409
    code = "invalid_state"


class Unavailable(CoopError):
    """The item has not the units asked for on these days (``conflicts``)."""

    status = 409
    code = "unavailable"
