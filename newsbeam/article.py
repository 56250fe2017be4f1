"""A fetched page to an extracted article: decoding, routing and extraction (pure; runs in the watchdog's child
process, so it imports nothing of Beam)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional
from urllib.parse import urljoin

from newsbeam import dates
from newsbeam.dates import checked_date
from newsbeam.extraction import (
    EmptyText,
    ExtractionSettings,
    NotHtml,
    content_hash,
    decode_html,
    extract_page,
    normalize_paragraphs,
    word_count,
)
from newsbeam.mediatypes import HTML_TYPES
from newsbeam.pdf import extract_pdf, is_pdf
from newsbeam.schemas.records import ExtractedArticle, FetchedPage
from newsbeam.urls import canonicalize_url, is_http_url, registered_domain

def looks_like_html(text: str) -> bool:
    head = text[:2048].lstrip().lower()
    return head.startswith("<") and ("<html" in head or "<!doctype html" in head or "<head" in head
                                     or "<body" in head or "<p" in head or "<div" in head)


def page_canonical_url(stated: Optional[str], final_url: str, listed_canonical: str) -> str:
    """The page's own canonical URL when it stays on the same site (a cross-site canonical is how syndicated and
    scraped copies point at the original: those stay separate articles, grouped as near duplicates instead)."""
    if not stated:
        return listed_canonical
    absolute = urljoin(final_url, stated)
    if not is_http_url(absolute):
        return listed_canonical
    canonical = canonicalize_url(absolute)
    # compared in one spelling: `xn--bcher-kva.de` and `bücher.de` are one site
    if registered_domain(canonical) != registered_domain(canonicalize_url(final_url)):
        return listed_canonical
    return canonical


def _feed_date(item, fetched_at: datetime):
    """The feed's date, when the page states none: (published_at, date_source, local date, offset)."""
    feed_date = dates.believable_listed_date(item.published_at, fetched_at)
    if feed_date is None:
        return None, dates.SOURCE_NONE, None, None
    # feedparser gives UTC and drops the feed's offset; a few minutes ahead of the fetch is the publisher's clock
    feed_date = min(feed_date, fetched_at)
    return feed_date, dates.SOURCE_FEED, feed_date.date(), None


def _pdf_article(page: FetchedPage, settings: ExtractionSettings) -> ExtractedArticle:
    item = page.request.context
    content = extract_pdf(page.body, settings.max_pdf_pages)
    text = normalize_paragraphs(content.text)
    if len(text) < settings.min_text_chars:
        raise EmptyText(f"{len(text)} characters of text in {content.page_count} PDF pages (minimum "
                        f"{settings.min_text_chars}); a scanned PDF has no text layer")
    found = checked_date(content.created_at, dates.SOURCE_PDF, page.fetched_at) if content.created_at else None
    if found is not None:
        published_at, date_source = found.published_at, found.source
        local_date, offset = found.local_date, found.utc_offset_minutes
    else:
        published_at, date_source, local_date, offset = _feed_date(item, page.fetched_at)
    return ExtractedArticle(
        item=item,
        final_url=page.final_url,
        canonical_url=item.canonical_url,
        http_status=page.status,
        content_type="application/pdf",  # whichever alias (or octet-stream) was served: one value to filter on
        encoding="binary",  # PDF text is decoded by its fonts, not by a charset
        fetched_at=page.fetched_at,
        attempts=page.attempts,
        title=content.title or item.title,
        authors=content.authors,
        published_at=published_at,
        date_source=date_source,
        sitename=None,
        description=None,
        tags=(),
        text=text,
        word_count=word_count(text),
        content_hash=content_hash(text),
        published_local_date=local_date,
        published_utc_offset_minutes=offset,
        page_count=content.page_count,
        warc=page.warc,
    )


def extract_article(page: FetchedPage, settings: ExtractionSettings) -> ExtractedArticle:
    """Raises EmptyText (no usable text), NotHtml, or for PDF documents PdfEncrypted, PdfError, PdfTooLarge."""
    if is_pdf(page.content_type, page.body):
        return _pdf_article(page, settings)
    if page.content_type is not None and page.content_type not in HTML_TYPES:
        # admitted by its name only (newsbeam.mediatypes.may_be_page: octet-stream under a .pdf URL)
        raise NotHtml(f"content-type {page.content_type!r} and the body is not a PDF")
    item = page.request.context
    decoded = decode_html(page.body, page.header_charset)
    if page.content_type is None and not looks_like_html(decoded.text):
        raise NotHtml("undeclared content type and the body is not HTML")
    content = extract_page(decoded.text, page.final_url, settings, page.fetched_at)
    published_at, date_source = content.published_at, content.date_source
    local_date, offset = content.published_local_date, content.published_utc_offset_minutes
    if published_at is None:
        published_at, date_source, local_date, offset = _feed_date(item, page.fetched_at)
    return ExtractedArticle(
        item=item,
        final_url=page.final_url,
        canonical_url=page_canonical_url(content.canonical_url, page.final_url, item.canonical_url),
        http_status=page.status,
        content_type=page.content_type,
        encoding=decoded.encoding,
        fetched_at=page.fetched_at,
        attempts=page.attempts,
        title=content.title or item.title,
        authors=content.authors,
        published_at=published_at,
        date_source=date_source,
        sitename=content.sitename,
        description=content.description or None,
        tags=content.tags,
        text=content.text,
        word_count=word_count(content.text),
        content_hash=content_hash(content.text),
        published_local_date=local_date,
        published_utc_offset_minutes=offset,
        warc=page.warc,
    )
