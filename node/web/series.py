"""A recurring event in plain words, in the visitor's language: "Tous les mardis de 14 h
à 16 h, du 6 janvier 2026 au 30 juin 2026", its next sessions and its cancelled ones.

The sessions come from ``federation.recurrence`` (the rules every node applies alike); a
series whose data cannot be read (stored by an older version) is described as nothing:
pages then show its ``start`` and ``end`` as for a single event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_date, format_timedelta, get_day_names
from babel.lists import format_list

from federation.errors import SchemaError
from federation.recurrence import SERIES_TZ, Occurrence, Rule, series, wire_text
from federation.timeutil import utc_now

from .formatting import format_period, is_past
from .hours import clock_time
from .i18n import N_, translations

#: How many upcoming sessions an event's page lists.
UPCOMING_SHOWN = 5
#: Weekdays in the plural ("tous les mardis"), Monday first.
WEEKDAY_PLURALS = (
    N_("Mondays"),
    N_("Tuesdays"),
    N_("Wednesdays"),
    N_("Thursdays"),
    N_("Fridays"),
    N_("Saturdays"),
    N_("Sundays"),
)
#: A monthly rule on a weekday ("le dernier vendredi de chaque mois"), by week of the
#: month: every month, and every N months.
MONTH_WEEKS = {
    1: (N_("The first %(day)s of every month"), N_("The first %(day)s, every %(count)s months")),
    2: (N_("The second %(day)s of every month"), N_("The second %(day)s, every %(count)s months")),
    3: (N_("The third %(day)s of every month"), N_("The third %(day)s, every %(count)s months")),
    4: (N_("The fourth %(day)s of every month"), N_("The fourth %(day)s, every %(count)s months")),
    -1: (N_("The last %(day)s of every month"), N_("The last %(day)s, every %(count)s months")),
}


@dataclass(frozen=True)
class SeriesView:
    """What a page says about a recurring event."""

    #: "Tous les mardis de 14 h à 16 h"
    rule: str
    #: "du 6 janvier 2026 au 30 juin 2026" (or the one day)
    span: str
    #: Sessions in all, cancelled ones left out.
    sessions: int
    #: The next sessions not over yet (at most UPCOMING_SHOWN), as RFC 3339 texts.
    upcoming: list[tuple[str, str | None]]
    #: Cancelled sessions, as RFC 3339 texts of their starts.
    cancelled: list[str]
    #: Every session is over.
    over: bool


def _texts(occurrence: Occurrence) -> tuple[str, str | None]:
    """As the API writes sessions (``next_occurrences``): with the Europe/Paris offset
    (as stored when Paris time cannot hold it: year 9999)."""

    def text(moment: datetime) -> str:
        try:
            return wire_text(moment)
        except OverflowError:
            return moment.isoformat()

    end = occurrence.end
    return text(occurrence.start), None if end is None else text(end)


def _rule_words(rule: Rule, language: str) -> str:
    gettext = translations(language).gettext
    if rule.freq == "WEEKLY":
        days = format_list([gettext(WEEKDAY_PLURALS[d]) for d in rule.weekdays], locale=language)
        if rule.interval == 1:
            return gettext("Every %(days)s") % {"days": days}
        return gettext("Every %(count)s weeks, on %(days)s") % {
            "count": rule.interval,
            "days": days,
        }
    if rule.month_week is not None:
        every_month, every_n_months = MONTH_WEEKS[rule.month_week]
        values = {
            "day": str(get_day_names("wide", locale=language)[rule.weekdays[0]]),
            "count": rule.interval,
        }
        return gettext(every_month if rule.interval == 1 else every_n_months) % values
    if rule.month_day == -1:
        if rule.interval == 1:
            return gettext("The last day of every month")
        return gettext("The last day, every %(count)s months") % {"count": rule.interval}
    values = {"day": rule.month_day, "count": rule.interval}
    if rule.month_day == 1:  # "le 1er"
        if rule.interval == 1:
            return gettext("The 1st of every month")
        return gettext("The 1st, every %(count)s months") % values
    if rule.interval == 1:
        return gettext("Day %(day)s of every month") % values
    return gettext("Day %(day)s, every %(count)s months") % values


def _minutes(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def _with_times(rule_text: str, first: Occurrence, language: str) -> str:
    gettext = translations(language).gettext
    start = first.start.astimezone(SERIES_TZ)
    if first.end is None:
        return gettext("%(rule)s at %(time)s") % {
            "rule": rule_text,
            "time": clock_time(_minutes(start), language),
        }
    end = first.end.astimezone(SERIES_TZ)
    if end.date() == start.date():
        return gettext("%(rule)s from %(start)s to %(end)s") % {
            "rule": rule_text,
            "start": clock_time(_minutes(start), language),
            "end": clock_time(_minutes(end), language),
        }
    return gettext("%(rule)s from %(start)s, for %(duration)s") % {
        "rule": rule_text,
        "start": clock_time(_minutes(start), language),
        "duration": format_timedelta(first.end - first.start, threshold=1.1, locale=language),
    }


def series_view(
    item: Mapping[str, Any], language: str, now: datetime | None = None
) -> SeriesView | None:
    """The words for a recurring event (its payload, with or without server fields);
    None for an event without ``recurrence`` or one whose series cannot be read."""
    if not isinstance(item.get("recurrence"), Mapping):
        return None
    try:
        found = series(item)
    except SchemaError:
        return None
    if found.rule is None:
        return None
    gettext = translations(language).gettext
    kept = found.occurrences
    first, last = (o.start.astimezone(SERIES_TZ) for o in (kept[0], kept[-1]))
    if first.date() == last.date():
        span = format_date(first, "long", locale=language)
    else:
        span = gettext("from %(start)s to %(end)s") % {
            "start": format_date(first, "long", locale=language),
            "end": format_date(last, "long", locale=language),
        }
    moment = now or utc_now()
    upcoming = [o for o in kept if (o.end or o.start) > moment][:UPCOMING_SHOWN]
    return SeriesView(
        rule=_with_times(_rule_words(found.rule, language), kept[0], language),
        span=span,
        sessions=len(kept),
        upcoming=[_texts(o) for o in upcoming],
        cancelled=[o.start.isoformat() for o in found.cancelled],
        over=not upcoming,
    )


def event_when(item: Mapping[str, Any], language: str, now: datetime | None = None) -> str:
    """When an event takes place, in one line: its period, or for a series its rule, its
    span and its next session."""
    view = series_view(item, language, now)
    if view is None:
        return format_period(item.get("start"), item.get("end"), language)
    text = f"{view.rule}, {view.span}"
    if view.upcoming:
        start, end = view.upcoming[0]
        gettext = translations(language).gettext
        text += " · " + gettext("next session: %(when)s") % {
            "when": format_period(start, end, language)
        }
    return text


def event_is_past(item: Mapping[str, Any], now: datetime | None = None) -> bool:
    """Whether an event is over: for a series, its last session."""
    if isinstance(item.get("recurrence"), Mapping):
        try:
            last = series(item).occurrences[-1]
        except SchemaError:
            pass
        else:
            return (last.end or last.start) < (now or utc_now())
    return is_past(item.get("end"), item.get("start"), now)
