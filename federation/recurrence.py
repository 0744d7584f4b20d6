"""Recurring events: the RRULE subset of an event's ``recurrence`` and the list of its
occurrences, computed the same way by every implementation (docs/protocol.md 3.10).

An event with ``recurrence`` is ONE object, a series: ``start``/``end`` are those of its
first session; ``recurrence.rrule`` says how it repeats (RFC 5545 RRULE, restricted to
weekly and monthly rules in one canonical spelling, always with an end: ``COUNT`` or
``UNTIL``); ``recurrence.exdates`` lists cancelled sessions by their start. Sessions keep
the wall-clock time of ``start`` in Europe/Paris across daylight saving changes, as
calendar applications do with ``DTSTART;TZID=Europe/Paris``.

Pure functions, no storage: ``occurrences`` and ``is_occurrence`` are what other modules
use (the listing columns, pages, calendars, and registrations per session). Every
instant they return is an aware ``datetime`` in UTC (convert for display): within one
``ZoneInfo``, Python compares wall clocks and would take the two 02:30 of the last
Sunday of October for one."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from .errors import SchemaError
from .timeutil import parse_ts

#: The time zone whose wall clock the sessions of a series keep.
SERIES_TZ = ZoneInfo("Europe/Paris")
#: A series has at most this many sessions (before exceptions): ten years of weekly ones.
MAX_OCCURRENCES = 520
#: At most this many cancelled sessions (``exdates``), as the schema says.
MAX_EXDATES = 100
#: Weekdays as RRULE spells them, Monday first (``date.weekday()`` order).
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Ordinals of ``BYDAY`` in a monthly rule: first to fourth, or last.
MONTH_WEEKS = (1, 2, 3, 4, -1)
#: Every session starts and ends before this instant (the supported range, years 1900-2199).
END_OF_RANGE = datetime(2200, 1, 1, tzinfo=UTC)

# Whole strings only (``fullmatch``): ``$`` would let a final newline through.
_UNTIL = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")
_NTH_DAY = re.compile(r"(-1|[1-4])(MO|TU|WE|TH|FR|SA|SU)")
_MONTH_DAY = re.compile(r"-1|[1-9]|[12][0-9]|3[01]")
_NUMBER = re.compile(r"[1-9][0-9]{0,2}")


class Occurrence(NamedTuple):
    """One session of an event: its start and end (None when the event has no end), as
    aware datetimes in UTC."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class Rule:
    """A parsed ``rrule``. Exactly one of ``count`` and ``until`` is set; ``weekdays``
    (weekly rules), or one of ``month_week`` (with ``weekdays`` of one day: "the 2nd
    Tuesday") and ``month_day`` (monthly rules)."""

    freq: str
    interval: int
    weekdays: tuple[int, ...] = ()
    month_week: int | None = None
    month_day: int | None = None
    count: int | None = None
    until: datetime | None = None

    def text(self) -> str:
        """The canonical RRULE text (the only spelling the protocol accepts)."""
        parts = [f"FREQ={self.freq}", f"INTERVAL={self.interval}"]
        if self.month_day is not None:
            parts.append(f"BYMONTHDAY={self.month_day}")
        elif self.month_week is not None:
            parts.append(f"BYDAY={self.month_week}{WEEKDAYS[self.weekdays[0]]}")
        else:
            parts.append("BYDAY=" + ",".join(WEEKDAYS[day] for day in self.weekdays))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        elif self.until is not None:
            parts.append("UNTIL=" + self.until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
        return ";".join(parts)


def _fail(message: str, field: str, keyword: str, limit: Any = None) -> SchemaError:
    return SchemaError(message, field, keyword, limit)


_RRULE = "recurrence.rrule"


def parse_rrule(text: str) -> Rule:
    """A ``Rule`` from its canonical text; ``SchemaError`` (field ``recurrence.rrule``)
    for anything else. The schema's pattern says the same; this reads the values."""
    parts = text.split(";") if isinstance(text, str) else []
    pairs = [part.partition("=") for part in parts]
    names = [name for name, _, _ in pairs]
    values = {name: value for name, _, value in pairs}
    bad = _fail(f"{text!r} is not an RRULE of the supported subset", _RRULE, "pattern")
    if len(pairs) != 4 or len(set(names)) != 4 or names[:2] != ["FREQ", "INTERVAL"]:
        raise bad
    freq, interval_text, (by_name, _, by_value), (end_name, _, end_value) = (
        values["FREQ"], values["INTERVAL"], pairs[2], pairs[3]
    )  # fmt: skip
    if not _NUMBER.fullmatch(interval_text) or not 1 <= int(interval_text) <= 12:
        raise bad
    interval = int(interval_text)
    count = until = None
    if end_name == "COUNT" and _NUMBER.fullmatch(end_value) and int(end_value) <= MAX_OCCURRENCES:
        count = int(end_value)
    elif end_name == "UNTIL" and (match := _UNTIL.fullmatch(end_value)):
        try:
            year, month, day, hour, minute, second = map(int, match.groups())
            until = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            raise bad from None
        if not 1900 <= until.year <= 2199:
            raise bad
    else:
        raise bad
    if freq == "WEEKLY" and by_name == "BYDAY":
        days = by_value.split(",")
        if not days or any(day not in WEEKDAYS for day in days):
            raise bad
        weekdays = tuple(WEEKDAYS.index(day) for day in days)
        if list(weekdays) != sorted(set(weekdays)):  # Monday first, each day once
            raise bad
        return Rule(freq, interval, weekdays=weekdays, count=count, until=until)
    if freq == "MONTHLY" and by_name == "BYDAY" and (nth := _NTH_DAY.fullmatch(by_value)):
        day = WEEKDAYS.index(nth.group(2))
        return Rule(freq, interval, (day,), month_week=int(nth.group(1)), count=count, until=until)
    if freq == "MONTHLY" and by_name == "BYMONTHDAY" and _MONTH_DAY.fullmatch(by_value):
        return Rule(freq, interval, month_day=int(by_value), count=count, until=until)
    raise bad


def _monthly_date(rule: Rule, year: int, month: int) -> date | None:
    """The day of ``month`` the monthly ``rule`` names; None when it has none (no 31st
    in April, no 29th in February of a common year): that month has no session."""
    length = calendar.monthrange(year, month)[1]
    if rule.month_day is not None:
        day = rule.month_day if rule.month_day > 0 else length + 1 + rule.month_day
    elif rule.month_week is not None and rule.month_week > 0:
        first = date(year, month, 1).weekday()
        day = 1 + (rule.weekdays[0] - first) % 7 + 7 * (rule.month_week - 1)
    else:
        last = date(year, month, length).weekday()
        day = length - (last - rule.weekdays[0]) % 7
    return date(year, month, day) if 1 <= day <= length else None


def _dates(rule: Rule, first: date) -> Iterator[date]:
    """The local dates the rule names from ``first`` on, in order, until year 2199."""
    if rule.freq == "WEEKLY":
        # Weeks start on Monday (RFC 5545's default WKST=MO): with INTERVAL=2 the weeks
        # of sessions are the week of ``first``, then every other one.
        monday = first - timedelta(days=first.weekday())
        while monday.year <= 2199:
            for weekday in rule.weekdays:
                day = monday + timedelta(days=weekday)
                if day >= first:
                    yield day
            monday += timedelta(weeks=rule.interval)
        return
    month = first.year * 12 + first.month - 1
    while month // 12 <= 2199:
        found = _monthly_date(rule, month // 12, month % 12 + 1)
        if found is not None and found >= first:
            yield found
        month += rule.interval


def local_instant(day: date, clock: time) -> datetime:
    """The instant (UTC) of the wall-clock time ``clock`` on ``day`` in Europe/Paris, as
    RFC 5545 (3.3.5) reads a local time: of a time that occurs twice (the last Sunday of
    October), the first; a time that does not occur (the last Sunday of March, 02:00 to
    02:59) is read with the offset before the gap (02:30 is 03:30 summer time)."""
    # fold=0 is exactly that rule for zoneinfo (PEP 495).
    return datetime.combine(day, clock.replace(fold=0), tzinfo=SERIES_TZ).astimezone(UTC)


def _instant(value: Any, field: str) -> datetime:
    try:
        return parse_ts(str(value)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _fail(
            f"{value!r} is not an RFC 3339 date-time", field, "format", "date-time"
        ) from None


@dataclass(frozen=True)
class Series:
    """Every session of a valid series, in order, and its cancelled sessions."""

    occurrences: tuple[Occurrence, ...]
    cancelled: tuple[Occurrence, ...]
    #: None for an event without ``recurrence``.
    rule: Rule | None


def series(payload: Mapping[str, Any]) -> Series:
    """The sessions of an event payload (a single one without ``recurrence``), checked
    against every rule of docs/protocol.md 3.10; ``SchemaError`` when one is broken."""
    recurrence = payload.get("recurrence")
    end = payload.get("end")
    if recurrence is None:
        return _series(str(payload.get("start")), None if end is None else str(end), None, ())
    if not isinstance(recurrence, Mapping) or not isinstance(recurrence.get("rrule"), str):
        raise _fail("'recurrence' has no 'rrule'", "recurrence", "required", "rrule")
    exdates = recurrence.get("exdates", [])
    if not isinstance(exdates, list) or len(exdates) > MAX_EXDATES:
        raise _fail("'exdates' is a list of date-times", "recurrence.exdates", "type", "array")
    return _series(
        str(payload.get("start")),
        None if end is None else str(end),
        recurrence["rrule"],
        tuple(str(value) for value in exdates),
    )


@lru_cache(maxsize=512)
def _series(start_text: str, end_text: str | None, rrule: str | None,
            exdates: tuple[str, ...]) -> Series:  # fmt: skip
    start = _instant(start_text, "start")
    end = None if end_text is None else _instant(end_text, "end")
    duration = None if end is None else end - start
    if duration is not None and duration <= timedelta(0):
        raise _fail("'end' must be after 'start'", "end", "after", "start")
    if rrule is None:
        return Series((Occurrence(start, end),), (), None)
    rule = parse_rrule(rrule)
    if rule.until is not None and rule.until < start:
        raise _fail("UNTIL must not be before 'start'", _RRULE, "notBefore", "start")
    first = start.astimezone(SERIES_TZ)
    clock = first.time()
    starts: list[datetime] = []
    for day in _dates(rule, first.date()):
        if not starts and day != first.date():
            raise _fail(
                "'start' is not a session of the rule (its day in Europe/Paris does not match)",
                _RRULE,
                "startInRule",
                "start",
            )
        # The first session is 'start' itself (a time that occurs twice keeps its offset).
        instant = start if not starts else local_instant(day, clock)
        if rule.until is not None and instant > rule.until:
            break
        if len(starts) == MAX_OCCURRENCES:
            raise _fail(
                f"a series has at most {MAX_OCCURRENCES} sessions",
                _RRULE,
                "maxOccurrences",
                MAX_OCCURRENCES,
            )
        starts.append(instant)
        if len(starts) == rule.count:
            break
    else:
        if not starts:
            raise _fail("'start' is not a session of the rule", _RRULE, "startInRule", "start")
        if rule.count is not None:
            raise _fail("the sessions go beyond year 2199", _RRULE, "range", "2199")
    every = [Occurrence(s, None if duration is None else s + duration) for s in starts]
    if (every[-1].end or every[-1].start) >= END_OF_RANGE:
        raise _fail("the sessions go beyond year 2199", _RRULE, "range", "2199")
    cancelled = _cancelled(every, exdates)
    kept = tuple(o for o in every if o not in cancelled)
    if not kept:
        raise _fail("every session is cancelled", "recurrence.exdates", "minOccurrences", 1)
    for earlier, later in pairwise(kept):
        if earlier.end is not None and earlier.end > later.start:
            raise _fail("the sessions of a series must not overlap", "end", "overlap", _RRULE)
    return Series(kept, tuple(o for o in every if o in cancelled), rule)


def _cancelled(every: list[Occurrence], exdates: tuple[str, ...]) -> set[Occurrence]:
    by_start = {o.start: o for o in every}
    cancelled: set[Occurrence] = set()
    for index, text in enumerate(exdates):
        field = f"recurrence.exdates.{index}"
        instant = _instant(text, field)
        found = by_start.get(instant)
        if found is None:
            raise _fail(f"{text!r} is not the start of a session of the rule", field,
                        "occurrence", _RRULE)  # fmt: skip
        if found in cancelled:
            raise _fail(f"{text!r} is cancelled twice", field, "uniqueItems")
        cancelled.add(found)
    return cancelled


def occurrences(
    payload: Mapping[str, Any],
    *,
    after: datetime | None = None,
    before: datetime | None = None,
    limit: int = MAX_OCCURRENCES,
) -> list[Occurrence]:
    """The sessions of an event (one for an event without ``recurrence``), cancelled ones
    left out, in order: those not over at ``after`` (ending after it; starting after it
    when they have no end), starting before ``before``, at most ``limit``. ``SchemaError``
    for a payload that breaks a rule of the series (never for a stored, valid one)."""
    found: list[Occurrence] = []
    for occurrence in series(payload).occurrences:
        if after is not None and (occurrence.end or occurrence.start) <= after:
            continue
        if before is not None and occurrence.start >= before:
            break
        if len(found) == limit:
            break
        found.append(occurrence)
    return found


def find_occurrence(payload: Mapping[str, Any], start: str | datetime) -> Occurrence | None:
    """The session of the event that starts at ``start`` (RFC 3339 text, or an aware
    datetime), compared as instants so that any offset names the same session; None when
    there is none (or it is cancelled), for text that is not a date-time, and for a
    payload that breaks a rule. For an event without ``recurrence``: its one session."""
    try:
        instant = _instant(start, "occurrence") if isinstance(start, str) else start
        if instant.tzinfo is None:
            return None
        instant = instant.astimezone(UTC)
        return next((o for o in series(payload).occurrences if o.start == instant), None)
    except (SchemaError, OverflowError):
        return None


def is_occurrence(payload: Mapping[str, Any], start: str | datetime) -> bool:
    """Whether ``start`` is the start of a session of the event that is not cancelled
    (``find_occurrence``): what the organiser checks before seating a registration."""
    return find_occurrence(payload, start) is not None


def wire_text(moment: datetime) -> str:
    """An instant as the reference implementation writes a session's start or end: RFC
    3339 with the Europe/Paris offset of that moment (``2026-01-06T14:00:00+01:00``)."""
    local = moment.astimezone(SERIES_TZ)
    return local.isoformat(timespec="microseconds" if local.microsecond else "seconds")


def period(payload: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The start of the first session and the end (or start) of the last one, in UTC:
    what a listing filters and orders on. ``SchemaError`` as ``series``."""
    kept = series(payload).occurrences
    return kept[0].start, kept[-1].end or kept[-1].start
