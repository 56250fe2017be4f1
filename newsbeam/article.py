"""A fetched page to an extracted article: decoding, routing and extraction (pure; runs in the watchdog's child
process, so it imports nothing of Beam)."""
from __future__ import annotations

from datetime import timedelta
from typing import Optional
from urllib.parse import urljoin

from newsbeam import dates
from newsbeam.extraction import (
    ExtractionSettings,
    NotHtml,
    content_hash,
    decode_html,
    extract_page,
    word_count,
)
from newsbeam.urls import canonicalize_url, is_http_url, registered_domain
from newsbeam.schemas.records import ExtractedArticle, FetchedPage

# A feed date this far after the fetch is a publisher's clock or time-zone error, not a publication date.
_FEED_DATE_SLACK = timedelta(hours=1)


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
    if not is_http_url(absolute) or registered_domain(absolute) != registered_domain(final_url):
        return listed_canonical
    return canonicalize_url(absolute)


def extract_article(page: FetchedPage, settings: ExtractionSettings) -> ExtractedArticle:
    """Raises EmptyText (no usable text) or NotHtml; pure apart from trafilatura."""
    item = page.request.context
    decoded = decode_html(page.body, page.header_charset)
    if page.content_type is None and not looks_like_html(decoded.text):
        raise NotHtml("undeclared content type and the body is not HTML")
    content = extract_page(decoded.text, page.final_url, settings, page.fetched_at)
    published_at, date_source = content.published_at, content.date_source
    local_date, offset = content.published_local_date, content.published_utc_offset_minutes
    if published_at is None:
        feed_date = item.published_at
        if feed_date is not None and feed_date <= page.fetched_at + _FEED_DATE_SLACK:
            # feedparser gives UTC and drops the feed's offset
            published_at, date_source, local_date, offset = feed_date, dates.SOURCE_FEED, feed_date.date(), None
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
    )
