"""Events as an iCalendar document (RFC 5545, with the RFC 7986 calendar properties),
written with the ``icalendar`` package, for subscriptions (Thunderbird, phones) and for
"add to my calendar" links.

Times are given in Europe/Paris with its VTIMEZONE; UIDs are stable (origin and object
id), DTSTAMP and LAST-MODIFIED are the time of the object's current version, so that the
same data always gives the same bytes (and the same ETag)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from federation.errors import SchemaError
from federation.recurrence import series
from federation.timeutil import parse_ts

from ..services.published import Published
from ..services.search import LOCAL_TZ
from ..version import NAME, software
from .i18n import N_
from .urls import PublicUrls

if TYPE_CHECKING:  # icalendar is imported by the first calendar asked for
    from icalendar import Event, Timezone

log = logging.getLogger(__name__)

TZID = "Europe/Paris"
#: How often subscribers are asked to refresh (RFC 7986 REFRESH-INTERVAL).
REFRESH = timedelta(hours=1)
#: Control characters have no place in a content line (RFC 5545 3.3.11); line breaks are
#: kept in descriptions only.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BREAKS = re.compile(r"\r\n?|\n")

AUDIENCE_LABELS = {"public": N_("Everyone"), "animateurs": N_("Mediators (training)")}

Gettext = Callable[[str], str]


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """``value`` as text fit for a content line: no control characters, and line breaks
    only where allowed (``multiline``)."""
    text = _CONTROL.sub("", str(value or ""))
    text = _BREAKS.sub("\n" if multiline else " ", text)
    return text.strip()


@cache
def paris_vtimezone() -> Timezone:
    """Europe/Paris since 1996: CEST from the last Sunday of March at 02:00, CET from the
    last Sunday of October at 03:00 (the rules of the EU directive 2000/84/EC)."""
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

    timezone = Timezone()
    timezone.add("tzid", TZID)
    timezone.add("x-lic-location", TZID)
    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("dtstart", datetime(1996, 3, 31, 2, 0))
    daylight.add("rrule", vRecur(freq="YEARLY", bymonth=3, byday="-1SU"))
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("dtstart", datetime(1996, 10, 27, 3, 0))
    standard.add("rrule", vRecur(freq="YEARLY", bymonth=10, byday="-1SU"))
    timezone.add_component(daylight)
    timezone.add_component(standard)
    return timezone


def event_uid(origin: str, oid: str) -> str:
    """Stable and unique across the network: the object id and its origin's key."""
    return f"{oid}.{origin.split(':', 1)[-1]}@papi-node"


def item_url(urls: PublicUrls, item: Published) -> str:
    return urls.object(item.origin, item.kind, item.oid)


def place_address(place: dict[str, Any]) -> str:
    """``1 place Napoléon III, 29200 Brest`` from a place profile (parts may be missing)."""
    town = " ".join(str(place.get(k) or "") for k in ("code_postal", "commune")).strip()
    parts = [str(place.get("adresse") or "").strip(), town]
    return ", ".join(part for part in parts if part)


def at_the_place(item: Published) -> bool:
    """An event without a location of its own, or whose location is its place's name."""
    where = clean_text(item.payload.get("location")).casefold()
    return not where or where == clean_text(item.place.get("nom")).casefold()


def event_location(item: Published) -> str:
    """Where an event takes place, as a calendar or a map application reads it."""
    place = item.place
    if at_the_place(item):
        name = clean_text(place.get("nom"))
        return ", ".join(part for part in (name, clean_text(place_address(place))) if part)
    where = clean_text(item.payload.get("location"))
    commune = clean_text(place.get("commune"))
    if commune and commune.casefold() not in where.casefold():
        where = f"{where}, {commune}"
    return where


def _vevent(item: Published, urls: PublicUrls, gettext: Gettext) -> Event:
    from icalendar import Event

    payload, place = item.payload, item.place
    event = Event()
    event.add("uid", event_uid(item.origin, item.oid))
    stamp = parse_ts(item.updated).astimezone(UTC)
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("sequence", item.seq)
    start = parse_ts(str(payload["start"])).astimezone(LOCAL_TZ)
    event.add("dtstart", start)
    if payload.get("end"):
        end = parse_ts(str(payload["end"])).astimezone(LOCAL_TZ)
        if end > start:
            event.add("dtend", end)
    if "recurrence" in payload:
        _add_recurrence(event, payload)
    event.add("summary", clean_text(item.title) or gettext("Event"))
    url = item_url(urls, item)
    place_name = clean_text(place.get("nom"))
    lines = [clean_text(payload.get("description"), multiline=True)]
    if place_name:
        lines.append(gettext("Organised by %(place)s.") % {"place": place_name})
    lines.append(gettext("Details and contact: %(url)s") % {"url": url})
    event.add("description", "\n\n".join(line for line in lines if line))
    location = event_location(item)
    if location:
        event.add("location", location)
    latitude, longitude = place.get("latitude"), place.get("longitude")
    if at_the_place(item) and _is_number(latitude) and _is_number(longitude):
        event.add("geo", (latitude, longitude))
    event.add("url", url)
    emails = place.get("courriels")
    if place_name and isinstance(emails, list) and emails and isinstance(emails[0], str):
        event.add("organizer", f"mailto:{clean_text(emails[0])}", parameters={"cn": place_name})
    audience = AUDIENCE_LABELS.get(str(payload.get("audience")))
    if audience:
        event.add("categories", [gettext(audience)])
    event.add("status", "CONFIRMED")
    event.add("class", "PUBLIC")
    # Public events do not make their subscribers busy.
    event.add("transp", "TRANSPARENT")
    return event


def _add_recurrence(event: Event, payload: dict[str, Any]) -> None:
    """A series is ONE VEVENT: DTSTART/DTEND of its first session, its RRULE as published
    (UNTIL in UTC, as RFC 5545 requires with a TZID) and its cancelled sessions as EXDATE
    in Europe/Paris time. A series that cannot be read raises ``ValueError``: the event is
    left out rather than shown as a single session."""
    try:
        found = series(payload)
    except SchemaError as exc:
        raise ValueError(exc.message) from None
    if found.rule is None:
        return
    from icalendar import vRecur

    event.add("rrule", vRecur.from_ical(found.rule.text()))
    if found.cancelled:
        event.add("exdate", [o.start.astimezone(LOCAL_TZ) for o in found.cancelled])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build_calendar(
    items: Iterable[Published],
    *,
    name: str,
    description: str,
    source_url: str,
    page_url: str,
    urls: PublicUrls,
    gettext: Gettext,
) -> bytes:
    """A VCALENDAR with one VEVENT per item, in the given order. An item whose data
    cannot be written (a date that does not parse, or that Paris time cannot hold) is left
    out and logged."""
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", f"-//{NAME}//{software()}//FR")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", clean_text(name))
    calendar.add("x-wr-calname", clean_text(name))
    calendar.add("description", clean_text(description))
    calendar.add("x-wr-caldesc", clean_text(description))
    calendar.add("x-wr-timezone", TZID)
    calendar.add("url", page_url)
    calendar.add("source", source_url, parameters={"value": "URI"})
    calendar.add("refresh-interval", REFRESH, parameters={"value": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    calendar.add_component(paris_vtimezone())
    for item in items:
        try:
            calendar.add_component(_vevent(item, urls, gettext))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            log.warning("event %s/%s left out of a calendar: %s", item.origin, item.oid, exc)
    data: bytes = calendar.to_ical()
    return data
