"""Opening hours in plain words: ``Mo-Fr 09:00-12:00,14:00-17:30; PH off`` becomes
"Du lundi au vendredi de 9 h à 12 h et de 14 h à 17 h 30" and "Fermé les jours fériés".

The common forms are described (months, dates, weekdays, public holidays, time ranges,
``off``/``closed``/``open``, comments, ``24/7``). When a rule replaces an earlier one for
the same days (``Mo-Fr 09:00-18:00; We 14:00-18:00``), reading the rules in order would
mislead, so the library's normal form (non-overlapping rules) is described instead.
Anything else (weeks, ``sunrise``, ``||``, open ends...) gives ``None``: the page then
shows the hours as written. Validity and the open/closed state come from
``node.services.opening_hours``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from babel.dates import format_date, get_day_names, get_month_names
from babel.lists import format_list

from federation.timeutil import utc_now

from ..services.geo import valid_point
from ..services.opening_hours import PARIS, HoursStatus, normalized, readable, status_at
from .i18n import translations

_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)"
_DAY_SELECTOR = re.compile(rf"^{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*$")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_MONTH_SELECTOR = re.compile(rf"^{_MONTH}(?:-{_MONTH})?(?:,{_MONTH}(?:-{_MONTH})?)*$")
_MONTH_DAY = re.compile(r"^(?:0?[1-9]|[12]\d|3[01])$")
_TIME = r"(?:[0-4]?\d):[0-5]\d"
_SPANS = re.compile(rf"^{_TIME}-{_TIME}(?:,{_TIME}-{_TIME})*$")
_COMMENT = re.compile(r'\s*"([^"]*)"\s*$')
_SELECTOR_START = re.compile(rf",\s*(?={_DAY}\b|{_MONTH}\b)")
_RULE_SEPARATOR = re.compile(r';(?=(?:[^"]*"[^"]*")*[^"]*$)')  # outside quotes
DAY_MINUTES = 24 * 60


@dataclass
class _Rule:
    months: tuple[int, ...] | None = None  # 0 = January
    date: tuple[int, int] | None = None  # (month 1-12, day)
    days: frozenset[int] | None = None  # 0 = Monday; None: no weekday selector
    holidays: bool = False
    spans: list[tuple[int, int]] = field(default_factory=list)  # minutes from midnight
    state: str = "open"
    comment: str = ""
    always: bool = False
    #: Joined to the previous rule by ``,``: adds to it instead of replacing it.
    additive: bool = False

    def period(self) -> tuple[object, ...]:
        return (self.months, self.date)

    def overlaps(self, other: _Rule) -> bool:
        if self.holidays and other.holidays:
            return True
        if (self.days is None and not self.holidays) or (other.days is None and not other.holidays):
            return True
        return bool((self.days or frozenset()) & (other.days or frozenset()))


def _expand(selector: str, names: tuple[str, ...]) -> list[int]:
    """``Mo-We,Fr`` -> [0, 1, 2, 4]; ranges may wrap (``Sa-Mo``)."""
    found: list[int] = []
    for part in selector.split(","):
        first, _, last = part.partition("-")
        start = names.index(first)
        end = names.index(last) if last else start
        length = (end - start) % len(names) + 1
        found.extend((start + step) % len(names) for step in range(length))
    return found


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _parse_rule(text: str, additive: bool) -> _Rule | None:
    rule = _Rule(additive=additive)
    comment = _COMMENT.search(text)
    if comment:
        rule.comment = comment.group(1).strip()
        text = text[: comment.start()]
    # "08:30-12:00, 13:30-17:00": spaces after the commas of a list of times.
    chunks = re.sub(r",\s+(?=\d)", ",", text).split()
    stage = 0  # 0: months/date, 1: days, 2: times, 3: modifier; each at most once, in order
    index = 0
    while index < len(chunks):
        chunk = chunks[index]
        if chunk == "24/7" and stage == 0:
            rule.always, stage = True, 3
        elif stage == 0 and _MONTH_SELECTOR.match(chunk):
            following = chunks[index + 1] if index + 1 < len(chunks) else ""
            if chunk in _MONTHS and _MONTH_DAY.match(following):
                rule.date = (_MONTHS.index(chunk) + 1, int(following))
                index += 1
            else:
                rule.months = tuple(sorted(set(_expand(chunk, _MONTHS))))
            stage = 1
        elif stage <= 1 and _DAY_SELECTOR.match(chunk):
            parts = chunk.split(",")
            rule.holidays = "PH" in parts
            weekdays = ",".join(part for part in parts if part != "PH")
            if "PH" in weekdays:
                return None  # a range such as Mo-PH means nothing
            rule.days = frozenset(_expand(weekdays, _DAYS)) if weekdays else frozenset()
            stage = 2
        elif stage <= 2 and _SPANS.match(chunk):
            rule.spans = [
                (_minutes(start), _minutes(end))
                for start, end in (span.split("-") for span in chunk.split(","))
            ]
            stage = 3
        elif stage <= 3 and chunk in ("off", "closed", "open"):
            rule.state = "closed" if chunk in ("off", "closed") else "open"
            stage = 4
        else:
            return None
        index += 1
    if rule.state == "closed" and rule.spans:
        return None  # "Mo 12:00-14:00 off": a closed period inside other hours
    return rule


def _parse(text: str) -> list[_Rule] | None:
    rules: list[_Rule] = []
    for part in _RULE_SEPARATOR.split(text):
        # "Mo-Fr 09:00-12:00, We 14:00-17:00": the second rule adds to the first.
        pieces, start = [], 0
        for match in _SELECTOR_START.finditer(part):
            before = part[start : match.start()].rstrip()
            if before.endswith(('"', "off", "closed", "open")) or before[-1:].isdigit():
                pieces.append(part[start : match.start()])
                start = match.end()
        pieces.append(part[start:])
        for position, piece in enumerate(pieces):
            if not piece.strip():
                if len(pieces) == 1:
                    continue  # "Mo 10:00-12:00;" : an empty last rule
                return None
            rule = _parse_rule(piece.strip(), additive=position > 0)
            if rule is None:
                return None
            rules.append(rule)
    return rules or None


def _replaces_an_earlier_rule(rules: list[_Rule]) -> bool:
    for index, rule in enumerate(rules):
        if rule.additive or rule.state != "open":
            continue
        for earlier in rules[:index]:
            if earlier.state != "open" or earlier.period() != rule.period():
                continue
            if earlier.overlaps(rule) or rule.always or earlier.always:
                return True
    return False


def _runs(values: frozenset[int] | tuple[int, ...], size: int) -> list[tuple[int, int]]:
    """Consecutive values as (first, last) runs, a run through the end of the cycle and
    one from its start being one (``Sa-Mo``, ``Sep-Jun``)."""
    runs: list[tuple[int, int]] = []
    for value in sorted(values):
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == size - 1:
        runs = [(runs[-1][0], runs[0][1]), *runs[1:-1]]
    return runs


class _Words:
    """The phrases of one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.gettext = translations(language).gettext
        days = get_day_names("wide", locale=language)  # 0 = Monday
        self.days = [str(days[index]) for index in range(7)]
        months = get_month_names("wide", locale=language)  # 1 = January
        self.months = [str(months[index + 1]) for index in range(12)]  # 0 = January

    def join(self, parts: list[str]) -> str:
        return format_list(parts, locale=self.language) if parts else ""

    def time(self, minutes: int) -> str:
        if minutes in (0, DAY_MINUTES):
            return self.gettext("midnight")
        hour, minute = divmod(minutes % DAY_MINUTES, 60)
        if minute == 0:
            return self.gettext("%(hour)s:00") % {"hour": hour}
        return self.gettext("%(hour)s:%(minute)s") % {"hour": hour, "minute": f"{minute:02d}"}

    def spans(self, spans: list[tuple[int, int]]) -> str:
        if not spans or spans == [(0, DAY_MINUTES)]:
            return self.gettext("all day")
        return self.join(
            [
                self.gettext("%(start)s to %(end)s")
                % {"start": self.time(start), "end": self.time(end)}
                for start, end in spans
            ]
        )

    def weekdays(self, days: frozenset[int], holidays: bool) -> str:
        if len(days) == 7 and not holidays:
            return self.gettext("every day")
        parts: list[str] = []
        for first, last in _runs(days, 7):
            length = (last - first) % 7 + 1
            if length >= 3:
                parts.append(
                    self.gettext("from %(first)s to %(last)s")
                    % {"first": self.days[first], "last": self.days[last]}
                )
            else:
                parts.extend(
                    self.gettext("on %(day)s") % {"day": self.days[(first + step) % 7]}
                    for step in range(length)
                )
        if holidays:
            parts.append(self.gettext("on public holidays"))
        return self.join(parts)

    def period(self, rule: _Rule) -> str:
        if rule.date:
            month, day = rule.date
            if day == 1:  # "1er janvier"
                when = self.gettext("1 %(month)s") % {"month": self.months[month - 1]}
            else:
                when = format_date(date(2000, month, day), "d MMMM", locale=self.language)
            return self.gettext("on %(day)s") % {"day": when}
        if rule.months:
            parts: list[str] = []
            for first, last in _runs(rule.months, 12):
                if first == last:
                    parts.append(self.gettext("in %(month)s") % {"month": self.months[first]})
                else:
                    parts.append(
                        self.gettext("between %(first)s and %(last)s")
                        % {"first": self.months[first], "last": self.months[last]}
                    )
            return self.join(parts)
        return ""

    def sentence(self, rule: _Rule) -> str:
        if rule.always and rule.state == "open":
            text = self.gettext("Open 24/7")
        else:
            days = (
                self.weekdays(rule.days or frozenset(), rule.holidays)
                if rule.days is not None or rule.holidays
                else ""
            )
            period = self.period(rule)
            if rule.state == "closed":
                when = " ".join(part for part in (period, days) if part)
                text = (self.gettext("Closed %(when)s") % {"when": when}).strip()
            else:
                days = days or ("" if period else self.gettext("every day"))
                rest = " ".join(part for part in (days, self.spans(rule.spans)) if part)
                text = f"{period}, {rest}" if period else rest
        if rule.comment:
            text = f"{text} ({rule.comment})"
        return text[:1].upper() + text[1:]


