"""Dates and freshness in words, in the visitor's language (opening hours: hours.py).

Babel's dates are imported by the first call, not with this module: the node imports it at
start (through ``mail.compose``), and an idle node does not need babel (0.7 MiB resident,
``idle_rss_mb``, docs/performance.md 10.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from federation.timeutil import parse_ts, utc_now

from ..services.objects import raw_text
from .i18n import translations

#: Time zone of the Pays de Brest: dates are shown and typed in local time.
LOCAL_TZ = ZoneInfo("Europe/Paris")


def parse_moment(value: object) -> datetime | None:
    """An RFC 3339 text (or a datetime) as an aware datetime; None for anything else."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_ts(value)
    except ValueError:
        return None


def local_moment(value: object) -> datetime | None:
    """``value`` in Paris time; None when it is not a moment or when the conversion
    leaves the calendar (9999-12-31 23:59 UTC is already year 10000 in Paris)."""
    moment = parse_moment(value)
    if moment is None:
        return None
    try:
        return moment.astimezone(LOCAL_TZ)
    except (OverflowError, ValueError):
        return None


def _in_words(local: datetime, language: str) -> str:
    from babel.dates import format_date, format_time  # see the module's docstring

    at = translations(language).gettext("%(date)s at %(time)s")
    return at % {
        "date": format_date(local, "full", locale=language),
        "time": format_time(local, "HH:mm", locale=language),
    }


def format_moment(value: object, language: str) -> str:
    """``samedi 5 décembre 2026 à 14:00`` (local time); the raw text of a value that is
    not a moment Paris time can show."""
    local = local_moment(value)
    if local is None:
        return raw_text(value)
    return _in_words(local, language)


def format_period(start: object, end: object, language: str) -> str:
    """An event's period in words; the end date is left out when it is the same day.
    What cannot be read as a moment is shown as it is stored."""
    first = local_moment(start)
    if first is None:
        return " – ".join(raw_text(value) for value in (start, end) if raw_text(value))
    if end is None or end == "":
        return _in_words(first, language)
    last = local_moment(end)
    if last is None:
        return f"{_in_words(first, language)} – {raw_text(end)}"
    from babel.dates import format_date, format_time

    gettext = translations(language).gettext
    if first.date() == last.date():
        return gettext("%(date)s from %(start)s to %(end)s") % {
            "date": format_date(first, "full", locale=language),
            "start": format_time(first, "HH:mm", locale=language),
            "end": format_time(last, "HH:mm", locale=language),
        }
    return gettext("from %(start)s to %(end)s") % {
        "start": _in_words(first, language),
        "end": _in_words(last, language),
    }


def format_day(value: object, language: str) -> str:
    """``5 décembre 2026``: the local day of a moment, or a day (``2026-12-05``, a
    ``date``) as it is."""
    from babel.dates import format_date

    if isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, "long", locale=language)
    if isinstance(value, str) and len(value) == 10:
        try:
            return format_date(date.fromisoformat(value), "long", locale=language)
        except ValueError:
            pass
    local = local_moment(value)
    if local is None:
        return raw_text(value)
    return format_date(local, "long", locale=language)


def freshness(value: object, language: str, now: datetime | None = None) -> str:
    """``il y a 3 minutes``: how long ago something happened."""
    moment = parse_moment(value)
    if moment is None:
        return raw_text(value) or translations(language).gettext("never")
    delta = moment - (now or utc_now())
    if abs(delta.total_seconds()) < 60:
        return translations(language).gettext("just now")
    from babel.dates import format_timedelta

    return format_timedelta(delta, locale=language, add_direction=True, threshold=1.0)


def is_past(end: object, start: object, now: datetime | None = None) -> bool:
    moment = parse_moment(end) or parse_moment(start)
    return moment is not None and moment < (now or utc_now())
