"""The admin event form's recurrence editor, without any script: "does not repeat",
"every N weeks on these days" or "every N months on the same weekday, the last such
weekday or the same date as the first session", until a date or for a number of sessions,
with the dates that have no session.

The first session is the event's ``start``: the monthly choice is read from its date ("the
2nd Tuesday"), so the animator never spells an RRULE. What this builds is the payload's
``recurrence`` (``{"rrule", "exdates"}``); the rules of a series are then checked by
``federation.recurrence`` when the event is published."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from starlette.datastructures import FormData

from federation.errors import SchemaError
from federation.recurrence import (
    MAX_EXDATES,
    MAX_OCCURRENCES,
    SERIES_TZ,
    WEEKDAYS,
    Rule,
    parse_rrule,
    series,
    wire_text,
)

from ..services.objects import raw_text
from .fields import FieldError
from .formatting import parse_moment
from .i18n import N_

#: The choices of the editor, as the form posts them.
FREQUENCIES = (
    ("", N_("Does not repeat")),
    ("weekly", N_("Every week")),
    ("monthly", N_("Every month")),
)
DAY_CHOICES = tuple(
    zip(
        WEEKDAYS,
        (
            N_("Monday"),
            N_("Tuesday"),
            N_("Wednesday"),
            N_("Thursday"),
            N_("Friday"),
            N_("Saturday"),
            N_("Sunday"),
        ),
        strict=True,
    )
)
MONTHLY_CHOICES = (
    ("weekday", N_("The same weekday of the month as the first session (e.g. the 2nd Tuesday)")),
    ("last", N_("The last such weekday of the month (e.g. the last Friday)")),
    ("day", N_("The same date every month (e.g. the 15th)")),
)
#: What the editor's template offers (``recurrence_choices``).
CHOICES = {"frequencies": FREQUENCIES, "days": DAY_CHOICES, "monthly": MONTHLY_CHOICES}
_DAY_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y")
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Parsed:
    """The payload's ``recurrence`` (None: the event does not repeat), the values to show
    again, and the error found (on the whole editor)."""

    recurrence: dict[str, Any] | None
    values: dict[str, Any]
    error: FieldError | None = None


def parse_day(text: str) -> date | None:
    """``2026-06-30``, ``30/06/2026`` or ``30/06/26``; None for anything else."""
    for pattern in _DAY_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def posted_values(form: FormData) -> dict[str, Any]:
    """What the editor shows again after a refused submission."""
    return {
        "freq": _text(form, "recurrence_freq"),
        "interval": _text(form, "recurrence_interval"),
        "days": [day for day in WEEKDAYS if day in set(form.getlist("recurrence_days"))],
        "monthly": _text(form, "recurrence_monthly"),
        "until": _text(form, "recurrence_until"),
        "count": _text(form, "recurrence_count"),
        "exdates": _text(form, "recurrence_exdates").replace("\r\n", "\n"),
    }


def parse_recurrence(form: FormData, start: str | None, end: str | None) -> Parsed:
    """The ``recurrence`` an editor's submission describes, given the event's ``start``
    and ``end`` as the form parsed them (None when missing or wrong: that field says so)."""
    values = posted_values(form)
    if values["freq"] == "" or start is None:
        return Parsed(None, values)
    first = parse_moment(start)
    if first is None:
        return Parsed(None, values)
    try:
        rule = _rule(values, first.astimezone(SERIES_TZ))
        recurrence: dict[str, Any] = {"rrule": rule.text()}
        exdates = _exdates(values["exdates"], start, end, recurrence["rrule"])
    except _Refused as refused:
        return Parsed(None, values, refused.error)
    if exdates:
        recurrence["exdates"] = exdates
    return Parsed(recurrence, values)


class _Refused(Exception):
    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.error = FieldError(message, values)


def _number(text: str, low: int, high: int, message: str) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise _Refused(message, low=low, high=high)
    return int(text)


def _rule(values: Mapping[str, Any], first: datetime) -> Rule:
    interval = _number(
        values["interval"] or "1", 1, 12, N_("Repeat every 1 to 12 weeks or months.")
    )
    until_text, count_text = values["until"], values["count"]
    if until_text and count_text:
        raise _Refused(N_("Give either the date of the last session or a number of sessions."))
    if not until_text and not count_text:
        raise _Refused(
            N_("Say when the series ends: the date of the last session, or a number of sessions.")
        )
    until = count = None
    if count_text:
        message = N_("Give a number of sessions from %(low)s to %(high)s.")
        count = _number(count_text, 1, MAX_OCCURRENCES, message)
    else:
        last_day = parse_day(until_text)
        if last_day is None:
            raise _Refused(N_("Enter the date of the last session, for example 30/06/2026."))
        if last_day < first.date():
            raise _Refused(N_("The last session cannot be before the first one."))
        # Through the end of that day, Paris time.
        until = datetime.combine(last_day, time(23, 59, 59), tzinfo=SERIES_TZ).astimezone(UTC)
    day = first.weekday()
    if values["freq"] == "weekly":
        days = tuple(WEEKDAYS.index(d) for d in values["days"]) or (day,)
        if day not in days:
            raise _Refused(
                N_("The first session (the start above) must fall on one of the chosen days.")
            )
        return Rule("WEEKLY", interval, days, count=count, until=until)
    if values["freq"] != "monthly":
        raise _Refused(N_("Choose a value from the list."))
    choice = values["monthly"] or "weekday"
    if choice == "day":
        return Rule("MONTHLY", interval, month_day=first.day, count=count, until=until)
    if choice == "last":
        if first.day + 7 <= calendar.monthrange(first.year, first.month)[1]:
            raise _Refused(N_("The first session is not on the last such weekday of its month."))
        return Rule("MONTHLY", interval, (day,), month_week=-1, count=count, until=until)
    if choice != "weekday":
        raise _Refused(N_("Choose a value from the list."))
    week = (first.day - 1) // 7 + 1
    if week == 5:
        raise _Refused(
            N_(
                "The first session is the fifth such weekday of its month: "
                "choose “the last such weekday”."
            )
        )
    return Rule("MONTHLY", interval, (day,), month_week=week, count=count, until=until)


def _exdates(text: str, start: str, end: str | None, rrule: str) -> list[str]:
    """The starts of the sessions on the days typed (one session a day at most)."""
    days: list[date] = []
    for word in (w for w in _SEPARATORS.split(text) if w):
        day = parse_day(word)
        if day is None:
            raise _Refused(N_("“%(text)s” is not a date; write for example 17/02/2026."), text=word)
        if day not in days:
            days.append(day)
    if not days:
        return []
    if len(days) > MAX_EXDATES:
        raise _Refused(N_("At most %(count)s dates without a session."), count=MAX_EXDATES)
    payload = {"start": start, "recurrence": {"rrule": rrule}}
    if end is not None:
        payload["end"] = end
    try:
        sessions = series(payload).occurrences
    except SchemaError:
        return []  # the rule itself is refused when published, with its own message
    by_day = {o.start.astimezone(SERIES_TZ).date(): o for o in sessions}
    found = []
    for day in days:
        if day not in by_day:
            raise _Refused(N_("There is no session on %(day)s."), day=day.strftime("%d/%m/%Y"))
        found.append(wire_text(by_day[day].start))
    return found


def recurrence_values(value: Any) -> dict[str, Any]:
    """What the editor shows for a stored ``recurrence`` (empty: does not repeat). A value
    this editor cannot show is kept as its raw text in the dates field, to be redone."""
    empty = {"freq": "", "interval": "1", "days": [], "monthly": "weekday", "until": "",
             "count": "", "exdates": ""}  # fmt: skip
    if not isinstance(value, Mapping):
        return empty
    try:
        rule = parse_rrule(str(value.get("rrule")))
    except SchemaError:
        return {**empty, "exdates": raw_text(value)}
    shown = {**empty, "interval": str(rule.interval)}
    if rule.freq == "WEEKLY":
        shown.update(freq="weekly", days=[WEEKDAYS[d] for d in rule.weekdays])
    else:
        shown["freq"] = "monthly"
        shown["monthly"] = ("day" if rule.month_day is not None
                            else "last" if rule.month_week == -1 else "weekday")  # fmt: skip
    if rule.count is not None:
        shown["count"] = str(rule.count)
    elif rule.until is not None:
        shown["until"] = rule.until.astimezone(SERIES_TZ).date().isoformat()
    exdates = value.get("exdates")
    if isinstance(exdates, list):
        moments = [parse_moment(text) for text in exdates]
        shown["exdates"] = "\n".join(
            m.astimezone(SERIES_TZ).strftime("%d/%m/%Y") if m else raw_text(text)
            for m, text in zip(moments, exdates, strict=True)
        )
    return shown
