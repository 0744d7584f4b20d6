"""Entries a peer sent that we refused, remembered so that the next rounds with that peer
do not download (and log) the same entries again; and entries we pushed back that the
peer refused, not pushed again every round (``outbound``).

A peer keeps offering the entries we lack from our head on, so one refused entry would
come back every round. While it is remembered, a round claims the origin as complete
towards that peer (as for frozen origins): nothing of it is sent until the memory ends.
An entry dated too far ahead becomes acceptable when our clock reaches its date minus the
margin: it is remembered until then; other refusals for ``RETRY_AFTER``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from federation.timeutil import parse_ts, utc_now

#: How long a refused entry (other than a future-dated one) is not asked for again.
RETRY_AFTER = timedelta(hours=1)
#: A future-dated entry is asked for again at most this late (our clock may be wrong).
FUTURE_RETRY_CAP = timedelta(days=2)
#: Bound on what is remembered (origins x peers).
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class Refused:
    seq: int
    code: str
    until: datetime


class RejectionMemory:
    def __init__(self) -> None:
        self._refused: dict[tuple[str, str, bool], Refused] = {}

    def remember(
        self,
        peer: str,
        origin: str,
        seq: int,
        code: str,
        document: Any,
        max_future: timedelta,
        *,
        outbound: bool = False,
    ) -> bool:
        """Remember a refusal; ``True`` if it is new (worth logging), ``False`` if known."""
        now = utc_now()
        until = now + RETRY_AFTER
        if code == "future_timestamp":
            ts = _timestamp(document)
            if ts is not None:
                until = min(now + FUTURE_RETRY_CAP, max(now, ts - max_future))
        known = self._refused.get((peer, origin, outbound))
        self._refused[(peer, origin, outbound)] = Refused(seq, code, until)
        if len(self._refused) > MAX_REMEMBERED:
            del self._refused[next(iter(self._refused))]
        return known is None or known.seq != seq or known.code != code

    def forget(self, origins: set[str]) -> None:
        """Forget the refusals of ``origins`` (they became members, or a recovery changed
        their log): the next round asks for them again."""
        for key in [key for key in self._refused if key[1] in origins]:
            del self._refused[key]

    def skipped_origins(self, peer: str, *, outbound: bool = False) -> dict[str, Refused]:
        """Origins not to ask ``peer`` for now (``outbound``: not to push to it), with
        the refusal."""
        now = utc_now()
        current: dict[str, Refused] = {}
        for key, refused in list(self._refused.items()):
            if refused.until <= now:
                del self._refused[key]
            elif key[0] == peer and key[2] == outbound:
                current[key[1]] = refused
        return current


def _timestamp(document: Any) -> datetime | None:
    header = document.get("header") if isinstance(document, dict) else None
    ts = header.get("ts") if isinstance(header, dict) else None
    if not isinstance(ts, str):
        return None
    try:
        return parse_ts(ts)
    except ValueError:
        return None
