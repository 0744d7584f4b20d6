"""Whole-number query parameters (``limit``, ``offset``, ``page``), parsed once for every
endpoint and page: digits only, within bounds far below SQLite's 64-bit integers."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import ApiError
from .spec import Param, whole

#: The largest ``offset`` anywhere: more than any node holds, far below 2**63.
MAX_OFFSET = 10_000_000
#: ASCII digits only: ``int()`` would also take "1_000", " ٣ " or 4,000-digit numbers.
_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")


def parse_int(text: str | None, low: int, high: int) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``; None if it is anything else."""
    if text is None or not _WHOLE.fullmatch(text.strip()):
        return None
    value = int(text.strip())
    return value if low <= value <= high else None


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` (``default`` when absent or empty); 422 ``invalid`` with
    ``field`` naming it when it is not a whole number from ``low`` to ``high``."""
    raw = params.get(name)
    if raw is None or not raw.strip():
        return default
    value = parse_int(raw, low, high)
    if value is None:
        raise ApiError(
            422, "invalid", f"{name} must be a whole number from {low} to {high}", field=name
        )
    return value


def paging(params: Mapping[str, str], default_limit: int, max_limit: int) -> tuple[int, int]:
    """``limit`` (1 to ``max_limit``) and ``offset`` (0 to ``MAX_OFFSET``)."""
    limit = int_param(params, "limit", default_limit, 1, max_limit)
    return limit, int_param(params, "offset", 0, 0, MAX_OFFSET)


def paging_params(default_limit: int, max_limit: int) -> tuple[Param, Param]:
    """``limit`` and ``offset`` as ``paging`` reads them, for the OpenAPI document."""
    return (
        Param("limit", whole(1, max_limit, f"Default {default_limit}."), "How many, at most."),
        Param("offset", whole(0, MAX_OFFSET), "How many to skip."),
    )