@cache
def _words(language: str) -> _Words:
    return _Words(language)


def describe_hours(text: str | None, language: str) -> list[str] | None:
    """The hours as sentences in ``language``, one per rule; None when they cannot be
    read, or use syntax beyond the common forms (show them as written then)."""
    if not isinstance(text, str) or not readable(text):
        return None
    rules = _parse(text.strip())
    if rules is None or _replaces_an_earlier_rule(rules):
        form = normalized(text)
        rules = _parse(form) if form else None
        if rules is None:
            return None
    words = _words(language)
    return [words.sentence(rule) for rule in rules]


def status_phrase(status: HoursStatus, at: datetime | None = None, *, language: str) -> str:
    """``Ouvert jusqu'à 12 h``, ``Fermé, ouvre mardi à 9 h 30``, ``Horaires non lisibles``:
    the state at ``at`` (default now) and when it changes, in ``language``."""
    gettext = translations(language).gettext
    words = _words(language)
    if status.state == "absent":
        return gettext("Opening hours not given")
    if status.state == "unreadable":
        return gettext("Unreadable opening hours")
    if status.state == "unknown":
        text = gettext("Opening to be checked")
        return f"{text} ({status.comment})" if status.comment else text
    change = status.next_change
    if change is None:
        phrase = ""
    else:
        local, change = (at or utc_now()).astimezone(PARIS), change.astimezone(PARIS)
        minutes, when = change.hour * 60 + change.minute, change.date()
        if minutes == 0:  # "until midnight" rather than "until Saturday 0:00"
            minutes, when = DAY_MINUTES, when - timedelta(days=1)
        time = words.time(minutes)
        if when == local.date():
            day = ""
        elif (when - local.date()).days < 7:
            day = words.days[when.weekday()]
        else:
            day = format_date(when, "EEEE d MMMM", locale=language)
        key = ("until", "opens")[status.state == "closed"]
        phrase = _CHANGE[key, bool(day)](gettext) % {"time": time, "day": day}
    text = gettext("Open") if status.state == "open" else gettext("Closed")
    if not phrase:
        return text
    return gettext("%(state)s, %(change)s") % {"state": text, "change": phrase}


_CHANGE: dict[tuple[str, bool], Callable[[Callable[[str], str]], str]] = {
    ("until", False): lambda gettext: gettext("until %(time)s"),
    ("until", True): lambda gettext: gettext("until %(day)s at %(time)s"),
    ("opens", False): lambda gettext: gettext("opens at %(time)s"),
    ("opens", True): lambda gettext: gettext("opens %(day)s at %(time)s"),
}


def status_now(place: dict[str, Any], at: datetime | None = None) -> HoursStatus:
    """The state of a place's ``horaires`` now (or at ``at``), with its next change."""
    point = valid_point(place.get("latitude"), place.get("longitude"))
    return status_at(place.get("horaires"), at or utc_now(), point, with_next_change=True)


def clock_time(minutes: int, language: str) -> str:
    """A time of day (minutes after midnight) as people say it: ``14 h``, ``9 h 30``."""
    return _words(language).time(minutes)
