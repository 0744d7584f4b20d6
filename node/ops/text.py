"""Operator messages in French (``papi doctor``, ``papi restore``'s confirmation)."""

from __future__ import annotations

from typing import Any


def t(message: str, **values: Any) -> str:
    """An operator message, in French. They all go through this one function, so that
    they can join the gettext catalogue (node/web/locale) when the whole CLI speaks
    French."""
    return message % values if values else message
