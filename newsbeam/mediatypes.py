"""Content-Type values (HTTP headers, archived headers, feed enclosures and attachments): the media type and the
charset parameter, read one way everywhere, and which media types an article page may have (pure functions)."""
from __future__ import annotations

from email.message import Message
from typing import Optional
from urllib.parse import urlsplit

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# application/pdf (RFC 8118) and the aliases servers still send: shared-mime-info's (x-pdf, acrobat, nappdf,
# image/pdf) and text/pdf, which browsers list as PDF viewer types. `application/vnd.pdf` is in neither: not taken.
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf", "application/acrobat", "application/nappdf",
                       "image/pdf", "text/pdf"})
# what a server that does not know the file's type says; a PDF by name is downloaded and must then start `%PDF-`
GENERIC_BINARY = "application/octet-stream"


def media_type(value: Optional[str]) -> Optional[str]:
    """'text/HTML; charset=UTF-8' -> 'text/html'; None when the value is absent or names no type."""
    return (value or "").split(";")[0].strip().lower() or None


def charset(value: Optional[str]) -> Optional[str]:
    """The charset parameter, lower-cased ('text/html; charset="UTF-8"' -> 'utf-8'); None when there is none."""
    if not value:
        return None
    message = Message()
    message["content-type"] = value
    found = message.get_param("charset")
    return found.strip().lower() if isinstance(found, str) and found.strip() else None


def is_pdf_type(declared: Optional[str]) -> bool:
    """Whether a media type (as `media_type` returns it) names a PDF document."""
    return declared in PDF_TYPES


def named_pdf(url: str) -> bool:
    """Whether the URL's path names a PDF file (`/report.PDF`, query ignored)."""
    try:
        return urlsplit(url).path.lower().endswith(".pdf")
    except ValueError:
        return False


def may_be_page(declared: Optional[str], url: str) -> bool:
    """Whether a response may be an article page, from its declared media type (None: undeclared, sniffed after
    extraction) and its URL: HTML, a PDF type, or `application/octet-stream` under a `.pdf` name (the body must
    then be a PDF). The one rule for a live fetch and for a response read from a WARC file."""
    return (declared is None or declared in HTML_TYPES or declared in PDF_TYPES
            or (declared == GENERIC_BINARY and named_pdf(url)))
