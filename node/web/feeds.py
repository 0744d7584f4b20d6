"""The newest offers as an Atom feed (RFC 4287), written with ``feedgen``: for feed
readers and for SPIP's or WordPress's syndication.

Entry ids are tag URIs built from the origin and object id, the same on every node of the
network; ``updated`` is the time of the object's current version; the feed's own
``updated`` is its newest entry's, so the same data always gives the same bytes."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from federation.timeutil import parse_ts

from ..services.published import Published
from ..version import NAME, version
from .calendar import AUDIENCE_LABELS, event_location, item_url
from .render import kind_label
from .series import event_when
from .text import plain_excerpt, render_markdown
from .urls import PublicUrls

if TYPE_CHECKING:  # feedgen (and lxml) are imported by the first feed asked for
    from feedgen.entry import FeedEntry

log = logging.getLogger(__name__)

#: XML 1.0 has no place for these characters; lxml refuses them.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class KindFields:
    """Where a kind keeps the texts a feed entry shows: a short summary, a Markdown body,
    and the fields naming its topics (a string or a list of strings)."""

    summary: str = "description"
    body: str = "description"
    topics: tuple[str, ...] = ()


#: One line per kind a feed can hold; any other kind gets the defaults.
KIND_FIELDS = {
    "event": KindFields(),
    "skill": KindFields(topics=("theme", "level")),
    "equipment": KindFields(topics=("category",)),
    "resource": KindFields(summary="summary", body="body", topics=("themes",)),
}

Gettext = Callable[[str], str]


def xml_text(value: Any) -> str:
    return _NOT_XML.sub("", str(value or "")).strip()


def topics_of(item: Published) -> list[str]:
    found: list[str] = []
    for name in KIND_FIELDS.get(item.kind, KindFields()).topics:
        value = item.payload.get(name)
        values = value if isinstance(value, list) else [value]
        found += [xml_text(v) for v in values if isinstance(v, str) and xml_text(v)]
    return found


def _facts(item: Published, language: str, gettext: Gettext) -> list[str]:
    """What a reader should know at a glance: when and where, for whom, where from."""
    payload, place = item.payload, item.place
    facts: list[str] = []
    if item.kind == "event":
        # A series: its rule, its span and its next session.
        when = event_when(payload, language)
        if when:
            facts.append(when)
        where = event_location(item)
        if where:
            facts.append(where)
        audience = AUDIENCE_LABELS.get(str(payload.get("audience")))
        if audience:
            facts.append(gettext(audience))
    facts += topics_of(item)
    if place.get("nom"):
        facts.append(
            gettext("Offered by %(place)s, %(commune)s")
            % {"place": place["nom"], "commune": place.get("commune") or "?"}
        )
    return [xml_text(fact) for fact in facts if xml_text(fact)]


def _entry(item: Published, urls: PublicUrls, language: str, gettext: Gettext) -> FeedEntry:
    fields = KIND_FIELDS.get(item.kind, KindFields())
    updated = parse_ts(item.updated)  # before anything is added: a bad date skips the item
    title = xml_text(item.title) or gettext(kind_label(item.kind))
    facts = _facts(item, language, gettext)
    summary_text = xml_text(plain_excerpt(str(item.payload.get(fields.summary) or "")))
    body = render_markdown(xml_text(item.payload.get(fields.body)))
    url = item_url(urls, item)
    from feedgen.entry import FeedEntry

    entry = FeedEntry()
    entry.id(f"tag:papi-node,2026:{item.origin}/{item.kind}/{item.oid}")
    entry.title(title)
    entry.link(href=url, rel="alternate", type="text/html")
    entry.updated(updated)
    place_name = xml_text(item.place.get("nom"))
    if place_name:
        entry.author({"name": place_name, "uri": urls.place(item.origin)})
    entry.summary(" — ".join([*facts, summary_text] if summary_text else facts) or title)
    facts_html = "".join(f"<li>{_escape(fact)}</li>" for fact in facts)
    entry.content((f"<ul>{facts_html}</ul>" if facts_html else "") + str(body), type="html")
    entry.category(term=item.kind, label=gettext(kind_label(item.kind)))
    for topic in topics_of(item):
        entry.category(term=topic)
    return entry


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_feed(
    items: Iterable[Published],
    *,
    title: str,
    subtitle: str,
    author: str,
    self_url: str,
    page_url: str,
    urls: PublicUrls,
    fallback_updated: str,
    language: str,
    gettext: Gettext,
) -> bytes:
    """An Atom feed of ``items`` (newest first). An item whose data cannot be written is
    left out and logged; the feed is always produced."""
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(xml_text(title))
    feed.subtitle(xml_text(subtitle))
    feed.author({"name": xml_text(author) or NAME})
    feed.link(href=page_url, rel="alternate", type="text/html")
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.language(language)
    feed.generator(NAME, version=version())
    times = []
    for item in items:
        try:
            entry = _entry(item, urls, language, gettext)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s %s/%s left out of a feed: %s", item.kind, item.origin, item.oid, exc)
            continue
        # Added whole, never half-built: an entry that failed above leaves no trace.
        feed.add_entry(entry, order="append")
        times.append(parse_ts(item.updated))
    feed.updated(max(times) if times else parse_ts(fallback_updated))
    data: bytes = feed.atom_str(pretty=True)
    return data
