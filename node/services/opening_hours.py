"""Is a place open at a given instant? Its ``horaires`` (OpenStreetMap ``opening_hours``
syntax, as the LaMednum standard asks) evaluated by the maintained parser
``opening-hours-py``, in Europe/Paris time, with the French public holidays.

What is evaluated: weekdays, times (over midnight too), months, dates, weeks, years,
``off``/``closed``/``open``/``unknown``, comments, fallback rules (``||``), ``PH`` with
the French public holidays of the library's embedded calendar (New Year, Easter Monday,
1 and 8 May, Ascension, Whit Monday, 14 July, 15 August, 1 and 11 November, Christmas;
not Good Friday and 26 December, which are holidays only in Alsace-Moselle), and
sunrise/sunset at the place's point. What is not: ``SH`` (school holidays), which the
library has no calendar for: a rule with ``SH`` never applies. Hours that cannot be read
give ``None`` (``unreadable``), never an error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from .geo import Point

if TYPE_CHECKING:  # the library is imported by the first hours read (parse)
    from opening_hours import OpeningHours

log = logging.getLogger(__name__)

#: Hours are typed and evaluated in the local time of the places.
PARIS = ZoneInfo("Europe/Paris")
#: Public holidays (``PH``) are those of France.
COUNTRY = "FR"
#: Parsed expressions kept in memory (one per distinct text and point).
CACHE_SIZE = 4096
MAX_INTERVAL_DAYS = 366
#: The state of a place's hours at an instant, and why ``open`` may be ``None``.
OpenState = Literal["open", "closed", "unknown", "absent", "unreadable"]
_SCHOOL_HOLIDAYS = re.compile(r"\bSH\b")
_SUN = re.compile(r"sunrise|sunset|dawn|dusk")


@dataclass(frozen=True)
class HoursStatus:
    state: OpenState
    #: When the state changes next (local time), if within the library's horizon.
    next_change: datetime | None = None
    #: The comment of the rule that applies (``"sur rendez-vous"``), if any.
    comment: str = ""

    @property
    def open(self) -> bool | None:
        """``True``/``False``, or ``None`` when absent, unreadable or unknown."""
        return {"open": True, "closed": False}.get(self.state)


@lru_cache(maxsize=CACHE_SIZE)
def parse(text: str, point: Point | None = None) -> OpeningHours | None:
    """The parsed expression, or None when it is not valid ``opening_hours``."""
    from opening_hours import OpeningHours

    try:
        return OpeningHours(
            text,
            timezone=PARIS,
            country=COUNTRY,
            coords=point,
            auto_country=False,
            auto_timezone=False,
            # Bounds the work of one evaluation: a change further than a year away
            # counts as no change (next_change None).
            max_interval_days=MAX_INTERVAL_DAYS,
        )
    except Exception:
        return None
    except BaseException as exc:  # a panic of the Rust library is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        log.warning("opening_hours could not parse %r (library panic)", text)
        return None


def readable(text: str | None) -> bool:
    return isinstance(text, str) and bool(text.strip()) and parse(text.strip()) is not None


def uses_school_holidays(text: str) -> bool:
    """True when the hours mention ``SH``, which is not evaluated (see the module doc)."""
    return bool(_SCHOOL_HOLIDAYS.search(text))


def status_at(
    text: str | None,
    at: datetime,
    point: Point | None = None,
    *,
    with_next_change: bool = False,
) -> HoursStatus:
    """The state of the hours ``text`` at the instant ``at`` (timezone-aware)."""
    if not isinstance(text, str) or not text.strip():
        return HoursStatus("absent")
    text = text.strip()
    # The point matters for sun events only; without them, one parse serves every place.
    expression = parse(text, point if _SUN.search(text) else None)
    if expression is None:
        return HoursStatus("unreadable")
    local = at.astimezone(PARIS)
    try:
        state, comment = expression.state(local)
        following = expression.next_change(local) if with_next_change else None
    except Exception:  # pragma: no cover - evaluation errors are not expected
        log.warning("opening_hours could not evaluate %r at %s", text, local)
        return HoursStatus("unreadable")
    from opening_hours import State

    named: OpenState = (
        "open" if state == State.OPEN else "closed" if state == State.CLOSED else "unknown"
    )
    if following is not None:
        following = (
            following.astimezone(PARIS) if following.tzinfo else following.replace(tzinfo=PARIS)
        )
    return HoursStatus(named, following, comment or "")


def normalized(text: str) -> str | None:
    """The library's normal form of the hours (non-overlapping rules), if readable."""
    expression = parse(text.strip())
    if expression is None:
        return None
    try:
        return str(expression.normalize())
    except Exception:  # pragma: no cover - normalisation errors are not expected
        return None
