"""User text made safe for pages: descriptions (Markdown, sanitised) and search snippets."""

from __future__ import annotations

import html
from functools import cache
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from ..services.objects import raw_text
from ..services.search import MARK_END, MARK_START

if TYPE_CHECKING:  # markdown-it and nh3 are imported by the first text rendered
    from markdown_it import MarkdownIt

#: What a rendered description may contain; everything else is stripped by nh3.
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "a",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "blockquote",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML is not interpreted (html=False); line breaks are kept (breaks=True), so a
    # plain-text description reads as it was typed.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})


def render_markdown(text: object) -> Markup:
    """A description as sanitised HTML. Headings move two levels down (``#`` becomes
    ``h3``) to stay below the page's own ``h1`` and ``h2``. A stored value that is not
    text is shown as its raw text."""
    text = raw_text(text)
    if not text:
        return Markup("")
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
    html = md.renderer.render(tokens, md.options, {})
    import nh3

    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(clean)


def render_snippet(snippet: object) -> Markup:
    """A search snippet, escaped, with the matched words in ``<mark>``."""
    escaped = str(escape(raw_text(snippet)))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def plain_excerpt(text: object, limit: int = 220) -> str:
    """The first words of a description, for lists: the text of its rendered Markdown
    (plain text, escaped again by the template)."""
    import nh3

    flat = " ".join(html.unescape(nh3.clean(render_markdown(text), tags=set())).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"
