"""Exponential backoff with a cap and jitter: the one copy used for every retry."""

from __future__ import annotations

import random


def backoff_seconds(
    failures: int,
    *,
    base: float = 15.0,
    cap: float = 3600.0,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> float:
    """Delay before the next attempt after ``failures`` consecutive failures (>= 1).

    ``base * 2**(failures-1)``, capped, then spread by +/- ``jitter`` so that nodes that
    failed together do not retry together.
    """
    if failures <= 0:
        return 0.0
    delay = min(cap, base * 2 ** min(failures - 1, 32))
    spread: float = (rng or random).uniform(-jitter, jitter)
    return float(min(cap, delay * (1 + spread)))


def retry_delay(
    failures: int,
    *,
    retry_after: float | None = None,
    cap: float = 3600.0,
    rng: random.Random | None = None,
) -> float:
    """The backoff delay, but never shorter than what the peer asked (``Retry-After``),
    and never longer than ``cap``."""
    delay = backoff_seconds(failures, cap=cap, rng=rng)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(cap, retry_after))
    return delay
