"""Fetched pages to extracted articles (trafilatura), with dead letters for pages without usable text."""
from __future__ import annotations

from datetime import timedelta
from typing import Optional
from urllib.parse import urljoin

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from newsbeam import reasons
from newsbeam.extraction import (
    EmptyText,
    ExtractionSettings,
    NotHtml,
    content_hash,
    decode_html,
    extract_page,
    word_count,
)
from newsbeam.fetching import utcnow
from newsbeam.urls import canonicalize_url, is_http_url, registered_domain
from newsbeam.schemas.records import DeadLetter, ExtractedArticle, FetchedPage
from newsbeam.transforms.common import DEAD_LETTERS, counter, timed

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
    published_at, date_source = content.published_at, "html"
    if published_at is None:
        feed_date = item.published_at
        if feed_date is not None and feed_date <= page.fetched_at + _FEED_DATE_SLACK:
            published_at, date_source = feed_date, "feed"
        else:
            date_source = "none"
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
        warc=page.warc,
    )


class _ExtractFn(beam.DoFn):
    def __init__(self, settings: ExtractionSettings):
        self._settings = settings
        self._extracted = counter("articles.extracted")
        self._time = counter("stage_us.extract")

    def process(self, page: FetchedPage):
        try:
            with timed(self._time):
                article = extract_article(page, self._settings)
        except EmptyText as exc:
            reason, detail = reasons.EMPTY_TEXT, str(exc)
        except NotHtml as exc:
            reason, detail = reasons.NOT_HTML, str(exc)
        except Exception as exc:  # trafilatura/lxml surprises on hostile markup cost one page, not the run
            reason, detail = reasons.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}"
        else:
            self._extracted.inc()
            yield article
            return
        item = page.request.context
        yield TaggedOutput(DEAD_LETTERS, DeadLetter(
            url=item.url, feed_url=item.feed_url, stage=reasons.STAGE_EXTRACT, reason=reason, detail=detail,
            failed_at=utcnow(), http_status=page.status, attempts=page.attempts, warc=page.warc))


class ExtractArticles(beam.PTransform):
    """FetchedPage -> ExtractedArticle (main) and DeadLetter (tag `dead_letters`)."""

    def __init__(self, settings: ExtractionSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pages):
        return pages | "Extract" >> beam.ParDo(_ExtractFn(self._settings)).with_outputs(DEAD_LETTERS, main="articles")
