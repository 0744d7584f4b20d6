"""A resource's body (Markdown, up to 200,000 characters) as sanitised HTML.

Wider than a description (text.render_markdown): tables, struck text, images, headings
from level 2 (the page's ``h1`` is the title). Still no raw HTML (``html=False``: a
``<script>`` is shown as text), links only to http(s), mailto, tel or paths of this
site, with ``rel="nofollow noopener noreferrer"``, and images only from the site's own
blobs (``/blobs/<sha256>``): a fiche can show its screenshots, never track its readers.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:  # markdown-it and nh3 are imported by the first document rendered
    from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "s", "del", "a", "ul", "ol", "li", "code", "pre", "blockquote",
    "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
_OWN_BLOB = re.compile(r"/blobs/[0-9a-f]{64}(\?[A-Za-z0-9=%:/_.&-]*)?")


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "breaks": False}).enable(
        ["table", "strikethrough"]
    )


def _attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src" and not _OWN_BLOB.fullmatch(value):
        return None
    return value


def render_document(text: str) -> Markup:
    if not text:
        return Markup("")
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 1)}"
        for child in token.children or ():
            # An image from elsewhere (a tracker, a site that may go away) is shown as
            # its description only.
            if child.type == "image" and not _OWN_BLOB.fullmatch(str(child.attrGet("src"))):
                child.type, child.tag, child.attrs, child.children = "text", "", {}, None
    html = md.renderer.render(tokens, md.options, {})
    import nh3

    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        attribute_filter=_attribute,
    )
    return Markup(clean)
