"""schema.org data in JSON-LD for every public page, so that search engines and other
tools read places, events, lendable equipment, skills and fiches without scraping.

The place is a ``CivicStructure``; an event an ``Event`` (with its location, organizer,
attendance mode and an ``Offer`` to take part; a recurring one its ``eventSchedule``);
lendable equipment a ``Product`` with an ``Offer`` whose business function is lending
(GoodRelations ``LeaseOut``); a skill a ``Service``; a fiche (kind ``resource``) a
``LearningResource``. Pages of lists carry an ``ItemList``. One function per kind
(``KIND_NODES``); a kind without one adds nothing.

Everything here is total: data a builder cannot read gives no JSON-LD for that page
(logged), never a failed page."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from federation.errors import SchemaError
from federation.recurrence import SERIES_TZ, series

from .text import plain_excerpt
from .urls import PublicUrls

log = logging.getLogger(__name__)

SCHEMA = "https://schema.org/"
#: How many objects of one kind a page's JSON-LD describes in full.
MAX_NODES_PER_KIND = 50
#: Longest ``description`` (characters of plain text).
MAX_DESCRIPTION = 1000
AUDIENCE_TYPES = {"public": "Tout public", "animateurs": "Animateurs (formation)"}
LEASE_OUT = "http://purl.org/goodrelations/v1#LeaseOut"
#: schema.org's days of the week, Monday first.
DAYS_OF_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_DAYS = re.compile(rf"^{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*$")
_SPAN = re.compile(r"^(?:[01]\d|2[0-4]):[0-5]\d-(?:[01]\d|2[0-4]):[0-5]\d$")

Node = dict[str, Any]


def compact(value: Any) -> Any:
    """``value`` without the members that say nothing (None, "", [], {})."""
    if isinstance(value, dict):
        kept = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in map(compact, value) if v not in (None, "", [], {})]
    return value


def script_text(data: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">`` element: ``<``, ``>`` and ``&``
    escaped so that no text can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return Markup(text)


def _text(value: Any) -> str:
    return plain_excerpt(str(value), MAX_DESCRIPTION) if isinstance(value, str) else ""


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def opening_hours(text: Any) -> list[str]:
    """OpenStreetMap ``opening_hours`` in schema.org's ``openingHours`` form, one string
    per days and time span (``Mo-Fr 09:00-12:00``); [] when the text uses more than days,
    time spans and ``off`` (public holidays, months, ...), rather than a wrong translation."""
    if not isinstance(text, str):
        return []
    found: list[str] = []
    for rule in (part.strip() for part in text.split(";")):
        if not rule:
            continue
        days, _, spans = rule.partition(" ")
        spans = spans.strip()
        if not _DAYS.match(days):
            return []
        if spans in ("off", "closed"):
            continue
        for span in spans.split(","):
            if not _SPAN.match(span):
                return []
            found.append(f"{days} {span}")
    return found


def address(place: dict[str, Any]) -> Node:
    street = ", ".join(
        str(place[name]) for name in ("adresse", "complement_adresse") if place.get(name)
    )
    return {
        "@type": "PostalAddress",
        "streetAddress": street,
        "postalCode": place.get("code_postal"),
        "addressLocality": place.get("commune"),
        "addressCountry": "FR",
    }


def _geo(place: dict[str, Any]) -> Node | None:
    latitude, longitude = _number(place.get("latitude")), _number(place.get("longitude"))
    if latitude is None or longitude is None:
        return None
    return {"@type": "GeoCoordinates", "latitude": latitude, "longitude": longitude}


def _is_free(place: dict[str, Any]) -> bool:
    return place.get("frais_a_charge") == ["Gratuit"]


def place_id(urls: PublicUrls, origin: str) -> str:
    return urls.place(origin) + "#place"


def place_node(place: dict[str, Any], origin: str, urls: PublicUrls) -> Node:
    emails = [e for e in place.get("courriels") or [] if isinstance(e, str)]
    return {
        "@type": "CivicStructure",
        "@id": place_id(urls, origin),
        "name": place.get("nom"),
        "url": urls.place(origin),
        "description": _text(place.get("presentation_resume") or place.get("presentation_detail")),
        "address": address(place),
        "geo": _geo(place),
        "telephone": place.get("telephone"),
        "email": emails[0] if emails else None,
        "sameAs": [u for u in place.get("site_web") or [] if isinstance(u, str)],
        "openingHours": opening_hours(place.get("horaires")),
        "identifier": place.get("pivot"),
        "publicAccess": True,
        "isAccessibleForFree": True if _is_free(place) else None,
        "amenityFeature": [
            {"@type": "LocationFeatureSpecification", "name": service, "value": True}
            for service in place.get("services") or []
            if isinstance(service, str)
        ],
    }


def _organizer(place: dict[str, Any], origin: str, urls: PublicUrls) -> Node:
    return {"@type": "Organization", "name": place.get("nom"), "url": urls.place(origin)}


def event_schedule(item: dict[str, Any]) -> Node | None:
    """A recurring event's ``Schedule``: how often, which days, from and to which date, at
    which times, in which time zone, and the cancelled sessions. "The last Friday" has no
    schema.org form (``byMonthWeek`` counts from the start of the month): such a rule
    says its frequency and dates only, rather than something wrong."""
    if not isinstance(item.get("recurrence"), dict):
        return None
    try:
        found = series(item)
    except SchemaError:
        return None
    rule = found.rule
    if rule is None:
        return None
    first = found.occurrences[0]
    start = first.start.astimezone(SERIES_TZ)
    end = None if first.end is None else first.end.astimezone(SERIES_TZ)
    last = found.occurrences[-1].start.astimezone(SERIES_TZ)
    from_start = rule.month_week is None or rule.month_week > 0
    return {
        "@type": "Schedule",
        "repeatFrequency": f"P{rule.interval}{'W' if rule.freq == 'WEEKLY' else 'M'}",
        "byDay": [SCHEMA + DAYS_OF_WEEK[day] for day in rule.weekdays] if from_start else None,
        "byMonthWeek": rule.month_week if rule.month_week and rule.month_week > 0 else None,
        "byMonthDay": rule.month_day if rule.month_day and rule.month_day > 0 else None,
        "startDate": start.date().isoformat(),
        "endDate": last.date().isoformat(),
        "startTime": start.strftime("%H:%M:%S"),
        "endTime": end.strftime("%H:%M:%S") if end is not None else None,
        "scheduleTimezone": SERIES_TZ.key,
        "repeatCount": len(found.occurrences),
        "exceptDate": [o.start.astimezone(SERIES_TZ).isoformat() for o in found.cancelled],
    }


def event_node(item: dict[str, Any], place: dict[str, Any], urls: PublicUrls) -> Node:
    origin = item["origin"]
    url = urls.object(origin, "event", item["id"])
    own = item.get("location")
    at_place = not own or str(own).casefold() == str(place.get("nom") or "").casefold()
    if at_place:
        location = {
            "@type": "Place",
            "name": place.get("nom"),
            "address": address(place),
            "geo": _geo(place),
        }
    else:
        location = {
            "@type": "Place",
            "name": own,
            "address": {
                "@type": "PostalAddress",
                "postalCode": place.get("code_postal"),
                "addressLocality": place.get("commune"),
                "addressCountry": "FR",
            },
        }
    offer: Node = {
        "@type": "Offer",
        "url": url,
        "availability": SCHEMA + "InStock",
        "offeredBy": {"@id": place_id(urls, origin)},
    }
    if _is_free(place):
        offer.update(price="0", priceCurrency="EUR")
    audience = AUDIENCE_TYPES.get(str(item.get("audience")))
    return {
        "@type": "Event",
        "@id": url + "#event",
        "name": item.get("title"),
        "url": url,
        "description": _text(item.get("description")),
        "startDate": item["start"],
        "endDate": item.get("end"),
        "eventStatus": SCHEMA + "EventScheduled",
        "eventAttendanceMode": SCHEMA + "OfflineEventAttendanceMode",
        "location": location,
        "organizer": _organizer(place, origin, urls),
        "offers": offer,
        "maximumAttendeeCapacity": _number(item.get("capacity")),
        "audience": {"@type": "Audience", "audienceType": audience} if audience else None,
        "inLanguage": "fr",
        "eventSchedule": event_schedule(item),
    }


def equipment_node(item: dict[str, Any], place: dict[str, Any], urls: PublicUrls) -> Node:
    origin = item["origin"]
    url = urls.object(origin, "equipment", item["id"])
    quantity = _number(item.get("quantity"))
    return {
        "@type": "Product",
        "@id": url + "#product",
        "name": item.get("title"),
        "url": url,
        "description": _text(item.get("description")),
        "category": item.get("category"),
        "offers": {
            "@type": "Offer",
            "url": url,
            "businessFunction": LEASE_OUT,
            "availability": SCHEMA + "InStock",
            "description": _text(item.get("loan_conditions")),
            "inventoryLevel": (
                {"@type": "QuantitativeValue", "value": quantity} if quantity else None
            ),
            "offeredBy": _organizer(place, origin, urls),
        },
    }


def skill_node(item: dict[str, Any], place: dict[str, Any], urls: PublicUrls) -> Node:
    origin = item["origin"]
    url = urls.object(origin, "skill", item["id"])
    return {
        "@type": "Service",
        "@id": url + "#service",
        "name": item.get("title"),
        "url": url,
        "description": _text(item.get("description")),
        "serviceType": item.get("theme"),
        "provider": _organizer(place, origin, urls),
        "areaServed": place.get("commune"),
    }


def resource_node(item: dict[str, Any], place: dict[str, Any], urls: PublicUrls) -> Node:
    origin = item["origin"]
    url = urls.object(origin, "resource", item["id"])
    licence = item.get("licence") or "CC-BY-SA-4.0"
    minutes = _number(item.get("duration_minutes"))
    based_on = item.get("based_on")
    source = None
    if isinstance(based_on, str) and "/" in based_on:
        source_origin, _, source_oid = based_on.rpartition("/")
        source = urls.object(source_origin, "resource", source_oid)
    themes = [t for t in item.get("themes") or [] if isinstance(t, str)]
    return {
        "@type": "LearningResource",
        "@id": url + "#resource",
        "name": item.get("title"),
        "url": url,
        "description": _text(item.get("summary")),
        "license": f"https://spdx.org/licenses/{licence}.html",
        "keywords": ", ".join(themes),
        "about": themes,
        "timeRequired": f"PT{int(minutes)}M" if minutes else None,
        "isBasedOn": source,
        "inLanguage": "fr",
        "author": _organizer(place, origin, urls),
    }


#: One builder per kind of object; a kind without one has no JSON-LD node.
KIND_NODES: dict[str, Callable[[dict[str, Any], dict[str, Any], PublicUrls], Node]] = {
    "event": event_node,
    "equipment": equipment_node,
    "skill": skill_node,
    "resource": resource_node,
}


def object_node(item: dict[str, Any], place: dict[str, Any], urls: PublicUrls) -> Node | None:
    """The node of one object; None for a kind without one, or data it cannot read."""
    build = KIND_NODES.get(str(item.get("kind")))
    if build is None:
        return None
    try:
        return build(item, place, urls)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("no JSON-LD for %s %s: %s", item.get("kind"), item.get("id"), exc)
        return None


def _offer_nodes(
    offers: dict[str, list[dict[str, Any]]], place: dict[str, Any], urls: PublicUrls
) -> list[Node]:
    nodes = []
    for items in offers.values():
        for item in items[:MAX_NODES_PER_KIND]:
            node = object_node(item, place, urls)
            if node is not None:
                nodes.append(node)
    return nodes


def _item_list(items: list[tuple[str, str]]) -> Node:
    return {
        "@type": "ItemList",
        "numberOfItems": len(items),
        "itemListElement": [
            {"@type": "ListItem", "position": index, "url": url, "name": name}
            for index, (url, name) in enumerate(items, 1)
        ],
    }


# -- pages ------------------------------------------------------------------------------


def _home(context: dict[str, Any], urls: PublicUrls) -> list[Node]:
    origin = context["origin"]
    website = {
        "@type": "WebSite",
        "@id": urls.absolute("home") + "#website",
        "url": urls.absolute("home"),
        "name": context.get("site_name"),
        "inLanguage": "fr",
        "potentialAction": {
            "@type": "SearchAction",
            "target": {"@type": "EntryPoint", "urlTemplate": urls.absolute("search") + "?q={q}"},
            "query-input": "required name=q",
        },
    }
    return [
        website,
        place_node(context["place"], origin, urls),
        *_offer_nodes(context["offers"], context["place"], urls),
    ]


def _suspended(context: dict[str, Any]) -> bool:
    """A place frozen after a proven fork: its data is not advertised (as in search)."""
    row = context.get("origin_row")
    return bool(row is not None and row.frozen)


def _place_page(context: dict[str, Any], urls: PublicUrls) -> list[Node]:
    if _suspended(context):
        return []
    origin = context["origin"]
    return [
        place_node(context["place"], origin, urls),
        *_offer_nodes(context["offers"], context["place"], urls),
    ]


def _object_page(context: dict[str, Any], urls: PublicUrls) -> list[Node]:
    if _suspended(context):
        return []
    item, place = context["item"], context["place"]
    node = object_node(item, place, urls)
    nodes = [node] if node else []
    if place:
        nodes.append(place_node(place, item["origin"], urls))
    return nodes


def _search_page(context: dict[str, Any], urls: PublicUrls) -> list[Node]:
    results = context["results"]
    return [
        {
            "@type": "SearchResultsPage",
            "url": urls.absolute("search"),
            "mainEntity": _item_list(
                [(urls.object(r["origin"], r["kind"], r["id"]), r["title"]) for r in results]
            ),
        }
    ]


def _nodes_page(context: dict[str, Any], urls: PublicUrls) -> list[Node]:
    places = [
        {
            "@type": "CivicStructure",
            "name": place["name"],
            "url": urls.place(place["id"]),
            "address": {
                "@type": "PostalAddress",
                "addressLocality": place["commune"],
                "addressCountry": "FR",
            },
        }
        for place in context.get("places", [])
        if place["name"] and not place["frozen"]
    ]
    places += [
        {
            "@type": "CivicStructure",
            "name": listing.get("nom"),
            "address": address(listing),
        }
        for listing in context.get("listings", [])
    ]
    return [
        {
            "@type": "CollectionPage",
            "url": urls.base + context["request_path"],
            "mainEntity": {
                "@type": "ItemList",
                "numberOfItems": len(places),
                "itemListElement": [
                    {"@type": "ListItem", "position": index, "item": place}
                    for index, place in enumerate(places, 1)
                ],
            },
        }
    ]


PAGES: dict[str, Callable[[dict[str, Any], PublicUrls], list[Node]]] = {
    "home.html": _home,
    "place.html": _place_page,
    "object.html": _object_page,
    "resource.html": _object_page,
    "search.html": _search_page,
    "nodes.html": _nodes_page,
    "listings.html": _nodes_page,
}


def for_page(template: str, context: dict[str, Any], urls: PublicUrls) -> Markup | None:
    """The JSON-LD of a page rendered from ``template`` with ``context``; None for pages
    that describe nothing (admin, errors) or whose data cannot be read."""
    build = PAGES.get(template)
    if build is None:
        return None
    try:
        graph = compact(build(context, urls))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("no JSON-LD for %s: %s", template, exc)
        return None
    if not graph:
        return None
    return script_text({"@context": "https://schema.org", "@graph": graph})
