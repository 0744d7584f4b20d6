"""How far our clock is from our peers', from the ``Date`` headers of their answers.

Entry timestamps are checked against the receiver's clock (``max_future``): a node whose
clock runs ahead writes entries every peer refuses, and one whose clock runs behind
refuses everyone's. Each answer gives one sample, ``our clock - the peer's``; the estimate
is the median of the latest sample of each peer; we are "off" when the median is beyond
the margin and most peers agree on that side.

Between two nodes nobody can tell which clock is wrong, and the harms differ: entries
written with a clock ahead are refused by every peer and block the log behind them for
good, while a clock behind only makes us refuse others' entries until it is fixed. So one
peer is enough to judge us ahead (refusing to write is the safe side), and ``min_peers``
are needed to judge us behind.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


def parse_http_date(value: str) -> float | None:
    """Seconds since the epoch of an HTTP ``Date`` value (RFC 9110), ``None`` if invalid."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


@dataclass(frozen=True)
class SkewEstimate:
    #: Median of ``our clock - peer's clock`` over ``peers`` peers (positive: we are ahead).
    seconds: float
    peers: int
    #: Peers whose sample is beyond the margin on the side of the median.
    agreeing: int


class SkewEstimator:
    """The latest offset of each peer, forgotten after ``max_age`` seconds."""

    def __init__(
        self,
        *,
        max_age: float = 6 * 3600.0,
        max_peers: int = 64,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.max_peers = max_peers
        self._monotonic = monotonic
        self._samples: dict[str, tuple[float, float]] = {}

    def record(self, peer: str, offset: float) -> None:
        """``offset`` = our clock - the peer's clock, in seconds, measured now."""
        self._samples.pop(peer, None)
        self._samples[peer] = (self._monotonic(), offset)
        while len(self._samples) > self.max_peers:
            del self._samples[next(iter(self._samples))]

    def offsets(self) -> list[float]:
        oldest = self._monotonic() - self.max_age
        return [offset for at, offset in self._samples.values() if at >= oldest]

    def estimate(self, margin: float) -> SkewEstimate | None:
        """The median offset and how many peers agree it is beyond ``margin``."""
        offsets = self.offsets()
        if not offsets:
            return None
        median = statistics.median(offsets)
        side = 1.0 if median >= 0 else -1.0
        agreeing = sum(1 for offset in offsets if offset * side > margin)
        return SkewEstimate(median, len(offsets), agreeing)


def clock_is_off(estimate: SkewEstimate | None, margin: float, min_peers: int) -> bool:
    """True when the median is beyond ``margin``, a strict majority of the peers are
    beyond it on the same side, and, if that side is behind, ``min_peers`` answered."""
    return (
        estimate is not None
        and abs(estimate.seconds) > margin
        and estimate.agreeing * 2 > estimate.peers
        and (estimate.seconds > 0 or estimate.peers >= min_peers)
    )
