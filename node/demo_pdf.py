"""Small, valid, deterministic PDF files with text: the attachments of ``papi demo``'s
fiches (and of tests). One A4 page per 45 lines, Helvetica in WinAnsi encoding (French
accents included), no dependency."""

from __future__ import annotations

import textwrap

_PAGE_LINES = 45
_LEFT, _TOP, _LEADING = 56, 786, 16


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252); characters it lacks become '?'."""
    raw = text.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped + b")"


def _page_stream(title: str | None, lines: list[str]) -> bytes:
    parts = [b"BT", f"{_LEFT} {_TOP} Td".encode()]
    if title is not None:
        parts += [b"/F2 18 Tf", _pdf_string(title) + b" Tj", f"0 -{_LEADING * 2} Td".encode()]
    parts += [b"/F1 11 Tf", f"{_LEADING} TL".encode()]
    parts += [_pdf_string(line) + b" '" for line in lines]
    parts.append(b"ET")
    return b"\n".join(parts)


def simple_pdf(title: str, paragraphs: list[str]) -> bytes:
    """A PDF whose first page has ``title`` and whose pages hold ``paragraphs``."""
    lines: list[str] = []
    for paragraph in paragraphs:
        lines.extend(textwrap.wrap(paragraph, 90) or [""])
        lines.append("")
    pages = [lines[i : i + _PAGE_LINES] for i in range(0, max(len(lines), 1), _PAGE_LINES)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, written once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _pdf_string(title) + b" /Producer (papi-node) >>",
    ]
    kids = []
    for number, page in enumerate(pages):
        stream = _page_stream(title if number == 0 else None, page)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R"
            b" /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % content
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(kids)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
