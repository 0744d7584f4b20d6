"""Personal data of a conversation: sealed when a step is written, opened only here.

A requester seals the contact and message of its request to the owner of the thing and
to itself (``seal_for``), so only those two nodes can ever read them, even after this
node is restored from its peers. Opening (``opened``) needs this node's key; callers show
what it returns only to an authenticated person (a Bearer token on the API, a logged-in
session in /admin).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from federation.sealing import SealError, open_sealed, seal

from .errors import Invalid

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)


def seal_for(
    node: Node, other: str, plaintext: Mapping[str, Any], *, field: str = "message"
) -> dict[str, str]:
    """``sealed`` of ``plaintext`` to the other place of the conversation and to this
    node (one box when they are the same). Too large to seal: ``Invalid`` on ``field``."""
    try:
        return seal(plaintext, [other, node.origin])
    except SealError as exc:
        raise Invalid(str(exc), field=field, keyword="maxLength") from None


def opened(node: Node, payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the ``sealed`` member of ``payload`` holds for this node; None when there is
    none, or it is not for us, or it does not open (logged: a forged or damaged box)."""
    sealed = payload.get("sealed") if payload else None
    if not isinstance(sealed, dict) or node.origin not in sealed:
        return None
    try:
        return open_sealed(sealed, node.key)
    except SealError as exc:
        log.warning("a sealed box addressed to this node does not open: %s", exc)
        return None


def text_member(document: Mapping[str, Any] | None, name: str, limit: int = 20_000) -> str:
    """A text member of an opened box ('' if absent or not text), bounded."""
    value = document.get(name) if document else None
    return value[:limit] if isinstance(value, str) else ""
