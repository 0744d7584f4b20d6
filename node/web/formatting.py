"""Dates and freshness in words, in the visitor's language (opening hours: hours.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, format_timedelta

from federation.timeutil import parse_ts, utc_now

from .i18n import translations

#: Time zone of the Pays de Brest: dates are shown and typed in local time.
LOCAL_TZ = ZoneInfo("Europe/Paris")


def parse_moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return parse_ts(value)
    except ValueError:
        return None


def format_moment(value: str | datetime | None, language: str) -> str:
    """``samedi 5 décembre 2026 à 14:00`` (local time)."""
    moment = parse_moment(value)
    if moment is None:
        return ""
    local = moment.astimezone(LOCAL_TZ)
    at = translations(language).gettext("%(date)s at %(time)s")
    return at % {
        "date": format_date(local, "full", locale=language),
        "time": format_time(local, "HH:mm", locale=language),
    }


def format_period(start: str | None, end: str | None, language: str) -> str:
    """An event's period in words; the end date is left out when it is the same day."""
    begin = parse_moment(start)
    if begin is None:
        return ""
    finish = parse_moment(end)
    if finish is None:
        return format_moment(begin, language)
    first, last = begin.astimezone(LOCAL_TZ), finish.astimezone(LOCAL_TZ)
    gettext = translations(language).gettext
    if first.date() == last.date():
        return gettext("%(date)s from %(start)s to %(end)s") % {
            "date": format_date(first, "full", locale=language),
            "start": format_time(first, "HH:mm", locale=language),
            "end": format_time(last, "HH:mm", locale=language),
        }
    return gettext("from %(start)s to %(end)s") % {
        "start": format_moment(first, language),
        "end": format_moment(last, language),
    }


def format_day(value: str | datetime | None, language: str) -> str:
    moment = parse_moment(value)
    if moment is None:
        return ""
    return format_date(moment.astimezone(LOCAL_TZ), "long", locale=language)


def freshness(value: str | datetime | None, language: str, now: datetime | None = None) -> str:
    """``il y a 3 minutes``: how long ago something happened."""
    moment = parse_moment(value)
    if moment is None:
        return translations(language).gettext("never")
    delta = moment - (now or utc_now())
    if abs(delta.total_seconds()) < 60:
        return translations(language).gettext("just now")
    return format_timedelta(delta, locale=language, add_direction=True, threshold=1.0)


def is_past(end: str | None, start: str | None, now: datetime | None = None) -> bool:
    moment = parse_moment(end) or parse_moment(start)
    return moment is not None and moment < (now or utc_now())
