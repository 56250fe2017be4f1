"""Feed sources to feed items: read or fetch each `--feeds` source, expand subscription lists, parse feeds."""
from __future__ import annotations

import logging
from typing import Union

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from newsbeam import reasons
from newsbeam.feedstate import body_hash, conditional_headers
from newsbeam.fetching import FEED_ACCEPT, feed_like, utcnow
from newsbeam.http import FetchSettings
from newsbeam.sources import FEED, Rejected, read_source
from newsbeam.urls import canonicalize_url, is_http_url
from newsbeam.warc import ROLE_FEED
from newsbeam.schemas.records import (
    DeadLetter,
    FeedDocument,
    FeedFetch,
    FeedItem,
    FeedValidator,
    FetchedPage,
    FetchFailure,
    FetchRequest,
)
from newsbeam.transforms.common import DEAD_LETTERS, counter
from newsbeam.transforms.fetch import EXCHANGES, FAILURES, FetchUrls

LOG = logging.getLogger(__name__)
TO_FETCH = "to_fetch"
LISTED = "listed"
VALIDATORS = "validators"


def feed_request(url: str, depth: int, validators) -> FetchRequest:
    """A conditional GET when an earlier run recorded validators for this feed."""
    previous = validators.get(url) if validators else None
    return FetchRequest(url=url, context=FeedFetch(depth=depth, previous=previous),
                        headers=conditional_headers(previous) if previous else ())


def _source_dead_letter(source: str, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(url=source, feed_url=source, stage=reasons.STAGE_SOURCE, reason=reason, detail=detail,
                      failed_at=utcnow())


class _OpenSourceFn(beam.DoFn):
    """A `--feeds` value: URLs go on to be fetched; paths (local or any FileSystems scheme) are read here."""

    def __init__(self):
        self._read = counter("sources.read")

    def process(self, source: str, validators=None):
        if is_http_url(source):
            yield TaggedOutput(TO_FETCH, feed_request(source, 0, validators))
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
    context: FeedFetch = page.request.context
    previous = context.previous
    if page.not_modified and previous is not None:
        validator = FeedValidator(page.request.url, page.etag or previous.etag,
                                  page.last_modified or previous.last_modified, previous.body_sha256, page.fetched_at)
    else:
        validator = FeedValidator(page.request.url, page.etag, page.last_modified, body_hash(page.body),
                                  page.fetched_at)
    return FeedDocument(source=page.request.url, body=page.body, content_type=page.content_type,
                        depth=context.depth, validator=validator, previous=previous,
                        not_modified=page.not_modified)


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
        warc=failure.warc,
    )


def rejected_dead_letter(rejected: Rejected) -> DeadLetter:
    return DeadLetter(url=rejected.url, feed_url=rejected.feed_url, stage=rejected.stage, reason=rejected.reason,
                      detail=rejected.detail, failed_at=utcnow())


class _ReadDocumentFn(beam.DoFn):
    """Feeds become items; subscription lists given by the user are expanded one level (`read_source`)."""

    def __init__(self):
        self._lists = counter("sources.subscription_lists")
        self._listed = counter("sources.listed_feeds")
        self._not_modified = counter("feeds.not_modified")
        self._unchanged = counter("feeds.unchanged")
        self._feeds = counter("feeds.parsed")
        self._items = counter("feeds.items")

    def process(self, document: FeedDocument):
        # Validators are only recorded for feeds, so a list is always read afresh. An answer that says nothing
        # changed (304, or the same bytes behind a new ETag) costs no parsing: its items were handled last time.
        if document.not_modified:
            self._not_modified.inc()
            yield TaggedOutput(VALIDATORS, document.validator)
            return
        if document.previous is not None and document.previous.body_sha256 == document.validator.body_sha256:
            self._unchanged.inc()
            yield TaggedOutput(VALIDATORS, document.validator)
            return
        contents = read_source(document.body, document.source, document.content_type, document.depth)
        for rejected in contents.rejected:
            yield TaggedOutput(DEAD_LETTERS, rejected_dead_letter(rejected))
        if not contents.read:
            return
        if contents.kind == FEED:
            self._feeds.inc()
            self._items.inc(len(contents.items))
            if document.validator is not None:
                yield TaggedOutput(VALIDATORS, document.validator)
            yield from contents.items
            return
        self._lists.inc()
        self._listed.inc(len(contents.listed))
        for url in contents.listed:
            yield TaggedOutput(LISTED, url)


