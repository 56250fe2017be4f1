"""Feed sources to feed items: read or fetch each `--feeds` source, expand subscription lists, parse feeds."""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from newsbeam import reasons
from newsbeam.fetching import FEED_ACCEPT, feed_like, utcnow
from newsbeam.http import FetchSettings
from newsbeam.sources import (
    FEED,
    OPML,
    URL_LIST,
    FeedParseError,
    classify_document,
    parse_feed,
    parse_opml,
    parse_url_list,
)
from newsbeam.urls import canonicalize_url, is_http_url
from schemas.records import DeadLetter, FeedDocument, FeedItem, FetchedPage, FetchFailure, FetchRequest
from transforms.common import DEAD_LETTERS, counter
from transforms.fetch import FAILURES, FetchUrls

LOG = logging.getLogger(__name__)
TO_FETCH = "to_fetch"
LISTED = "listed"


def _source_dead_letter(source: str, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(url=source, feed_url=source, stage=reasons.STAGE_SOURCE, reason=reason, detail=detail,
                      failed_at=utcnow())


class _OpenSourceFn(beam.DoFn):
    """A `--feeds` value: URLs go on to be fetched; paths (local or any FileSystems scheme) are read here."""

    def __init__(self):
        self._read = counter("sources.read")

    def process(self, source: str):
        if is_http_url(source):
            yield TaggedOutput(TO_FETCH, FetchRequest(url=source, context=0))
            return
        try:
            with FileSystems.open(source, compression_type="uncompressed") as handle:
                body = handle.read()
        except Exception as exc:  # any filesystem's error: one dead letter, not a failed run
            yield TaggedOutput(DEAD_LETTERS, _source_dead_letter(source, reasons.SOURCE_UNREADABLE, str(exc)))
            return
        self._read.inc()
        yield FeedDocument(source=source, body=body, depth=0)


def _document_from_page(page: FetchedPage) -> FeedDocument:
    return FeedDocument(source=page.request.url, body=page.body, content_type=page.content_type,
                        depth=page.request.context)


def _feed_fetch_dead_letter(failure: FetchFailure) -> DeadLetter:
    return DeadLetter(
        url=failure.request.url,
        feed_url=failure.request.url,
        stage=reasons.STAGE_FEED,
        reason=reasons.feed_reason(failure.reason),
        detail=failure.detail,
        failed_at=failure.failed_at,
        http_status=failure.http_status,
        attempts=failure.attempts,
    )


class _ClassifyDocumentFn(beam.DoFn):
    """Feeds pass through; subscription lists given by the user are expanded one level (a list inside a list
    is reported, not followed, so a loop of lists cannot run forever)."""

    def __init__(self):
        self._lists = counter("sources.subscription_lists")
        self._listed = counter("sources.listed_feeds")

    def process(self, document: FeedDocument):
        kind = classify_document(document.body)
        if kind == FEED:
            yield document
            return
        if kind in (OPML, URL_LIST):
            if document.depth > 0:
                yield TaggedOutput(DEAD_LETTERS, _source_dead_letter(
                    document.source, reasons.NESTED_LIST_IGNORED,
                    f"a {kind} listed inside a subscription list is not followed"))
                return
            urls = parse_opml(document.body) if kind == OPML else parse_url_list(document.body)
            self._lists.inc()
            for url in urls:
                if is_http_url(url):
                    self._listed.inc()
                    yield TaggedOutput(LISTED, url)
                else:
                    yield TaggedOutput(DEAD_LETTERS, _source_dead_letter(
                        url, reasons.INVALID_URL, f"listed in {document.source}"))
            return
        yield TaggedOutput(DEAD_LETTERS, DeadLetter(
            url=document.source, feed_url=document.source, stage=reasons.STAGE_FEED,
            reason=reasons.FEED_PARSE_ERROR, detail="neither a feed, an OPML list nor a list of URLs",
            failed_at=utcnow()))


class _ParseFeedFn(beam.DoFn):
    def __init__(self):
        self._feeds = counter("feeds.parsed")
        self._items = counter("feeds.items")

    def process(self, document: FeedDocument):
        try:
            _, items, unusable = parse_feed(document.body, document.source, document.content_type)
        except FeedParseError as exc:
            yield TaggedOutput(DEAD_LETTERS, DeadLetter(
                url=document.source, feed_url=document.source, stage=reasons.STAGE_FEED,
                reason=reasons.FEED_PARSE_ERROR, detail=str(exc), failed_at=utcnow()))
            return
        self._feeds.inc()
        self._items.inc(len(items))
        yield from items
        for entry in unusable:
            yield TaggedOutput(DEAD_LETTERS, DeadLetter(
                url=entry, feed_url=document.source, stage=reasons.STAGE_FEED,
                reason=reasons.INVALID_URL, detail="feed entry without an http(s) link", failed_at=utcnow()))


class ReadFeeds(beam.PTransform):
    """`--feeds` values -> {'items': FeedItem, 'dead_letters': DeadLetter}."""

    def __init__(self, settings: FetchSettings):
        super().__init__()
        self._settings = settings

    def expand(self, sources):
        opened = sources | "OpenSources" >> beam.ParDo(_OpenSourceFn()).with_outputs(
            TO_FETCH, DEAD_LETTERS, main="documents")
        fetched = opened[TO_FETCH] | "FetchSources" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds")
        given = (
            (opened.documents, fetched.pages | "SourcePagesAsDocuments" >> beam.Map(_document_from_page))
            | "GivenDocuments" >> beam.Flatten()
            | "ClassifyGiven" >> beam.ParDo(_ClassifyDocumentFn()).with_outputs(LISTED, DEAD_LETTERS, main="feeds")
        )
        listed_fetched = (
            given[LISTED]
            | "DistinctListedFeeds" >> beam.Distinct()
            | "ListedFeedRequests" >> beam.Map(lambda url: FetchRequest(url=url, context=1))
            | "FetchListedFeeds" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds")
        )
        listed = (
            listed_fetched.pages
            | "ListedPagesAsDocuments" >> beam.Map(_document_from_page)
            | "ClassifyListed" >> beam.ParDo(_ClassifyDocumentFn()).with_outputs(LISTED, DEAD_LETTERS, main="feeds")
        )
        parsed = (
            (given.feeds, listed.feeds)
            | "AllFeeds" >> beam.Flatten()
            | "ParseFeeds" >> beam.ParDo(_ParseFeedFn()).with_outputs(DEAD_LETTERS, main="items")
        )
        dead_letters = (
            opened[DEAD_LETTERS],
            fetched[FAILURES] | "SourceFetchDeadLetters" >> beam.Map(_feed_fetch_dead_letter),
            given[DEAD_LETTERS],
            listed_fetched[FAILURES] | "ListedFetchDeadLetters" >> beam.Map(_feed_fetch_dead_letter),
            listed[DEAD_LETTERS],
            parsed[DEAD_LETTERS],
        ) | "FeedDeadLetters" >> beam.Flatten()
        return {"items": parsed.items, DEAD_LETTERS: dead_letters}


class _UrlLineFn(beam.DoFn):
    def __init__(self):
        self._items = counter("sources.direct_urls")

    def process(self, file_and_line):
        path, line = file_and_line
        url = line.strip()
        if not url or url.startswith("#"):
            return
        if not is_http_url(url):
            yield TaggedOutput(DEAD_LETTERS, DeadLetter(
                url=url, feed_url=None, stage=reasons.STAGE_SOURCE, reason=reasons.INVALID_URL,
                detail=f"line of {path} is not an http(s) URL", failed_at=utcnow()))
            return
        self._items.inc()
        yield FeedItem(url=url, canonical_url=canonicalize_url(url))


class ReadUrlLists(beam.PTransform):
    """`--urls` files (one article URL a line) -> {'items': FeedItem, 'dead_letters': DeadLetter}."""

    def expand(self, paths):
        lines = paths | "ReadUrlFiles" >> beam.io.ReadAllFromText(with_filename=True)
        parsed = lines | "ParseUrlLines" >> beam.ParDo(_UrlLineFn()).with_outputs(DEAD_LETTERS, main="items")
        return {"items": parsed.items, DEAD_LETTERS: parsed[DEAD_LETTERS]}