class ReadFeeds(beam.PTransform):
    """`--feeds` values -> {'items': FeedItem, 'dead_letters': DeadLetter, 'validators': FeedValidator}.

    `validators`, if given, is a PCollection of (feed URL, FeedValidator) from earlier runs: those feeds are
    fetched with a conditional GET."""

    def __init__(self, settings: FetchSettings, validators=None, archive: bool = False):
        super().__init__()
        self._settings = settings
        self._validators = validators
        self._archive_role = ROLE_FEED if archive else None

    def expand(self, sources):
        known = beam.pvalue.AsDict(self._validators) if self._validators is not None else None
        opened = sources | "OpenSources" >> beam.ParDo(_OpenSourceFn(), validators=known).with_outputs(
            TO_FETCH, DEAD_LETTERS, main="documents")
        fetched = opened[TO_FETCH] | "FetchSources" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds",
                                                                       self._archive_role)
        given = (
            (opened.documents, fetched.pages | "SourcePagesAsDocuments" >> beam.Map(_document_from_page))
            | "GivenDocuments" >> beam.Flatten()
            | "ReadGiven" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                LISTED, DEAD_LETTERS, VALIDATORS, main="items")
        )
        listed_fetched = (
            given[LISTED]
            | "DistinctListedFeeds" >> beam.Distinct()
            | "ListedFeedRequests" >> beam.Map(feed_request, 1, known)
            | "FetchListedFeeds" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds", self._archive_role)
        )
        listed = (
            listed_fetched.pages
            | "ListedPagesAsDocuments" >> beam.Map(_document_from_page)
            | "ReadListed" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                LISTED, DEAD_LETTERS, VALIDATORS, main="items")
        )
        items = (given.items, listed.items) | "AllItems" >> beam.Flatten()
        validators = (given[VALIDATORS], listed[VALIDATORS]) | "FeedValidators" >> beam.Flatten()
        dead_letters = (
            opened[DEAD_LETTERS],
            fetched[FAILURES] | "SourceFetchDeadLetters" >> beam.Map(_feed_fetch_dead_letter),
            given[DEAD_LETTERS],
            listed_fetched[FAILURES] | "ListedFetchDeadLetters" >> beam.Map(_feed_fetch_dead_letter),
            listed[DEAD_LETTERS],
        ) | "FeedDeadLetters" >> beam.Flatten()
        exchanges = (fetched[EXCHANGES], listed_fetched[EXCHANGES]) | "FeedExchanges" >> beam.Flatten()
        return {"items": items, DEAD_LETTERS: dead_letters, VALIDATORS: validators, EXCHANGES: exchanges}


def url_line(path: str, line: str) -> Union[FeedItem, DeadLetter, None]:
    """One line of a `--urls` file: an item, a dead letter for what is not an http(s) URL, or None (blank,
    comment)."""
    url = line.strip()
    if not url or url.startswith("#"):
        return None
    if not is_http_url(url):
        return DeadLetter(url=url, feed_url=None, stage=reasons.STAGE_SOURCE, reason=reasons.INVALID_URL,
                          detail=f"line of {path} is not an http(s) URL", failed_at=utcnow())
    return FeedItem(url=url, canonical_url=canonicalize_url(url))


class _UrlLineFn(beam.DoFn):
    def __init__(self):
        self._items = counter("sources.direct_urls")

    def process(self, file_and_line):
        parsed = url_line(*file_and_line)
        if isinstance(parsed, DeadLetter):
            yield TaggedOutput(DEAD_LETTERS, parsed)
        elif parsed is not None:
            self._items.inc()
            yield parsed


class ReadUrlLists(beam.PTransform):
    """`--urls` files (one article URL a line) -> {'items': FeedItem, 'dead_letters': DeadLetter}."""

    def expand(self, paths):
        lines = paths | "ReadUrlFiles" >> beam.io.ReadAllFromText(with_filename=True)
        parsed = lines | "ParseUrlLines" >> beam.ParDo(_UrlLineFn()).with_outputs(DEAD_LETTERS, main="items")
        return {"items": parsed.items, DEAD_LETTERS: parsed[DEAD_LETTERS]}
